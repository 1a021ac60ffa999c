"""Workers for `run_ingest(worker=...)` that put a crash at a chosen point of a real ingest job, around the real
`jobs.ingest.worker.process_episode`.

Ray workers unpickle the worker by reference (so it lives in an importable module) and read their settings from the
environment, which the ingest job forwards to every worker (`EIDATA_*`, embedded or on a cluster):

- `HOLD_ENV` (a JSON list of raw episode uids): those episodes never finish, so the driver cannot commit past them;
  or `{"uids": [...], "gate": FILE, "started": DIR}`: each of those episodes' tasks first writes
  `DIR/<n>-<node id>-<pid>` (n: the uid's place in the list), then waits until FILE exists, then runs;
- `FINISHED_ENV` (a folder): each task not held writes a file there named by its uid's sha256, holding its answer's
  type (`Staged`, `Rejected`), once its answer is ready: a test kills the job at a chosen amount of finished work;
- `DIE_ONCE_ENV` (JSON `{"uid": ..., "marker": ...}`): the task of `uid` stages its episodes, then SIGKILLs its own
  worker, once (the marker file, created atomically, holds the pid); its retry and every other task run normally.

`file_killed_process_episode` needs no environment (it runs on a shared Ray): HDF5 "crashes" on a file whose name
holds `KILLER` (the process SIGKILLed as HDF5 opens it, as a library crashing on a file's bytes: the parse process
behind the boundary), and an episode whose raw id holds `DIES_EARLY` kills its worker before it reads anything;
`file_killed_discover_source` is a source's discovery task on which HDF5 crashes alike.

`python -m tests.jobs.ingest.crash_hooks SPEC LOG [--address ADDR]` runs the job of SPEC (as `eidata ingest` does)
with `HOLD_ENV` honoured, appending the uid of each raw episode committed (its committer answered) or quarantined to
the file `LOG`, and the driver's Ray node id to `LOG.node`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobs.ingest.task import EpisodeResult, EpisodeTask, WorkItem
from jobs.ingest.worker import process_episode

HOLD_ENV = "EIDATA_TEST_HOLD"
DIE_ONCE_ENV = "EIDATA_TEST_DIE_ONCE"
FINISHED_ENV = "EIDATA_TEST_FINISHED"
KILLER, DIES_EARLY = "killer", "dies_early"


def held_process_episode(task: EpisodeTask) -> EpisodeResult:
    hold = json.loads(os.environ.get(HOLD_ENV, "[]"))
    if isinstance(hold, list):
        hold = {"uids": hold}
    if task.uid not in hold["uids"]:
        result = process_episode(task)
        if (finished := os.environ.get(FINISHED_ENV)) is not None:
            Path(finished, hashlib.sha256(task.uid.encode()).hexdigest()).write_text(type(result).__name__)
        return result
    if "started" in hold:
        import ray

        node = ray.get_runtime_context().get_node_id()
        Path(hold["started"], f"{hold['uids'].index(task.uid)}-{node}-{os.getpid()}").touch()
    gate = Path(hold["gate"]) if "gate" in hold else None
    while gate is None or not gate.exists():
        threading.Event().wait(0.05)  # until the test opens the gate (or kills the job)
    return process_episode(task)


def dying_process_episode(task: EpisodeTask) -> EpisodeResult:
    result = process_episode(task)
    die = json.loads(os.environ[DIE_ONCE_ENV])
    if task.uid != die["uid"]:
        return result
    try:
        fd = os.open(die["marker"], os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:  # the retry
        return result
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable: the worker killed itself")


@contextmanager
def _killing_hdf5() -> Iterator[None]:
    """HDF5's open of a file whose name holds `KILLER` SIGKILLs the process, as a library crashing on its bytes."""
    import h5py

    from adapters.storage.beneath import Fence

    opened = h5py.File.__init__

    def crashing(self: h5py.File, name: object, *args: object, **kwargs: object) -> None:
        if isinstance(name, str) and KILLER in Path(Fence.named(name)).name:  # HDF5 opens /proc/self/fd/N: named
            os.kill(os.getpid(), signal.SIGKILL)
        opened(self, name, *args, **kwargs)

    h5py.File.__init__ = crashing  # type: ignore[method-assign]
    try:
        yield
    finally:
        h5py.File.__init__ = opened  # type: ignore[method-assign]


def file_killed_process_episode(task: EpisodeTask) -> EpisodeResult:
    if DIES_EARLY in task.ref.raw_id:
        os.kill(os.getpid(), signal.SIGKILL)
    with _killing_hdf5():
        return process_episode(task)


def file_killed_discover_source(*args: Any) -> dict[str, Any]:
    """`discover_source` whose worker HDF5 kills on a `KILLER` file (`discover_all(discover=...)`)."""
    from jobs.ingest.discovery import discover_source

    with _killing_hdf5():
        return discover_source(*args)


def _main(argv: list[str]) -> int:
    from jobs.ingest.job import run_ingest
    from jobs.spec import load_spec
    from tests.jobs.ingest import crash_hooks  # workers import the worker by this name; from `__main__` they could not

    parser = argparse.ArgumentParser()
    parser.add_argument("spec")
    parser.add_argument("log", type=Path)
    parser.add_argument("--address")
    args = parser.parse_args(argv)

    def logged(item: WorkItem) -> None:
        with args.log.open("a") as f:
            f.write(item.uid + "\n")
        driver_node = Path(f"{args.log}.node")
        if not driver_node.exists():  # where the driver (and its committers) run: a test must not remove that node
            import ray

            driver_node.write_text(ray.get_runtime_context().get_node_id())

    spec = load_spec(Path(args.spec))
    run_ingest(spec, address=args.address, worker=crash_hooks.held_process_episode, on_done=logged)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
