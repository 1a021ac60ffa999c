"""Progress of long jobs: a live bar on a terminal, periodic log lines otherwise (episodes, frames/s, ETA)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

from tqdm import tqdm

log = logging.getLogger("eidata.progress")


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
        self._bar = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True) if self.tty else None

    def update(self, n: int = 1, *, frames: int = 0) -> None:
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
            log.info("%s: %d/%d %s%s, %s, ETA %.0f s", self.desc, self.done, self.total, self.unit, saved, speed, eta)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def per_second(count: int, elapsed: float, unit: str) -> str:
    """A rate as a line says it: whole numbers from 10 up, else two significant digits, so a slow job (latents on a
    CPU: 0.4 frames/s) never reads "0 frames/s" (issue 59)."""
    rate = count / max(elapsed, 1e-9)
    return f"{rate:.0f} {unit}/s" if rate >= 10 else f"{rate:.2g} {unit}/s"
