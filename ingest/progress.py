"""Progress of long jobs: a live bar on a terminal, a heartbeat in the log otherwise (every `log_every_s`: items done
and saved, frames written, frames/s, ETA); and the stacks of a process that shows no progress for long.

`stacks_when_quiet(s)` (`eidata --stacks-after-s`, default `STACKS_AFTER_S`) has `faulthandler` print every thread's
stack once no `Progress.update` came for `s` seconds, and again every `s` while none comes (its timer is a C thread:
it prints also while the main thread holds the interpreter's lock in a C call). It ends nothing: a slow store or a
long query is no hang, and a stop (SIGTERM, Ctrl-C) ends any command (`adapters.hostile.watcher`). What ingest's
DataTrove-like anchors do too: a job says its own progress, and the platform's time limit bounds it.
"""

from __future__ import annotations

import faulthandler
import logging
import sys
import time
from collections.abc import Callable

log = logging.getLogger("eidata.progress")
STACKS_AFTER_S = 600.0  # the default quiet time before the stacks are printed
_quiet_s = 0.0  # this process's (0: never)
_armed_at = 0.0  # when the stacks' timer was last set again


def stacks_when_quiet(after_s: float) -> None:
    """Every thread's stack printed on stderr once this process has shown no progress for `after_s` seconds, and again
    every `after_s` while it shows none; 0 turns it off."""
    global _quiet_s
    _quiet_s = after_s
    faulthandler.cancel_dump_traceback_later()
    _progressed()


def _progressed() -> None:
    """The quiet time counted from now (the timer set again at most every tenth of it: each setting starts a thread)."""
    global _armed_at
    now = time.monotonic()
    if _quiet_s > 0 and now - _armed_at >= _quiet_s / 10:
        _armed_at = now
        faulthandler.dump_traceback_later(_quiet_s, repeat=True, exit=False)


class Progress:
    """`saved`, when given, says how many of the items done are also saved (an ingest's episodes committed or
    quarantined: a kill keeps those and redoes the rest), shown beside the count: "48/81 ep (12 saved)". Without it a
    count of finished work read as kept work (reliability review 6: 48 of 81 shown, 0 kept after a kill)."""

    def __init__(
        self,
        total: int,
        desc: str,
        *,
        unit: str = "it",
        enabled: bool | None = None,
        log_every_s: float = 10.0,
        saved: Callable[[], int] | None = None,
    ) -> None:
        self.total, self.desc, self.unit, self.saved = total, desc, unit, saved
        self.tty = sys.stderr.isatty() if enabled is None else enabled
        self.done = self.frames = 0
        self.t0 = self._last = time.perf_counter()
        self.log_every_s = log_every_s
        self._bar = None
        if self.tty:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True)

    def update(self, n: int = 1, *, frames: int = 0) -> None:
        _progressed()
        self.done += n
        self.frames += frames
        elapsed = time.perf_counter() - self.t0
        saved = f" ({self.saved()} saved)" if self.saved is not None else ""
        # frames/s where frames are counted; else the items' own rate ("0 frames/s" said nothing: review 6)
        speed = per_second(self.frames, elapsed, "frames") if self.frames else per_second(self.done, elapsed, self.unit)
        if self._bar is not None:
            self._bar.set_postfix_str(f"{speed}{saved}" if self.frames else saved.strip(), refresh=False)
            self._bar.update(n)
        elif time.perf_counter() - self._last >= self.log_every_s or self.done == self.total:
            self._last = time.perf_counter()
            rate = self.done / max(elapsed, 1e-9)
            eta = (self.total - self.done) / rate if rate else float("inf")
            written = f", {self.frames} frames" if self.frames else ""
            log.info(
                "%s: %d/%d %s%s%s, %s, ETA %.0f s",
                self.desc,
                self.done,
                self.total,
                self.unit,
                saved,
                written,
                speed,
                eta,
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def per_second(count: int, elapsed: float, unit: str) -> str:
    """A rate as a line says it: whole numbers from 10 up, else two significant digits, so a slow job (latents on a
    CPU: 0.4 frames/s) never reads "0 frames/s" (issue 59)."""
    rate = count / max(elapsed, 1e-9)
    return f"{rate:.0f} {unit}/s" if rate >= 10 else f"{rate:.2g} {unit}/s"
