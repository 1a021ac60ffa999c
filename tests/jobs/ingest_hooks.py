"""Stand-ins for `jobs.ingest.process_episode` that put a crash at a chosen point of a real ingest job.

Ray workers unpickle the stand-in by reference (so it lives in an importable module) and read their settings from the
environment, which the ingest job forwards to every worker (`EIDATA_*`, embedded or on a cluster):

- `HOLD_ENV` (a JSON list of raw episode uids): those episodes never finish, so the driver cannot commit past them;
  or `{"uids": [...], "gate": FILE, "started": DIR}`: each of those episodes' tasks first writes
  `DIR/<n>-<node id>-<pid>` (n: the uid's place in the list), then waits until FILE exists, then runs;
- `DIE_ONCE_ENV` (JSON `{"uid": ..., "marker": ...}`): the task of `uid` stages its episodes, then SIGKILLs its own
  worker, once (the marker file, created atomically, holds the pid); its retry and every other task run normally.

`python -m tests.jobs.ingest_hooks SPEC LOG [ARGS...]` runs `eidata ingest SPEC [ARGS...]` with `HOLD_ENV` honoured,
appending the uid of each raw episode committed (its committer answered) or quarantined to the file `LOG`,
and the driver's Ray node id to `LOG.node`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import jobs.ingest
from jobs.ingest import Committer, WorkItem, process_episode

HOLD_ENV = "EIDATA_TEST_HOLD"
DIE_ONCE_ENV = "EIDATA_TEST_DIE_ONCE"


def held_process_episode(item: dict[str, Any]) -> dict[str, Any]:
    hold = json.loads(os.environ.get(HOLD_ENV, "[]"))
    if isinstance(hold, list):
        hold = {"uids": hold}
    if item["uid"] not in hold["uids"]:
        return process_episode(item)
    if "started" in hold:
        import ray

        node = ray.get_runtime_context().get_node_id()
        Path(hold["started"], f"{hold['uids'].index(item['uid'])}-{node}-{os.getpid()}").touch()
    gate = Path(hold["gate"]) if "gate" in hold else None
    while gate is None or not gate.exists():
        threading.Event().wait(0.05)  # until the test opens the gate (or kills the job)
    return process_episode(item)


def dying_process_episode(item: dict[str, Any]) -> dict[str, Any]:
    result = process_episode(item)
    die = json.loads(os.environ[DIE_ONCE_ENV])
    if item["uid"] != die["uid"]:
        return result
    try:
        fd = os.open(die["marker"], os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:  # the retry
        return result
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable: the worker killed itself")


def _main(spec: str, log: str, *args: str) -> int:
    from jobs.cli import main
    from tests.jobs import ingest_hooks  # workers import the stand-in by this name; from `__main__` they could not

    finished = Committer.finished

    def logged_finished(self: Committer, item: WorkItem) -> None:
        finished(self, item)
        with Path(log).open("a") as f:
            f.write(item.uid + "\n")
        driver_node = Path(f"{log}.node")
        if not driver_node.exists():  # where the driver (and its committers) run: a test must not remove that node
            import ray

            driver_node.write_text(ray.get_runtime_context().get_node_id())

    jobs.ingest.process_episode = ingest_hooks.held_process_episode  # what `_run_on_ray` submits to Ray
    Committer.finished = logged_finished
    return main(["ingest", spec, *args])


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:]))
