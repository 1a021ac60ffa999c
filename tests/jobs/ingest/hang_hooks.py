"""A worker for `run_ingest(worker=...)` whose video encoder hangs for one chosen episode, in a real job.

Ray workers import it by reference and read its settings from `<output>/../hang.json` (the output folder is in every
task's settings, so the hook needs no environment of its own and runs on whatever Ray the test shares):
`{"uid": ..., "log": FILE}`. The task of `uid` makes `VideoEncoder.encode_frame` append its parse process's pid to
FILE and sleep (as SVT-AV1 was seen to hang in its flush: the GIL released, the call never returning) and runs the
real task; every other task runs unchanged.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ingest.lerobot import video
from jobs.ingest.task import EpisodeResult, EpisodeTask
from jobs.ingest.worker import process_episode

HANG_S = 120.0  # far past the test's deadline, short enough that a broken watchdog fails the test instead of hanging


def hanging_process_episode(task: EpisodeTask) -> EpisodeResult:
    cfg = json.loads((task.settings.output.parent / "hang.json").read_text())
    if task.uid == cfg["uid"]:

        def hung(self: video.VideoEncoder, frame: Any) -> None:  # in the episode's parse process
            with Path(cfg["log"]).open("a") as f:
                f.write(f"{os.getpid()}\n")
            time.sleep(HANG_S)

        original = video.VideoEncoder.encode_frame
        video.VideoEncoder.encode_frame = hung  # type: ignore[method-assign]
        try:
            return process_episode(task)
        finally:
            # a hung attempt's worker is killed, but the last attempt quarantines at once and its worker lives on in
            # the shared Ray: left patched, it hung the next module's first task until its watchdog (60 s)
            video.VideoEncoder.encode_frame = original  # type: ignore[method-assign]
    return process_episode(task)
