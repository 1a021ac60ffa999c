"""Ego4D Goal-Step through the real Ray ingest job: each step and substep is written with its description as the
task and its substeps as `action_config`; each bad entry is a quarantine row naming its file, video and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from adapters.synthetic.ego4d import write_ego4d, write_goalstep
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from schemas.lerobot import EPISODES_PATH, read_jsonl

pytestmark = pytest.mark.shared_ray  # one Ray for the module's jobs (tests/ray_scope.py)


def test_goalstep_steps_and_substeps_are_ingested_and_bad_entries_quarantined(tmp_path: Path) -> None:
    videos = write_ego4d(
        tmp_path / "ego4d", num_videos=1, duration_s=12.0, narrations_per_video=1, bad=["missing_video"]
    )
    gs = write_goalstep(videos, bad=["end_before_start"])
    spec = {
        "output": str(tmp_path / "corpus"),
        "parallelism": {"num_cpus": 1},
        "sources": [
            {"name": "goalstep", "adapter": "ego4d", "root": str(videos.root), "options": {"annotations": ["goalstep"]}}
        ],
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp_path / "job.yaml"), progress=False)
    assert report.tallies["goalstep"].written == len(gs.good) == 8
    assert report.quarantined == len(gs.segments) - len(gs.good) == 10  # 8 of the missing video, 2 end < start

    lines = [line for _, line in read_jsonl(tmp_path / "corpus/datasets/goalstep/default" / EPISODES_PATH)]
    by_id = {line["eidata"]["raw_id"]: line for line in lines}
    assert set(by_id) == {s.raw_id for s in gs.good}
    for seg in gs.good:
        line = by_id[seg.raw_id]
        assert line["tasks"] == [seg.text.strip()]
        texts = [c["action_text"] for c in line.get("action_config") or []]
        assert texts == [t for s, e, t in seg.nested if e > s]  # the bad substep (end < start) is not cut in
        for c in line.get("action_config") or []:
            assert 0 <= c["start_frame"] < c["end_frame"] <= line["length"] and c["level"] == "substep"
        # the goal the segment serves rides in the lineage, as the maker wrote it, with the segment's own place
        note = line["eidata"]["source_annotation"]
        assert note["kind"] == "ego4d_goalstep" and note["level"] == seg.level
        assert note["goal"]["goal_description"] == "Makes the bread" and "segments" not in note["goal"]
        assert note["file"].endswith("goalstep_train.json") and note["field"].startswith("videos[")

    sql = "SELECT episode_uid, field, file, message FROM quarantine ORDER BY 1"
    rows = run_query(tmp_path / "corpus", sql).to_pylist()
    expected = {s.raw_id: s for s in gs.segments if s.bad_field}
    assert {r["episode_uid"] for r in rows} == {f"goalstep/default/{i}" for i in expected}
    for r in rows:
        seg = expected[r["episode_uid"].removeprefix("goalstep/default/")]
        assert seg.uid in r["message"]
        if seg.bad_field == "video":
            assert r["field"] == "video" and r["file"].endswith(f"{seg.uid}.mp4") and "not on disk" in r["message"]
        else:
            assert r["field"] == seg.bad_field and r["file"].endswith("goalstep_train.json")
