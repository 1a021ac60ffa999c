"""Which time a topic is on (`adapters.rosbag.clock.choose`): header stamps when they are usable evidence of the
recorder's clock, receive times otherwise, with the reason. Checked on the real WidowX 200 joint states (stamped by
the driver a few ms before the recorder logged them) and on the same messages with their stamps spoiled the ways
publishers spoil them: never filled (zero), filled once (constant), out of order, on another clock."""

from __future__ import annotations

import numpy as np
import pytest
from rosbags.highlevel import AnyReader

from adapters.rosbag.clock import choose
from adapters.rosbag.fields import header_of, stamp_ns
from tests.adapters.rosbag.test_real import INTERBOTIX, WX200
from tests.realdata import realdata


@pytest.fixture(scope="module")
def real_joint_times() -> tuple[np.ndarray, np.ndarray]:
    """(receive ns, header stamp ns) of every /wx200/joint_states message of the real ROS 1 bag."""
    with AnyReader([realdata(INTERBOTIX) / WX200[0]]) as r:
        conns = [c for c in r.connections if c.topic == "/wx200/joint_states"]
        pairs = [(t, stamp_ns(header_of(r.deserialize(raw, c.msgtype)).stamp)) for c, t, raw in r.messages(conns)]
    log, stamp = (np.array(v, np.int64) for v in zip(*pairs, strict=True))
    return log, stamp


def test_real_stamps_on_the_recorders_clock_are_chosen_with_their_latency(real_joint_times) -> None:
    log, stamp = real_joint_times
    c = choose(log, stamp, "auto", 1.0)
    assert c.choice == "header" and c.reason == "header stamps non-zero, non-decreasing, on the receive clock"
    lat = (log - stamp) / 1e9
    assert np.all(lat > 0)  # the driver stamps before the recorder receives
    assert c.latency_median_s == pytest.approx(np.sort(lat)[len(lat) // 2], abs=1e-4)
    assert 0 < c.latency_median_s < 0.01 and c.latency_max_s == pytest.approx(lat.max())
    assert c.record() == {
        "stamps": "header",
        "stamps_reason": c.reason,
        "latency_median_s": c.latency_median_s,
        "latency_max_s": c.latency_max_s,
    }


def test_stamps_that_are_not_a_clock_fall_back_to_receive_times_with_the_reason(real_joint_times) -> None:
    log, stamp = real_joint_times
    zero = stamp.copy()
    zero[::3] = 0  # a publisher that fills some headers and not others
    c = choose(log, zero, "auto", 1.0)
    assert c.choice == "receive" and c.reason == f"{len(zero[::3])} of {len(zero)} header stamps are zero"
    back = stamp.copy()
    back[[100, 500]] = back[[99, 499]] - 1_000_000  # two messages stamped before their predecessors
    assert choose(log, back, "auto", 1.0).reason == "header stamps go back 2 times"
    sim = stamp - stamp[0] + 5_000_000_000  # simulation time: seconds since the simulator started
    c = choose(log, sim, "auto", 1.0)
    assert c.choice == "receive" and "another clock" in c.reason
    assert c.latency_median_s == pytest.approx((log[0] - 5e9) / 1e9, rel=1e-6)  # the offset is recorded


def test_constant_stamps_are_not_a_clock_even_close_to_the_receive_times(real_joint_times) -> None:
    # A publisher that copies one header into every message: the stamps never decrease and, over a short stretch,
    # sit within the tolerance of the receive times, yet taking them would put every message at one instant.
    log, stamp = (a[:50] for a in real_joint_times)  # 0.5 s at 100 Hz
    const = np.full_like(stamp, stamp[25])
    c = choose(log, const, "auto", 1.0)
    assert c.choice == "receive" and "never advance" in c.reason
    assert choose(log, const, "header", 1.0).choice == "receive"
    one = choose(log[:1], stamp[:1], "auto", 1.0)  # a single message: nothing to advance, its stamp is usable
    assert one.choice == "header"


def test_tolerance_is_the_line_between_one_clock_and_another() -> None:
    log = np.arange(20, dtype=np.int64) * 100_000_000 + 10**18
    for latency_s, choice in ((0.9, "header"), (1.1, "receive"), (-0.9, "header"), (-1.1, "receive")):
        c = choose(log, log - round(latency_s * 1e9), "auto", 1.0)
        assert c.choice == choice, latency_s
        assert c.latency_median_s == pytest.approx(latency_s)  # receive - stamp: positive when received later


def test_the_option_forces_a_choice_and_header_is_refused_where_stamps_are_unusable(real_joint_times) -> None:
    log, stamp = real_joint_times
    c = choose(log, stamp, "receive", 1.0)
    assert (c.choice, c.reason) == ("receive", "stamps: receive (option)") and c.latency_median_s is not None
    assert choose(log, stamp, "header", 1.0).reason == "stamps: header (option)"
    c = choose(log, np.zeros_like(stamp), "header", 1.0)
    assert c.choice == "receive" and c.reason.endswith("(stamps: header refused for this topic)")
    c = choose(log, None, "header", 1.0)  # no header at all: nothing to refuse, nothing measured
    assert (c.choice, c.reason, c.latency_median_s, c.latency_max_s) == ("receive", "no header", None, None)
