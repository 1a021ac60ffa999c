"""Where a bag's episodes begin and end (`options.EpisodeCut`), on the bag's receive clock, in integer nanoseconds.

Each function returns half-open [start, end) spans; a span shorter than `min_s` is returned apart, for the finding
that names it. The bag's messages inside a span are the episode's (`adapters.rosbag.adapter`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby

import numpy as np

Span = tuple[int, int]
NS = 1_000_000_000


def split_short(spans: Iterable[Span], min_s: float) -> tuple[list[Span], list[Span]]:
    """The spans at least `min_s` long and the others, each in order (one pass: 10^5 windows took minutes with a
    membership test per span, reliability-5 1h)."""
    keep: list[Span] = []
    short: list[Span] = []
    for s in spans:
        (keep if (s[1] - s[0]) / NS >= min_s else short).append(s)
    return keep, short


def whole(start_ns: int, end_ns: int) -> list[Span]:
    """The whole bag: its first message to just after its last."""
    return [(start_ns, end_ns + 1)]


def windows(times_ns: np.ndarray, window_s: float) -> Iterator[Span]:
    """Fixed windows from the first message on, the last ending after the last message: only those that hold a
    message, generated one by one from the log times read (never from the range a bag states: one message stamped
    at 1 ns before a clock was set, or a lying MCAP Statistics record, made 1.7e8 windows of 10 s, reliability-5 1g-1j;
    a window with no message was an episode with nothing in it)."""
    t = np.sort(np.asarray(times_ns, dtype=np.int64))
    if not len(t):
        return
    step, first, last = round(window_s * NS), int(t[0]), int(t[-1])
    for k in np.unique((t - t[0]) // step).tolist():
        a = first + k * step  # Python ints: no int64 overflow near 2^63
        yield a, min(a + step, last + 1)


def gaps(times_ns: np.ndarray, gap_s: float) -> list[Span]:
    """The stretches between silences longer than `gap_s` (no message of the counted topics)."""
    t = np.sort(np.asarray(times_ns, dtype=np.int64))
    if not len(t):
        return []
    cut = np.flatnonzero(np.diff(t) > round(gap_s * NS))
    starts = [int(t[0]), *(int(t[i + 1]) for i in cut)]
    return list(zip(starts, [*(int(t[i]) + 1 for i in cut), int(t[-1]) + 1], strict=True))


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
