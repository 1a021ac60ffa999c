"""The Ray ingest job, for real (embedded Ray, real writer, real DuckDB): quarantine, exactly-once resume after a
SIGKILL of the driver, a killed worker, one job per output, bad specs. Crashes are put at chosen points by the hooks
of `crash_hooks.py` (workers passed to `run_ingest`), never by timing; the commit order itself is tested in
`test_order.py`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import jobs.cli
from ingest.lerobot.writer_dir import STAGING
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.ingest.task import EpisodeResult, EpisodeTask
from jobs.runtime.job_lock import JobLock
from jobs.spec import load_spec
from tests.fixtures.corpus import verdicts_disagree
from tests.fixtures.discovery import discover
from tests.jobs.demo_reference import demo_spec, hashes
from tests.jobs.ingest import crash_hooks
from tests.processes import group

REPO = Path(__file__).resolve().parents[3]

ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "jobs.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=timeout, check=False)


@pytest.mark.shared_ray  # tests/ray_scope.py
def test_every_corrupt_episode_is_quarantined_with_its_reason(reference: Path) -> None:
    q = run_query(reference, "SELECT source, stage, error_class, message FROM quarantine ORDER BY ALL").to_pylist()
    by_source = {r["source"] for r in q}
    assert by_source == {"bridge", "agibot", "ego4d", "egodex", "lerobot"}
    msgs = " | ".join(r["message"] for r in q)
    for needle in ("crc mismatch", "action longer than state", "unreadable mp4", "unreadable parquet"):
        assert needle in msgs.lower(), needle
    written = run_query(reference, "SELECT source, count(*) AS n FROM episodes GROUP BY ALL ORDER BY ALL")
    assert dict(zip(*written.to_pydict().values(), strict=True)) == {
        "agibot": 2,
        "bridge": 2,
        "ego4d": 3,
        "egodex": 2,
        "lerobot": 2,
    }


@pytest.mark.shared_ray  # tests/ray_scope.py
def test_the_demo_corpus_keeps_each_verdict_and_its_tiers_are_theirs(reference: Path) -> None:
    """Issue 69, "Done when": on the demo corpus ingested by the job, every episode keeps its verdicts and the tier
    computed again from them is the tier it stores (and the catalog's, which refuses one that is not); issue 68: each
    sentence once, the reason that set the tier first (`tests.fixtures.corpus.verdicts_disagree`)."""
    n, bad = verdicts_disagree(reference)
    assert n == 11 and not bad, bad


def _no_worker(task: EpisodeTask) -> EpisodeResult:
    raise AssertionError(f"a finished job's rerun submitted {task.uid} to a worker")


@pytest.mark.shared_ray  # tests/ray_scope.py
def test_rerun_of_a_finished_job_is_a_noop(reference: Path) -> None:
    spec = load_spec(reference.parent / "corpus.yaml")
    kept = [p for p in sorted(reference.rglob("*")) if p.is_file() and "job" not in p.relative_to(reference).parts]
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in kept}
    report = run_ingest(spec, progress=False, worker=_no_worker)  # a task submitted would be quarantined: counted

    assert report.skipped == 15 and report.quarantined == 0  # 15 raw episodes discovered fine, all done before
    assert sum(t.written for t in report.tallies.values()) == 0
    after = [p for p in sorted(reference.rglob("*")) if p.is_file() and "job" not in p.relative_to(reference).parts]
    assert after == kept  # no file added or removed (datasets, catalog, quarantine)
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in kept} == before  # nothing rewritten, not even in place


# slow: a second full demo ingest (~4.5 s idle); make test keeps the claim in
# test_strict_turns_quarantine_into_failure, which ingests the same spec with max_in_flight 1 (the reference: the
# default 8) and asserts the reference's hashes
@pytest.mark.slow
@pytest.mark.shared_ray  # tests/ray_scope.py
def test_output_is_deterministic(reference: Path, raw: dict[str, Path], tmp_path: Path) -> None:
    spec = load_spec(demo_spec(tmp_path, raw))
    run_ingest(
        spec.model_copy(update={"parallelism": spec.parallelism.model_copy(update={"max_in_flight": 1})}),
        progress=False,
    )
    assert hashes(tmp_path / "corpus") == hashes(reference)


@pytest.mark.shared_ray  # tests/ray_scope.py; the CLI in this process (its exit codes), on the shared Ray
def test_strict_turns_quarantine_into_failure(
    raw: dict[str, Path], tmp_path: Path, reference: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = demo_spec(tmp_path, raw, max_in_flight=1)
    code = jobs.cli.main(["ingest", str(spec), "--strict"])
    assert code == 1 and "quarantined" in capsys.readouterr().err
    # the work itself is done all the same, and deterministic: one episode in flight gives the reference's bytes
    assert hashes(tmp_path / "corpus") == hashes(reference)
    # issue 50 item 10: the resumed run quarantines nothing anew, but the corpus still holds what the first one did
    assert jobs.cli.main(["ingest", str(spec), "--strict"]) == 1
    err = capsys.readouterr().err
    assert "the corpus holds" in err and "by an earlier run" in err


@pytest.mark.shared_ray  # tests/ray_scope.py: the killed driver ran its own Ray in its own process
@pytest.mark.parametrize("kill_after", [1, pytest.param(5, marks=pytest.mark.slow)])  # 5: ~50 s, same path as 1
def test_sigkill_of_the_driver_then_rerun_gives_identical_files(
    reference: Path, raw: dict[str, Path], tmp_path: Path, kill_after: int
) -> None:
    """The driver is killed once it has committed exactly `kill_after` raw episodes, the first of as many sources
    (the first episodes the job submits: it takes the sources in turn); every other episode is held in its worker
    (`crash_hooks.HOLD_ENV`), so the job cannot run past the kill point however slow the kill is."""
    spec_path = demo_spec(tmp_path, raw)
    corpus = tmp_path / "corpus"
    uids = [it.uid for it in discover(load_spec(spec_path))[0]]
    firsts = list({uid.split("/")[0]: uid for uid in reversed(uids)}.values())[::-1]  # each source's first
    run = firsts[:kill_after]
    committed_log, err = tmp_path / "committed.txt", tmp_path / "driver.err"
    env = {**ENV, crash_hooks.HOLD_ENV: json.dumps([u for u in uids if u not in run])}
    cmd = [sys.executable, "-m", "tests.jobs.ingest.crash_hooks", str(spec_path), str(committed_log)]
    # the driver and its embedded Ray die together when the block ends
    with err.open("w") as stderr, group(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr) as proc:
        deadline = time.monotonic() + 180
        while len(_logged(committed_log)) < kill_after and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # polls an event (the driver's own log of commits); the kill point does not depend on it
    assert sorted(_logged(committed_log)) == sorted(run), err.read_text()[-2000:]
    assert hashes(corpus) != hashes(reference)
    assert jobs.cli.main(["ingest", str(spec_path)]) == 0  # the rerun in this process, on the shared Ray
    assert hashes(corpus) == hashes(reference)
    assert not list(corpus.glob("datasets/*/*/.eidata/staging/*"))


def _logged(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


# slow: ~14 s with its own Ray; make test keeps test_deadline.py, whose attempts' workers are SIGKILLed and retried by
# Ray on fresh workers with the episode written once
@pytest.mark.slow
@pytest.mark.own_ray  # the hook reaches the workers through the environment of the Ray that run_ingest starts
def test_a_killed_worker_is_retried(
    reference: Path, raw: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker of the first raw episode SIGKILLs itself after staging it (`crash_hooks`): the worker is
    this run's own, found by its own pid, never by a process-name search that could hit another run's workers."""
    import ray

    assert not ray.is_initialized(), "the hook reaches the workers through the environment of the Ray run_ingest starts"
    spec = load_spec(demo_spec(tmp_path, raw))
    marker = tmp_path / "killed.pid"
    monkeypatch.setenv(crash_hooks.DIE_ONCE_ENV, json.dumps({"uid": discover(spec)[0][0].uid, "marker": str(marker)}))
    run_ingest(spec, progress=False, worker=crash_hooks.dying_process_episode)
    assert int(marker.read_text()) != os.getpid(), "the hook ran in the driver, not in a worker"
    assert hashes(tmp_path / "corpus") == hashes(reference)
    stages = run_query(tmp_path / "corpus", "SELECT DISTINCT stage FROM quarantine").column("stage").to_pylist()
    assert "worker" not in stages  # retried, not quarantined
    left = list((tmp_path / "corpus/datasets").glob(f"*/*/{STAGING}/*"))
    assert left == [], "the killed attempt's staging must not outlive the job"


def test_a_second_job_on_the_same_output_is_refused(raw: dict[str, Path], tmp_path: Path) -> None:
    spec_path = demo_spec(tmp_path, raw)
    lock = JobLock(tmp_path / "corpus")
    try:
        res = _cli("ingest", str(spec_path), timeout=60)
    finally:
        lock.release()
    assert res.returncode == 1 and "another ingest job" in res.stderr


def test_a_bad_spec_exits_2_naming_the_field(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("output: out\nsources:\n  - name: x\n    adapter: oxee\n    root: .\n")
    res = _cli("ingest", str(spec), timeout=60)
    assert res.returncode == 2
    assert "sources[0].adapter" in res.stderr and ":4:" in res.stderr
