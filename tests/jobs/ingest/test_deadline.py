"""A hung encoder in a real ingest job (embedded Ray, real writer): its parse process is killed at the deadline,
the episode retried once, then quarantined with "encoder did not finish in N s"; the job goes on, and the hung
episode is done exactly once (a rerun skips everything). The hang is put in by `hang_hooks`, never by timing."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from ingest.lerobot.writer_dir import STAGING
from jobs.catalog.query import run_query
from jobs.demo.corpus import write_raw_corpus
from jobs.ingest.job import run_ingest
from jobs.runtime.deadline import HUNG_DIR, TIMEOUT_CLASS
from jobs.spec_models import JobSpec
from schemas.corpus import JOB_DIR
from tests.fixtures.discovery import discover
from tests.jobs.ingest import hang_hooks

DEADLINE = {"base_s": 4, "encode_mpx_per_s": 1000, "decode_mpx_per_s": 1000}  # about 4 s per episode


def _spec(raw: dict[str, Path], out: Path) -> JobSpec:
    return JobSpec.model_validate(
        {
            "output": str(out),
            "sources": [{"name": "egodex", "adapter": "egodex", "root": str(raw["egodex"])}],
            "parallelism": {"num_cpus": 2, "deadline": DEADLINE},
        }
    )


@pytest.mark.shared_ray  # tests/ray_scope.py: the hook reads its settings from a file, not the workers' environment
def test_a_hung_encoder_is_killed_retried_once_then_quarantined(tmp_path: Path) -> None:
    raw = write_raw_corpus(tmp_path / "raw", corrupt=False, sources=("egodex",))
    spec = _spec(raw, tmp_path / "corpus")
    items, _ = discover(spec)
    assert len(items) >= 2, "the job must have episodes besides the hung one"
    hung_uid, log = items[0].uid, tmp_path / "hung.log"
    (tmp_path / "hang.json").write_text(json.dumps({"uid": hung_uid, "log": str(log)}))

    report = run_ingest(spec, progress=False, worker=hang_hooks.hanging_process_episode)

    pids = log.read_text().split()
    assert len(pids) == 2 and str(os.getpid()) not in pids, pids  # 2 hung attempts, then quarantined at once
    assert len(set(pids)) == 2, "each hung attempt's parse process must have been killed (a fresh one per attempt)"
    assert not [p for p in pids if os.path.exists(f"/proc/{p}")], "a killed parse process is gone"
    rows = run_query(spec.output, "SELECT episode_uid, stage, error_class, message FROM quarantine").to_pylist()
    assert [(r["episode_uid"], r["stage"], r["error_class"]) for r in rows] == [(hung_uid, "write", TIMEOUT_CLASS)]
    assert re.fullmatch(
        r"encoder did not finish in \d+ s \(2 attempts, each attempt's parse process killed\)", rows[0]["message"]
    )
    tally = report.tallies["egodex"]
    assert (tally.written, tally.quarantined) == (len(items) - 1, 1)  # the job went on
    assert not list(spec.output.glob(f"datasets/*/*/{STAGING}/*")), "killed attempts' staging must be cleaned"
    assert len(list((spec.output / JOB_DIR / HUNG_DIR).glob("*.json"))) == 2

    again = run_ingest(spec, progress=False)  # exactly once: the quarantined episode is done
    assert again.skipped == len(items) and len(log.read_text().split()) == 2
