"""The Ray ingest job, for real (embedded Ray, real writer, real DuckDB): quarantine, exactly-once resume after a
SIGKILL of the driver, a killed worker, one job per output, bad specs."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs.catalog.query import run_query
from jobs.demo.corpus import write_demo_spec, write_raw_corpus
from jobs.ingest import JobLock, run_ingest
from jobs.spec import load_spec

ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_raw_corpus(tmp_path_factory.mktemp("raw"))


def _spec(tmp: Path, raw: dict[str, Path], name: str = "corpus") -> Path:
    return write_demo_spec(tmp / f"{name}.yaml", raw, tmp / name, num_cpus=2)


def _hashes(corpus: Path) -> dict[str, str]:
    """Every file of every dataset (what training reads): the job's own state and the catalog are left out."""
    base = corpus / "datasets"
    return {
        str(p.relative_to(base)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(base.rglob("*"))
        if p.is_file() and ".eidata" not in p.parts
    }


@pytest.fixture(scope="module")
def reference(raw: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("ref")
    run_ingest(load_spec(_spec(tmp, raw)), progress=False)
    return tmp / "corpus"


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "jobs.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=timeout, check=False)


def test_every_corrupt_episode_is_quarantined_with_its_reason(reference: Path) -> None:
    q = run_query(reference, "SELECT source, stage, error_class, message FROM quarantine ORDER BY ALL").to_pylist()
    by_source = {r["source"] for r in q}
    assert by_source == {"bridge", "agibot", "ego4d", "egodex", "lerobot"}
    msgs = " | ".join(r["message"] for r in q)
    for needle in ("crc mismatch", "action longer than state", "unreadable mp4", "unreadable parquet"):
        assert needle in msgs.lower(), needle
    written = run_query(reference, "SELECT source, count(*) AS n FROM episodes GROUP BY ALL ORDER BY ALL")
    assert dict(zip(*written.to_pydict().values(), strict=True)) == {
        "agibot": 2, "bridge": 2, "ego4d": 3, "egodex": 2, "lerobot": 2,
    }  # fmt: skip


def test_rerun_of_a_finished_job_is_a_noop(reference: Path, raw: dict[str, Path]) -> None:
    spec = load_spec(reference.parent / "corpus.yaml")
    before = _hashes(reference)
    t0 = time.perf_counter()
    report = run_ingest(spec, progress=False)
    assert time.perf_counter() - t0 < 5
    assert report.skipped == 15 and report.quarantined == 0  # 15 raw episodes discovered fine, all done before
    assert sum(t.written for t in report.tallies.values()) == 0
    assert _hashes(reference) == before


def test_output_is_deterministic(reference: Path, raw: dict[str, Path], tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, raw))
    run_ingest(spec.model_copy(update={"parallelism": spec.parallelism.model_copy(update={"max_in_flight": 1})}),
               progress=False)  # fmt: skip
    assert _hashes(tmp_path / "corpus") == _hashes(reference)


@pytest.mark.parametrize("kill_after_episodes", [1, 5])
def test_sigkill_of_the_driver_then_rerun_gives_identical_files(
    reference: Path, raw: dict[str, Path], tmp_path: Path, kill_after_episodes: int
) -> None:
    spec_path = _spec(tmp_path, raw)
    corpus = tmp_path / "corpus"
    proc = subprocess.Popen([sys.executable, "-m", "jobs.cli", "ingest", str(spec_path)], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        committed = sum(len(p.read_text().splitlines()) for p in corpus.glob("datasets/*/*/meta/episodes.jsonl"))
        if committed >= kill_after_episodes:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its embedded Ray die together
    proc.wait()
    assert _hashes(corpus) != _hashes(reference), "killed too late: nothing left to resume"
    done = _cli("ingest", str(spec_path))
    assert done.returncode == 0, done.stderr[-2000:]
    assert _hashes(corpus) == _hashes(reference)
    assert not list(corpus.glob("datasets/*/*/.eidata/staging/*"))


def test_a_killed_worker_is_retried(reference: Path, raw: dict[str, Path], tmp_path: Path) -> None:
    spec_path = _spec(tmp_path, raw)
    proc = subprocess.Popen([sys.executable, "-m", "jobs.cli", "ingest", str(spec_path)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and proc.poll() is None and time.monotonic() < deadline:
        ps = subprocess.run(["pgrep", "-f", "ray::process_episode"], capture_output=True, text=True, check=False)
        pids = [int(p) for p in ps.stdout.split()]
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed = pids[0]
        time.sleep(0.02)
    out, _ = proc.communicate(timeout=300)
    assert killed is not None, "no worker was seen running a task"
    assert proc.returncode == 0, out[-2000:]
    assert _hashes(tmp_path / "corpus") == _hashes(reference)
    stages = run_query(tmp_path / "corpus", "SELECT DISTINCT stage FROM quarantine").column("stage").to_pylist()
    assert "worker" not in stages  # retried, not quarantined


def test_a_second_job_on_the_same_output_is_refused(raw: dict[str, Path], tmp_path: Path) -> None:
    spec_path = _spec(tmp_path, raw)
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


def test_strict_turns_quarantine_into_failure(raw: dict[str, Path], tmp_path: Path, reference: Path) -> None:
    res = _cli("ingest", str(_spec(tmp_path, raw)), "--strict")
    assert res.returncode == 1 and "quarantined" in res.stderr
    assert _hashes(tmp_path / "corpus") == _hashes(reference)  # the work itself is done all the same


def _slow_head(item: dict) -> dict:
    """A stand-in task body with known durations: the first raw episode is slow, the rest quick; returns timings."""
    start = time.time()
    time.sleep(2.0 if item["uid"] == item["head_uid"] else 0.05)
    return {"status": "timing", "start": start, "end": time.time()}


@pytest.mark.parametrize("window", [64, 2])
def test_finished_episodes_wait_for_a_slow_head_without_idling_workers(
    raw: dict[str, Path], tmp_path: Path, window: int
) -> None:
    """Commits go in discovery order, but workers keep taking episodes while a slow one holds the head of the line
    (up to `commit_window`); with a window of 2 they must wait for it."""
    import ray

    from jobs.ingest import _in_order, _init_ray, discover

    spec = load_spec(_spec(tmp_path, raw))
    spec = spec.model_copy(
        update={"parallelism": spec.parallelism.model_copy(update={"max_in_flight": 2, "commit_window": window})}
    )
    todo = discover(spec)[0][:8]
    _init_ray(spec, None)
    try:
        head = todo[0].uid
        task = ray.remote(num_cpus=1)(lambda item: _slow_head({**item, "head_uid": head}))
        out = list(_in_order(todo, task, spec))
    finally:
        ray.shutdown()
    assert [it.uid for it, _ in out] == [it.uid for it in todo]  # still yielded in discovery order
    head_end = out[0][1]["end"]
    started_before_head_ended = sum(r["start"] < head_end for _, r in out[1:])
    if window == 64:
        assert started_before_head_ended == len(todo) - 1
    else:
        assert started_before_head_ended == 1  # only the one submitted beside the head
