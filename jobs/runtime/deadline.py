"""A deadline on an episode task's write stage (decode + encode), from the episode's size, so a hung encoder cannot
stall a job.

SVT-AV1 has hung inside the encoder under heavy load (once for 6 minutes, stack captured; issue 25). A thread stuck
in C cannot be interrupted, so the task's watchdog kills the episode's own parse process (SIGKILL: a child of the Ray
worker, `hostile.sandbox`) once the deadline passes, after leaving a marker under `<output>/job/hung/`; the worker
runs the episode again. An attempt that finds `retries + 1` markers of its episode quarantines it with "encoder did
not finish in N s" (so does the driver when Ray gives up first), so the episode is done exactly once. Outside a Ray
worker the watchdog only logs: it never kills a process it does not own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import Field

from ingest.lerobot.video import unbounded_encoder_waits
from jobs.runtime.retry import marker_key
from schemas.corpus import JOB_DIR
from schemas.frozen import Frozen

log = logging.getLogger(__name__)

HUNG_DIR = "hung"  # under <output>/job/: one marker per attempt that passed its deadline
TIMEOUT_CLASS = "EncoderTimeout"


class TaskDeadline(Frozen):
    """How long an episode's write stage may take: `base_s` plus its pixels at conservative rates.

    The rates are about 25x below what one loaded core of the benchmark VM does (BENCHMARKS.md, "Codec settings":
    SVT-AV1 preset 12 encodes 13.5 Mpx/s per core at 224x224; decoding runs at 50-300 Mpx/s), so only a stall, not
    a slow machine, reaches them: a 300-frame 224x224 episode decoded from 480x640 at 30 fps gets 60 + 30 + 55 s."""

    enabled: bool = Field(True, description="False: no deadline (a hung encoder then stalls its task forever)")
    base_s: float = Field(60.0, gt=0, description="seconds every episode gets (start-up, parquet, stats)")
    encode_mpx_per_s: float = Field(0.5, gt=0, description="stored pixels (frames x height x width) per second")
    decode_mpx_per_s: float = Field(5.0, gt=0, description="source pixels decoded per second")
    retries: int = Field(1, ge=0, description="attempts after the first one that passed its deadline")

    def seconds(self, encoded_px: int, decoded_px: int) -> int:
        encode_s = encoded_px / (self.encode_mpx_per_s * 1e6)
        return math.ceil(self.base_s + encode_s + decoded_px / (self.decode_mpx_per_s * 1e6))


def episode_pixels(episodes: Iterable[Any]) -> tuple[int, int]:
    """(stored, decoded) pixels of canonical episodes: every grid frame of every camera at its stored size, and every
    source frame up to the last one shown (inter-coded video decodes them all) at the source's size."""
    stored = decoded = 0
    for ep in episodes:
        for cam in ep.cameras.values():
            h, w = cam.shape
            stored += len(cam.indices) * h * w
            last = int(max(cam.indices)) + 1 if len(cam.indices) else 0
            decoded += last * cam.source.height * cam.source.width
    return stored, decoded


def hung_attempts(output: Path, uid: str) -> list[int]:
    """The deadlines (s) of this episode's earlier attempts that did not finish in time."""
    out = []
    for p in sorted((output / JOB_DIR / HUNG_DIR).glob(f"{marker_key(uid)}.*.json")):
        try:
            out.append(int(json.loads(p.read_text())["deadline_s"]))
        except (OSError, ValueError, KeyError):  # a marker cut short by the kill still counts
            out.append(0)
    return out


def timeout_message(deadlines: list[int]) -> str:
    n = len(deadlines)
    return (
        f"encoder did not finish in {max(deadlines)} s ({n} attempt{'s' if n > 1 else ''}, "
        "each attempt's parse process killed)"
    )


def clear_markers(output: Path) -> None:
    """At job start: a new run gives every episode its full attempts again (finished ones are skipped anyway)."""
    shutil.rmtree(output / JOB_DIR / HUNG_DIR, ignore_errors=True)


def _in_ray_worker() -> bool:
    try:
        from ray._private import worker
    except ImportError:
        return False
    return bool(worker.global_worker.mode == worker.WORKER_MODE)


@contextmanager
def watchdog(seconds: int, output: Path, uid: str) -> Iterator[None]:
    """Kill this Ray worker if the block runs past `seconds`, after leaving this episode's marker."""

    in_ray = _in_ray_worker()  # asked before the timer starts: its thread importing ray beside this one left the
    # module half-initialized for the rest of the process ("partially initialized module 'ray'", under load)

    def expire() -> None:
        key = marker_key(uid)
        folder = output / JOB_DIR / HUNG_DIR
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"uid": uid, "deadline_s": seconds, "pid": os.getpid()}))
        tmp.rename(folder / f"{key}.{os.getpid()}-{threading.get_native_id()}.json")
        if in_ray:
            log.error("episode %s: write stage past its %d s deadline; killing worker %d", uid, seconds, os.getpid())
            os.kill(os.getpid(), signal.SIGKILL)
        else:
            log.error("episode %s: write stage past its %d s deadline (not a Ray worker: left running)", uid, seconds)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        # Where this watchdog kills, it owns the deadline: the encoder's own bounded waits (EncoderHungError) would
        # fail the episode before its retry. Outside Ray it only logs, so those bounds stay.
        with unbounded_encoder_waits() if in_ray else contextlib.nullcontext():
            yield
    finally:
        timer.cancel()
