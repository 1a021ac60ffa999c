"""Progress of long jobs: a live bar on a terminal, periodic log lines otherwise (episodes, frames/s, ETA)."""

from __future__ import annotations

import logging
import sys
import time

from tqdm import tqdm

log = logging.getLogger("eidata.progress")


class Progress:
    def __init__(
        self, total: int, desc: str, *, unit: str = "it", enabled: bool | None = None, log_every_s: float = 10.0
    ) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.tty = sys.stderr.isatty() if enabled is None else enabled
        self.done = self.frames = 0
        self.t0 = self._last = time.perf_counter()
        self.log_every_s = log_every_s
        self._bar = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True) if self.tty else None

    def update(self, n: int = 1, *, frames: int = 0) -> None:
        self.done += n
        self.frames += frames
        elapsed = time.perf_counter() - self.t0
        if self._bar is not None:
            self._bar.set_postfix_str(f"{self.frames / max(elapsed, 1e-9):.0f} frames/s", refresh=False)
            self._bar.update(n)
        elif time.perf_counter() - self._last >= self.log_every_s or self.done == self.total:
            self._last = time.perf_counter()
            rate = self.done / max(elapsed, 1e-9)
            eta = (self.total - self.done) / rate if rate else float("inf")
            log.info(
                "%s: %d/%d %s, %.0f frames/s, ETA %.0f s",
                self.desc,
                self.done,
                self.total,
                self.unit,
                self.frames / max(elapsed, 1e-9),
                eta,
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
