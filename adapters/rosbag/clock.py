"""Which time a topic's messages are at: their header stamps or the time the recorder received them, by evidence.

A bag stores each message with its receive (log) time on the recorder's clock; a message with a `std_msgs/Header`
also carries the time its publisher stamped it (a camera driver's exposure time, a controller's read time). The
stamp is the better time of the measurement, but only when it is on the same clock as the rest of the episode and
usable at all. Per topic (`choose`):

- `header`: every message has a non-zero stamp, the stamps never decrease (and advance while the messages arrive),
  and they sit within `tolerance_s` of the receive times (median |stamp - receive|): the publisher's clock is the
  recorder's;
- `receive` otherwise, with the reason: no header, zero stamps (publishers that never fill them), stamps that go
  back, stamps that never advance (one header copied into every message would put them all at one instant), or
  stamps on another clock (simulation time against wall time, a camera's own clock), which would put this topic
  seconds or years away from the others.

The options force one choice for every topic (`stamps: header | receive`); forcing `header` on a topic whose stamps
are unusable is refused for that topic, named in the decision. The decision per topic (choice, reason, the median
and largest latency receive - stamp) goes to the episode's metadata, and all of an episode's streams are on one clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Choice = Literal["header", "receive"]


@dataclass(frozen=True)
class ClockChoice:
    choice: Choice
    reason: str
    latency_median_s: float | None = None  # receive - stamp
    latency_max_s: float | None = None

    def record(self) -> dict[str, object]:
        return {
            "stamps": self.choice,
            "stamps_reason": self.reason,
            "latency_median_s": self.latency_median_s,
            "latency_max_s": self.latency_max_s,
        }


def choose(log_ns: np.ndarray, stamp_ns: np.ndarray | None, mode: str, tolerance_s: float) -> ClockChoice:
    """The time to use for one topic's messages (`log_ns` receive times, `stamp_ns` header stamps or None)."""
    if stamp_ns is None:
        return ClockChoice("receive", "no header")
    lat = (log_ns - stamp_ns) / 1e9
    med, worst = float(np.median(lat)), float(np.max(np.abs(lat)))
    problem = None
    if np.any(stamp_ns <= 0):
        problem = f"{int(np.sum(stamp_ns <= 0))} of {len(stamp_ns)} header stamps are zero"
    elif np.any(np.diff(stamp_ns) < 0):
        problem = f"header stamps go back {int(np.sum(np.diff(stamp_ns) < 0))} times"
    elif len(stamp_ns) > 1 and stamp_ns[0] == stamp_ns[-1] and log_ns.max() > log_ns.min():
        problem = f"header stamps never advance (all {len(stamp_ns)} are one instant while received over time)"
    elif abs(med) > tolerance_s:
        problem = f"header stamps are {med:.6g} s from the receive times (another clock; tolerance {tolerance_s} s)"
    if mode == "receive":
        return ClockChoice("receive", "stamps: receive (option)", med, worst)
    if problem is not None:
        forced = " (stamps: header refused for this topic)" if mode == "header" else ""
        return ClockChoice("receive", problem + forced, med, worst)
    if mode == "header":
        return ClockChoice("header", "stamps: header (option)", med, worst)
    return ClockChoice("header", "header stamps non-zero, non-decreasing, on the receive clock", med, worst)
