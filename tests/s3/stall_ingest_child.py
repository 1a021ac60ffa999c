"""`python -m tests.s3.stall_ingest_child PID MARKER SPEC`: `eidata ingest SPEC` whose first episode task pauses the S3
server of process PID (SIGSTOP) before it reads, once (the file MARKER, created atomically, says it was done): a store
that stops answering under a running job's Ray worker. The test resumes the server whatever happens.

Ray pickles the worker by reference, so it lives in this importable module; the job forwards `EIDATA_*` to its
workers, which read PID and MARKER from `EIDATA_TEST_PAUSE`."""

from __future__ import annotations

import json
import os
import signal
import sys

import jobs.ingest.worker as worker_module
from jobs.ingest.task import EpisodeResult, EpisodeTask
from jobs.ingest.worker import process_episode

PAUSE_ENV = "EIDATA_TEST_PAUSE"


def pausing_process_episode(task: EpisodeTask) -> EpisodeResult:
    pause = json.loads(os.environ[PAUSE_ENV])
    try:
        os.close(os.open(pause["marker"], os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        pass
    else:
        os.kill(pause["pid"], signal.SIGSTOP)
    return process_episode(task)


if __name__ == "__main__":
    from jobs.cli import main

    os.environ[PAUSE_ENV] = json.dumps({"pid": int(sys.argv[1]), "marker": sys.argv[2]})
    worker_module.process_episode = pausing_process_episode  # type: ignore[assignment]
    sys.exit(main(["ingest", sys.argv[3]]))
