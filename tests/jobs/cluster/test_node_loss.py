"""A worker node removed (not gracefully: its raylet and workers killed) in the middle of `eidata ingest --address`:
the same run finishes on the remaining nodes, nothing lost or doubled, the datasets byte-identical to the embedded
run's. The kill point is set by the workers of `tests/jobs/ingest/crash_hooks.py`, not by timing: every episode but
the first of each source waits at a gate; the node goes once one of them is running on it, and the gate opens once that
episode's worker process is dead (a worker outliving its raylet for a moment could otherwise still hand its result
to the driver)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.catalog.query import run_query
from tests.jobs.cluster.conftest import start_cluster
from tests.jobs.cluster.test_ingest_cluster import _first_of_each_source, _logged, start_driver, wait_for
from tests.jobs.demo_reference import demo_spec, hashes
from tests.processes import kill_group


def _alive(pid: int) -> bool:
    """Whether `pid` still runs: a zombie has ended (a killed node's worker is reparented to the suite's subreaper,
    `.ci/reaped.py`, which reaps it later)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# slow: ~22 s; make test keeps the workers killed mid-job (tests/jobs/ingest/test_deadline.py: each attempt's worker
# SIGKILLed, Ray's retry on a fresh one, the job going on) and ingest on three nodes
@pytest.mark.slow
def test_a_worker_node_lost_mid_job(raw: dict[str, Path], reference: Path, tmp_path: Path) -> None:
    cluster, workers = start_cluster(workers=2)
    try:
        spec_path = demo_spec(tmp_path, raw)
        first, rest = _first_of_each_source(spec_path)
        log, started, gate = tmp_path / "committed.txt", tmp_path / "started", tmp_path / "gate"
        started.mkdir()
        proc = start_driver(spec_path, log, {"uids": rest, "gate": str(gate), "started": str(started)}, cluster.address)
        try:
            driver_node = Path(f"{log}.node")
            wait_for(lambda: len(_logged(log)) >= len(first) and driver_node.exists(), proc, "the first commits")
            victims = [w for w in workers if w.node_id != driver_node.read_text()]

            def running_on_victim() -> list[str]:
                ids = {w.node_id for w in victims}
                return [p.name for p in started.iterdir() if p.name.split("-")[1] in ids]

            wait_for(running_on_victim, proc, "a held episode running on a worker node")
            held = running_on_victim()[0]
            victim = next(w for w in victims if w.node_id == held.split("-")[1])
            cluster.remove_node(victim, allow_graceful=False)
            wait_for(lambda: not _alive(int(held.split("-")[2])), proc, "the lost node's worker to die")
            gate.touch()
            assert proc.wait(timeout=400) == 0, (tmp_path / "driver.err").read_text()[-3000:]
        finally:
            kill_group(proc)
        assert sorted(_logged(log)) == sorted(first + rest)  # every raw episode committed once, in the same run
        corpus = tmp_path / "corpus"
        assert hashes(corpus) == hashes(reference)
        # the episode that was running on the lost node ran again on another node
        n = held.split("-")[0]
        again = [p.name for p in started.iterdir() if p.name.split("-")[0] == n and p.name != held]
        assert again and all(a.split("-")[1] != victim.node_id for a in again), again
        stages = run_query(corpus, "SELECT DISTINCT stage FROM quarantine").column("stage").to_pylist()
        assert "worker" not in stages  # retried, not quarantined
        assert not list(corpus.glob("datasets/*/*/.eidata/staging/*"))
    finally:
        cluster.shutdown()
