"""An encoder fault in a real ingest job (embedded Ray, real writer, real SVT-AV1): the episode's write is done once
more in the same task and the episode is written byte for byte as without the fault, the retry counted in the job's
report; a second fault quarantines it naming both attempts; a source decode error during the same write is
quarantined at once with its own reason. The faults are put in by `fault_hooks`, never by timing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.lerobot.encoder_faults import EncoderFailedTwice
from ingest.lerobot.writer_dir import STAGING
from jobs.catalog.query import run_query
from jobs.demo.corpus import write_raw_corpus
from jobs.ingest.job import run_ingest
from jobs.ingest.report import IngestReport
from jobs.spec_models import JobSpec
from tests.fixtures.discovery import discover
from tests.jobs.ingest import fault_hooks


def _spec(raw: Path, out: Path) -> JobSpec:
    return JobSpec.model_validate(
        {"output": str(out), "sources": [{"name": "egodex", "adapter": "egodex", "root": str(raw)}]}
    )


def _files(root: Path) -> dict[str, bytes]:
    """Every episode file the job wrote (videos, frames), by path inside the output."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for sub in ("videos", "data")
        for p in sorted(root.glob(f"datasets/*/*/{sub}/**/*"))
        if p.is_file()
    }


def _run(tmp: Path, raw: Path, name: str, faults: dict) -> tuple[JobSpec, IngestReport, list[list[str]]]:
    run_dir = tmp / name
    run_dir.mkdir()
    log = run_dir / "faults.log"
    (run_dir / "faults.json").write_text(json.dumps({**faults, "log": str(log)}))
    spec = _spec(raw, run_dir / "corpus")
    report = run_ingest(spec, progress=False, worker=fault_hooks.faulting_process_episode)
    lines = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
    assert not list(spec.output.glob(f"datasets/*/*/{STAGING}/*")), "a failed attempt's staging must be removed"
    return spec, report, lines


# slow: ~70 s, three Ray jobs; make test keeps tests/ingest/lerobot/test_encoder_faults.py (the retry and its
# classification on real refusals)
@pytest.mark.slow
@pytest.mark.shared_ray  # tests/ray_scope.py: the hook reads its settings from a file, not the workers' environment
def test_an_encoder_fault_is_written_over_once_and_a_second_one_quarantines(tmp_path: Path) -> None:
    raw = write_raw_corpus(tmp_path / "raw", scale=2, corrupt=False, sources=("egodex",))["egodex"]
    items, _ = discover(_spec(raw, tmp_path / "probe"))
    assert len(items) >= 3, "the job needs an episode of each case and one left alone"
    uids = [i.uid for i in items]

    ref_spec, ref, _ = _run(tmp_path, raw, "reference", {})
    assert (ref.tallies["egodex"].written, ref.quarantined, ref.tallies["egodex"].encoder_retries) == (len(uids), 0, 0)

    spec, once, lines = _run(tmp_path, raw, "once", {"mux": {uids[0]: 1}})
    assert [(kind, uid) for kind, uid, _ in lines] == [("mux", uids[0])]
    tally = once.tallies["egodex"]
    assert (tally.written, tally.quarantined, tally.encoder_retries) == (len(uids), 0, 1)
    assert "1 episode writes done once more after an encoder fault" in once.table()
    assert _files(spec.output) == _files(ref_spec.output), "the retried episode must equal the unfaulted run's"

    spec, twice, lines = _run(tmp_path, raw, "twice", {"mux": {uids[0]: 2}, "decode": [uids[1]]})
    assert sorted((kind, uid) for kind, uid, _ in lines) == [("decode", uids[1]), ("mux", uids[0]), ("mux", uids[0])]
    assert len({pid for kind, _, pid in lines if kind == "mux"}) == 1, "the second attempt runs in the same task"
    rows = run_query(spec.output, "SELECT episode_uid, stage, error_class, message FROM quarantine ORDER BY 1")
    got = {r["episode_uid"]: r for r in rows.to_pylist()}
    assert set(got) == {uids[0], uids[1]}
    twice_row, decode_row = got[uids[0]], got[uids[1]]
    assert (twice_row["stage"], twice_row["error_class"]) == ("write", EncoderFailedTwice.__name__)
    msg = twice_row["message"]
    assert msg.startswith("encoder failed twice: first attempt: ") and msg.count("Invalid argument") == 2, msg
    assert "; second attempt: " in msg and "observation.images" in msg, msg  # each names its file
    assert (decode_row["stage"], decode_row["error_class"]) == ("write", "InvalidDataError"), decode_row
    tally = twice.tallies["egodex"]
    assert (tally.written, tally.quarantined, tally.encoder_retries) == (len(uids) - 2, 2, 1)  # the decode: no retry

    again = run_ingest(spec, progress=False)  # exactly once: both quarantined episodes are done
    assert again.skipped == len(uids)
