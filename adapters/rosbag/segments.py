"""Where a bag's episodes begin and end (`options.EpisodeCut`), on the bag's receive clock, in integer nanoseconds.

Each function returns half-open [start, end) spans; a span shorter than `min_s` is returned apart, for the finding
that names it. The bag's messages inside a span are the episode's (`adapters.rosbag.adapter`).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

import numpy as np

Span = tuple[int, int]
NS = 1_000_000_000


def split_short(spans: Sequence[Span], min_s: float) -> tuple[list[Span], list[Span]]:
    keep = [s for s in spans if (s[1] - s[0]) / NS >= min_s]
    return keep, [s for s in spans if s not in keep]


def whole(start_ns: int, end_ns: int) -> list[Span]:
    """The whole bag: its first message to just after its last."""
    return [(start_ns, end_ns + 1)]


def windows(start_ns: int, end_ns: int, window_s: float) -> list[Span]:
    """Fixed windows from the first message on; the last one ends after the last message."""
    step = round(window_s * NS)
    return [(a, min(a + step, end_ns + 1)) for a in range(start_ns, end_ns + 1, step)]


def gaps(times_ns: np.ndarray, gap_s: float) -> list[Span]:
    """The stretches between silences longer than `gap_s` (no message of the counted topics)."""
    t = np.sort(np.asarray(times_ns, dtype=np.int64))
    if not len(t):
        return []
    cut = np.flatnonzero(np.diff(t) > round(gap_s * NS))
    starts = [int(t[0]), *(int(t[i + 1]) for i in cut)]
    ends = [*(int(t[i]) + 1 for i in cut), int(t[-1]) + 1]
    return list(zip(starts, ends, strict=True))


def marked(times_ns: Sequence[int], values: Sequence[float | None], end_ns: int) -> list[Span]:
    """Spans a marker topic opens. With values (a Bool or a number), an episode runs from a message that turns it
    true (non-zero) to the next that turns it false; one still open at the end closes after the bag's last message.
    Without (a String, an Empty, any other type), each message opens one, closed by the next or the bag's end."""
    if values and all(v is not None for v in values):
        # the first message of each run of true (false) values opens (closes) a span; runs alternate
        runs = groupby(zip(times_ns, values, strict=True), key=lambda tv: bool(tv[1]))
        edges = [next(run)[0] for _, run in runs][0 if values[0] else 1 :]
        return list(zip(edges[::2], [*edges[1::2], end_ns + 1], strict=False))
    marks = list(times_ns)
    return [(a, b) for a, b in zip(marks, [*marks[1:], end_ns + 1], strict=True) if b > a]
