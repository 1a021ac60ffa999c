"""Ego-Exo4D ego-pose takes through the ingest job (Ray, the writer, the catalog): both takes written with hand
keypoints for both hands in every written frame (the frames where a hand was not annotated are not written with
invented keypoints), the manual take's Aria video written beside them, and a take whose sides are swapped
quarantined naming the annotation file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from tests.adapters.egoexo4d_egopose.test_adapter import swap_sides
from tests.fixtures.writers.egoexo4d_egopose import take_entry, write_egopose, write_take

SWAPPED = "0a1b2c3d-cccc-4000-8000-000000000003"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("egopose_job")
    raw = tmp / "raw"
    write_egopose(raw)
    write_take(raw, SWAPPED, np.random.default_rng(4), np.arange(24) * 3, "automatic", {}, {})
    swap_sides(raw / f"annotations/ego_pose/train/hand/automatic/{SWAPPED}.json")
    takes = [*json.loads((raw / "takes.json").read_text()), take_entry(SWAPPED, "take_c_swapped")]
    (raw / "takes.json").write_text(json.dumps(takes))
    spec = {
        "output": str(tmp / "corpus"),
        "parallelism": {"num_cpus": 1},
        "sources": [{"name": "egopose", "adapter": "egoexo4d_egopose", "root": str(raw)}],
    }
    (tmp / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp / "job.yaml"), progress=False)
    assert report.tallies["egopose"].written == 2 and report.quarantined == 1
    return tmp / "corpus"


@pytest.mark.shared_ray  # the job runs on the session's one Ray (tests/ray_scope.py)
def test_hand_keypoints_and_video_written_and_the_swapped_take_quarantined(corpus: Path) -> None:
    sql = "SELECT episode_uid, has_hands, dataset, episode_index, cameras FROM episodes ORDER BY 1"
    rows = run_query(corpus, sql).to_pylist()
    assert [r["episode_uid"].split("/")[1] for r in rows] == ["automatic", "manual"]
    for r in rows:
        assert r["has_hands"]
        data = corpus / r["dataset"] / "data/chunk-000" / f"episode_{r['episode_index']:06d}.parquet"
        kp = pq.read_table(data).column("observation.hand_keypoints").to_pylist()
        kp = np.array(kp, dtype=np.float64)  # (N,2,21,3)
        valid = np.array(pq.read_table(data).column("observation.hand_valid").to_pylist(), dtype=bool)
        assert kp.shape[1:] == (2, 21, 3) and len(kp) >= 10 and valid.shape == (len(kp), 2)
        there = np.abs(kp).sum(axis=(2, 3)) > 0
        assert np.isfinite(kp).all() and (there == valid).all() and valid.any(axis=1).all()  # each hand where tracked
    assert "head" in str(rows[1]["cameras"])  # the manual take's Aria video
    [q] = run_query(corpus, "SELECT episode_uid, field, file, message FROM quarantine").to_pylist()
    assert q["episode_uid"] == f"egopose/automatic/train/{SWAPPED}" and q["field"] == "left_wrist"
    assert q["file"].endswith(f"hand/automatic/{SWAPPED}.json") and "left and right swapped" in q["message"]
