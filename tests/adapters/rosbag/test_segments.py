"""Episode spans (`adapters.rosbag.segments`): whatever the cut, every message of the stretch it covers falls in
exactly one half-open span, spans never overlap, and a marker topic opens and closes them as its values say."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.rosbag import segments
from adapters.rosbag.segments import NS

RNG = np.random.default_rng(7)
# message times of a bag with two silences (0.8 s and 2.5 s) and a burst of equal times
TIMES = (
    np.sort(
        np.concatenate(
            [
                RNG.integers(0, 3 * NS, 400),
                RNG.integers(round(3.8 * NS), 6 * NS, 300),
                np.full(5, 6 * NS),
                RNG.integers(round(8.5 * NS), 9 * NS, 50),
            ]
        )
    ).astype(np.int64)
    + 10**18
)


def _owners(spans: list[tuple[int, int]], times: np.ndarray) -> np.ndarray:
    """How many spans hold each time."""
    return np.array([sum(a <= t < b for a, b in spans) for t in times])


def _disjoint_in_order(spans: list[tuple[int, int]]) -> bool:
    return all(a < b for a, b in spans) and all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))


def test_the_whole_bag_holds_its_last_message() -> None:
    (span,) = segments.whole(int(TIMES[0]), int(TIMES[-1]))
    assert np.all(_owners([span], TIMES) == 1)


@pytest.mark.parametrize("window_s", [0.5, 1.0, 2.3, 20.0])
def test_windows_lose_no_message_and_never_overlap(window_s: float) -> None:
    spans = list(segments.windows(RNG.permutation(TIMES), window_s))
    step = round(window_s * NS)
    assert np.all(_owners(spans, TIMES) == 1) and _disjoint_in_order(spans)
    assert spans[0][0] == TIMES[0] and spans[-1][1] == TIMES[-1] + 1
    assert all((a - spans[0][0]) % step == 0 for a, _ in spans)  # on the grid from the first message
    assert all(b - a == step for a, b in spans[:-1]) and spans[-1][1] - spans[-1][0] <= window_s * NS
    every = range(int(TIMES[0]), int(TIMES[-1]) + 1, step)  # the grid; a window holding no message is not cut
    assert [a for a, _ in spans] == [a for a in every if np.any((a <= TIMES) & (a + step > TIMES))]


def test_a_bag_exactly_n_windows_long_keeps_its_last_message_in_a_last_short_span() -> None:
    spans = list(segments.windows(np.array([0, NS // 2, NS, 2 * NS, 3 * NS]), 1.0))
    assert spans == [(0, NS), (NS, 2 * NS), (2 * NS, 3 * NS), (3 * NS, 3 * NS + 1)]
    keep, short = segments.split_short(spans, 0.5)
    assert keep == spans[:3] and short == [spans[3]]  # left out, and returned for the finding that names it


def test_windows_come_from_the_messages_not_the_range_a_bag_states() -> None:
    # one message at 1 ns (a clock not yet set), the rest 1.7e18 ns later: 1.7e8 windows of 10 s on the stated range
    times = np.array([1, *(17 * 10**17 + k * NS // 10 for k in range(100))], np.int64)
    spans = list(segments.windows(times, 10.0))
    grid = 1 + 169_999_999 * 10 * NS  # the grid from 1 ns: the message at 1.7e18 ns ends the window before
    assert spans == [(1, 1 + 10 * NS), (grid, grid + 10 * NS), (grid + 10 * NS, 17 * 10**17 + 99 * NS // 10 + 1)]
    assert np.all(_owners(spans, times) == 1)
    near_max = np.array([2**63 - 10, 2**63 - 2])  # a lying log time near int64's end: no overflow
    assert list(segments.windows(near_max, 1.0)) == [(2**63 - 10, 2**63 - 1)]


def test_windows_and_split_short_are_linear() -> None:
    times = np.arange(200_000, dtype=np.int64) * NS  # 2e5 windows of 1 s: minutes with the old quadratic filter
    keep, short = segments.split_short(segments.windows(times, 1.0), 0.5)
    assert len(keep) == 199_999 and short == [(199_999 * NS, 199_999 * NS + 1)]


def test_gaps_cut_at_every_silence_longer_than_gap_s_and_nowhere_else() -> None:
    shuffled = RNG.permutation(TIMES)  # the counted topics' times arrive topic by topic, not sorted
    spans = segments.gaps(shuffled, 0.7)
    assert np.all(_owners(spans, TIMES) == 1) and _disjoint_in_order(spans)
    assert len(spans) == 3  # the 0.8 s and 2.5 s silences
    for a, b in spans:  # inside a span no silence exceeds gap_s; between spans every silence does
        inside = TIMES[np.searchsorted(TIMES, a) : np.searchsorted(TIMES, b)]
        assert inside[0] == a and inside[-1] == b - 1 and np.all(np.diff(inside) <= 0.7 * NS)
    assert all(spans[i + 1][0] - (spans[i][1] - 1) > 0.7 * NS for i in range(len(spans) - 1))
    assert len(segments.gaps(TIMES, 3.0)) == 1 and segments.gaps(np.array([], np.int64), 1.0) == []


def test_a_bool_marker_opens_on_true_and_closes_on_false() -> None:
    t = [10, 20, 30, 40, 50, 60, 70]
    v = [0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]  # a repeated true does not reopen, a repeated false closes nothing
    assert segments.marked(t, v, end_ns=100) == [(20, 40), (60, 101)]  # one still open closes after the bag's end
    assert segments.marked(t, [0.0] * 7, end_ns=100) == []
    assert segments.marked([5, 9, 12], [2.5, -1.0, 0.0], end_ns=20) == [(5, 12)]  # a number: non-zero is true


def test_a_marker_without_values_opens_one_episode_per_message_covering_everything_after_the_first() -> None:
    marks = [100, 250, 250, 400]  # a String, an Empty: each message opens one; two at one instant open one
    spans = segments.marked(marks, [None] * 4, end_ns=999)
    assert spans == [(100, 250), (250, 400), (400, 1000)]
    after = np.arange(100, 1000)
    assert np.all(_owners(spans, after) == 1) and _disjoint_in_order(spans)
    mixed = segments.marked([1, 2, 3], [1.0, None, 0.0], end_ns=9)  # any value missing: every message a mark
    assert mixed == [(1, 2), (2, 3), (3, 10)]


def test_split_short_keeps_the_order_and_returns_every_short_span() -> None:
    spans = [(0, NS), (NS, NS + NS // 4), (2 * NS, 2 * NS + NS // 2), (3 * NS, 5 * NS)]
    keep, short = segments.split_short(spans, 0.5)
    assert keep == [spans[0], spans[2], spans[3]] and short == [spans[1]]
    assert segments.split_short(spans, 0.0) == (spans, [])
