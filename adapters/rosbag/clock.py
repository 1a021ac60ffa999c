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

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

import numpy as np

from adapters.rosbag.topics import TopicData, matches

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


def recording_clock(choices: dict[str, ClockChoice], core: list[str], start_ns: int) -> dict[str, object]:
    """The recording's one clock, as its lineage names it (`clock`): the recorder's receive clock, on which every
    topic is put, each at its header stamps where they are on that clock (`choose`) and at its receive times
    otherwise. `name` says which times its core topics (the robot's state; its cameras where it has none; else every
    topic) are at, `offset_s` the median receive - stamp of those on header stamps (the latency the stamps remove),
    `start_ns` the instant that is 0 s (its first message), and which topics had stamps of 0, no header, or stamps on
    another clock, so each is said."""
    core = [t for t in core if t in choices] or sorted(choices)
    on_header = [t for t in core if choices[t].choice == "header"]
    lat = [choices[t].latency_median_s for t in on_header if choices[t].latency_median_s is not None]
    by_reason: dict[str, list[str]] = {}
    for t, c in sorted(choices.items()):
        if c.choice == "receive":
            kind = "no_header" if c.reason == "no header" else "zero_stamps" if "are zero" in c.reason else "other"
            by_reason.setdefault(kind, []).append(t)
    name = "header" if on_header and len(on_header) == len(core) else "receive" if not on_header else "mixed"
    return {
        "name": name,
        "why": {
            "header": "every core topic's header stamps are non-zero, advance and sit on the receive clock",
            "receive": "no core topic has usable header stamps (see receive_topics)",
            "mixed": "some core topics have usable header stamps, others not: each on its own, one clock",
        }[name],
        "offset_s": round(float(np.median(lat)), 6) if lat else None,
        "start_ns": int(start_ns),
        "core": core,
        "header_topics": len([c for c in choices.values() if c.choice == "header"]),
        **{f"receive_topics_{k}": v for k, v in sorted(by_reason.items())},
    }


def core_topics(data: dict[str, TopicData], action_topics: list[str], joints: Collection[str] = ()) -> list[str]:
    """The topics that set an episode's span (`ingest.canonical.canonicalize._core`): its joint states (JointStates,
    and the `joints` option's topics) that are not actions, else its image topics, else none (every topic)."""
    live = {t: d for t, d in data.items() if d.log_ns and not t.rstrip("/").endswith("tf_static")}
    states = [t for t, d in live.items() if (d.kind == "joints" or t in joints) and not matches(t, action_topics)]
    return sorted(states or [t for t, d in live.items() if d.kind == "image"])


def rate(rel: dict[str, np.ndarray], data: dict[str, TopicData], joints: Collection[str] = ()) -> float | None:
    """The joint states' rate (the robot's), else the fastest topic's: messages per second over its span."""
    states = [t for t, d in data.items() if (d.kind == "joints" or t in joints) and len(rel.get(t, ())) > 1]
    pool = states or [t for t in rel if len(rel[t]) > 1]
    rates = [(len(rel[t]) - 1) / (rel[t][-1] - rel[t][0]) for t in pool if rel[t][-1] > rel[t][0]]
    return float(max(rates)) if rates else None
