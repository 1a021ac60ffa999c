"""`python -m tests.s3.stall_child PID N eidata-args...`: `eidata` (`jobs.cli.main`) with the S3 server of process PID
paused (SIGSTOP) right after the command's N-th object put through a bucket tree (`ObjectStore.put_file`: an export's
files), as a store that stops answering mid-job; N = 0 leaves the server alone (the test pauses it before the start).
The test resumes the server (SIGCONT) whatever happens. The credential and endpoint come from the AWS_* environment."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from adapters.storage.object_store import ObjectStore
from jobs.cli import main


def arm(pid: int, after: int) -> None:
    real = ObjectStore.put_file
    count = {"n": 0}

    def put_then_pause(self: ObjectStore, tree: str, local: Path, *, drop: bool = True) -> None:
        real(self, tree, local, drop=drop)
        count["n"] += 1
        if count["n"] == after:
            os.kill(pid, signal.SIGSTOP)

    ObjectStore.put_file = put_then_pause  # type: ignore[method-assign]


if __name__ == "__main__":
    pid, after = int(sys.argv[1]), int(sys.argv[2])
    if after > 0:
        arm(pid, after)
    sys.exit(main(sys.argv[3:]))
