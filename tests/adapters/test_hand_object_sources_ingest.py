"""HOI4D and OakInk2 in the maker's layouts through the real Ray ingest job (one Ray start): each sequence becomes a
high-tier hand episode whose parquet holds MANO-21 keypoints for both hands (evaluated from the makers' MANO
parameters on the test model), its task kept; a HOI4D sequence without its camera trajectory is quarantined naming
the file and field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from adapters.synthetic.hoi4d import Hoi4dSequenceSpec, write_hoi4d
from adapters.synthetic.oakink2 import TASK, OakInk2SequenceSpec, write_oakink2
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from schemas.lerobot import EPISODES_PATH, read_jsonl
from tests.fixtures.mano import write_mano_npz

pytestmark = [pytest.mark.shared_ray, pytest.mark.slow]
BAD = "ZY20210800003/H3/C7/N1/S2/s01/T1"


def test_hoi4d_and_oakink2_are_ingested_with_hand_keypoints(tmp_path: Path) -> None:
    write_mano_npz(tmp_path / "mano")
    hoi4d = write_hoi4d(tmp_path / "hoi4d", [Hoi4dSequenceSpec(), Hoi4dSequenceSpec(BAD)])
    (hoi4d / "HOI4D_annotations" / BAD / "3Dseg" / "output.log").unlink()
    oakink2 = write_oakink2(tmp_path / "oakink2", [OakInk2SequenceSpec()])
    options = {"mano_model_dir": str(tmp_path / "mano")}
    spec = {
        "output": str(tmp_path / "corpus"),
        "parallelism": {"num_cpus": 1},
        "sources": [
            {"name": "hoi4d", "adapter": "hoi4d", "root": str(hoi4d), "options": dict(options)},
            {"name": "oakink2", "adapter": "oakink2", "root": str(oakink2), "options": dict(options)},
        ],
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp_path / "job.yaml"), progress=False)
    assert report.tallies["hoi4d"].written == 1 and report.tallies["oakink2"].written == 1 and report.quarantined == 1
    rows = run_query(tmp_path / "corpus", "SELECT episode_uid, tier, has_action FROM episodes ORDER BY 1").to_pylist()
    assert [r["episode_uid"] for r in rows] == [
        "hoi4d/default/ZY20210800001-H1-C5-N12-S100-s01-T2",
        f"oakink2/default/{OakInk2SequenceSpec().token}",
    ]
    assert all(r["tier"] == "high" and r["has_action"] for r in rows)
    for source in ("hoi4d", "oakink2"):
        (parquet,) = (tmp_path / "corpus" / "datasets" / source / "default" / "data").rglob("*.parquet")
        kp = np.array(pq.read_table(parquet)["observation.hand_keypoints"].to_pylist(), dtype=np.float64)
        assert kp.shape[1:] == (2, 21, 3) and (np.abs(kp).sum(axis=(2, 3)) > 0).all(), source  # both hands, every frame
        span = np.linalg.norm(kp[:, :, 12] - kp[:, :, 0], axis=-1)  # wrist to middle tip
        assert ((span > 0.17) & (span < 0.21)).all(), source
    tasks = run_query(tmp_path / "corpus", "SELECT task FROM episodes ORDER BY episode_uid").to_pylist()
    assert [t["task"] for t in tasks] == ["Bottle: Pour all the water into a mug", TASK]
    (_, line), *_ = read_jsonl(tmp_path / "corpus/datasets/oakink2/default" / EPISODES_PATH)
    hands = [(seg["hand"], seg["start_frame"], seg["end_frame"]) for seg in line["action_config"]]
    assert hands[:2] == [("left", 0, 8), ("right", 2, 12)]  # each hand's primitives, overlapping across hands
    q = run_query(tmp_path / "corpus", "SELECT source, field, file FROM quarantine").to_pylist()
    assert [(r["source"], r["field"]) for r in q] == [("hoi4d", "camera_poses")]
    assert q[0]["file"].endswith(f"{BAD}/3Dseg/output.log")
