"""An AgiBot Genie Sim export through the ingest job: the episodes that carry end poses are written at the `low` tier
with their inclusive `action_config` on the 10 Hz grid, the broken ones land in quarantine by name (the job used
to say nothing at all about such a root)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from adapters.synthetic.agibot_genie_sim import Fault, GenieSpec, write_genie_sim
from jobs.catalog.query import run_query
from jobs.ingest import run_ingest
from jobs.spec import load_spec
from schemas.lerobot import EPISODES_PATH, read_jsonl

pytestmark = pytest.mark.shared_ray  # the module's jobs run on one Ray (tests/ray_scope.py)


def test_genie_export_ingested_and_broken_episodes_quarantined(tmp_path: Path) -> None:
    specs = [
        GenieSpec(job="7", episode="1", num_frames=90, videos=False),
        GenieSpec(job="7", episode="2", num_frames=90, videos=False, quat_order="wxyz"),
        GenieSpec(job="7", episode="3", num_frames=90, videos=False, fault=Fault.missing_h5),
        GenieSpec(job="7", episode="4", num_frames=90, videos=False, arm_frames=False),
    ]
    write_genie_sim(tmp_path / "genie", specs)
    spec = {
        "output": str(tmp_path / "corpus"),
        "parallelism": {"num_cpus": 1},
        "sources": [{"name": "genie", "adapter": "agibot", "root": str(tmp_path / "genie")}],
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp_path / "job.yaml"), progress=False)
    assert report.tallies["genie"].written == 2 and report.quarantined == 2

    rows = run_query(tmp_path / "corpus", "SELECT episode_uid, tier FROM episodes ORDER BY 1").to_pylist()
    assert [(r["episode_uid"], r["tier"]) for r in rows] == [
        ("genie/job_7/7/A2D0015AB00061/1", "low"),
        ("genie/job_7/7/A2D0015AB00061/2", "low"),
    ]
    lines = read_jsonl(tmp_path / "corpus/datasets/genie/job_7" / EPISODES_PATH)
    for _, line in lines:
        assert [(s["start_frame"], s["end_frame"]) for s in line["action_config"]] == [(0, 10), (10, 20), (20, 30)]
    q = run_query(tmp_path / "corpus", "SELECT field, file, message FROM quarantine ORDER BY file").to_pylist()
    assert [(r["field"], Path(r["file"]).relative_to(tmp_path / "genie").as_posix()) for r in q] == [
        ("aligned_joints.h5", "7/A2D0015AB00061/3/aligned_joints.h5"),
        ("state/end/orientation", "7/A2D0015AB00061/4/aligned_joints.h5"),
    ]
    assert "cannot be settled" in q[1]["message"]
