"""`adapters.same_signal`: streams carrying the same signal ranked by their coverage of the episode, then their rate,
and the sentence that names the stream read and the others."""

from __future__ import annotations

import numpy as np

from adapters.base import Stream
from adapters.same_signal import GAP_S, choices_said, coverage, finite_times, rank, rank_streams, shared

ARM = [f"panda_joint{i}" for i in range(1, 8)]


def _times(a: float, b: float, hz: float) -> np.ndarray:
    return np.arange(round((b - a) * hz) + 1) / hz + a


def _joints(t: np.ndarray, names: list[str]) -> Stream:
    return Stream(t, np.zeros((len(t), len(names))), tuple(names))


def test_coverage_comes_before_rate_and_alike_coverage_goes_to_rate() -> None:
    """The real Franka bag's shape: the robot's state over the whole 59.5 s at 30 Hz beats a controller's 22 s at a
    higher rate; two streams covering the same seconds (within a canonical frame) go to the faster."""
    whole, part = _times(0.0, 59.5, 30), _times(36.7, 58.7, 100)
    assert [c.name for c in rank({"hocook": part, "joint_states": whole})] == ["joint_states", "hocook"]
    fast = _times(0.03, 59.5, 100)  # 0.03 s less: alike on the 10 Hz grid
    assert [c.name for c in rank({"a": whole, "b": fast})] == ["b", "a"]
    assert [c.name for c in rank({"b": whole, "a": whole.copy()})] == ["a", "b"]  # all alike: a stable order


def test_a_gap_and_non_finite_rows_are_not_covered() -> None:
    """Two messages a minute apart cover nothing (a step over GAP_S is a gap where canonicalization cuts); rows
    whose values are all NaN (a JointState lacking the joint) are no samples."""
    assert coverage("sparse", np.array([0.0, 59.0])).covered_s == 0.0
    t = _times(0.0, 10.0, 10)
    gap = np.concatenate([t[t < 3], t[t > 3 + 2 * GAP_S]])
    assert coverage("gap", gap).covered_s < 10 - 2 * GAP_S + 0.2
    values = np.ones((len(t), 2))
    values[: len(t) // 2] = np.nan
    half = Stream(t, values, ("a", "b"))
    np.testing.assert_array_equal(finite_times(half), t[len(t) // 2 :])
    full = Stream(t, np.ones((len(t), 2)), ("a", "b"))
    assert [c.name for c in rank_streams({"a_half": half, "full": full})] == ["full", "a_half"]


def test_streams_one_of_whose_joints_contains_the_others_share_and_partial_overlaps_do_not() -> None:
    """Franka: /joint_states (the arm and fingers) contains both controllers' arms: every arm joint follows it, the
    fingers are no choice. ATS (real sample rosbag_ats): a driver's q0..q2 beside a controller's and a servo's
    q1..q3: only the two q1..q3 share, so q0..q2 never follow another recorder's clock for part of an arm."""
    franka = {
        "hocook": (_joints(_times(36.7, 58.7, 30), ARM), ARM),
        "joint_states": (_joints(_times(0.0, 59.5, 30), [*ARM, "f1", "f2"]), [*ARM, "f1", "f2"]),
        "p2p": (_joints(_times(6.5, 36.6, 30), ARM), ARM),
    }
    ranked = shared(franka)
    assert set(ranked) == set(ARM)
    assert [c.name for c in ranked["panda_joint1"]] == ["joint_states", "p2p", "hocook"]
    q012, q123 = ["q0", "q1", "q2"], ["q1", "q2", "q3"]
    ats = {
        "controller": (_joints(_times(2.7, 7.9, 12), q123), q123),
        "servo_in": (_joints(_times(2.4, 6.0, 15), q123), q123),
        "servo_out": (_joints(_times(0.0, 7.9, 16), q012), q012),
    }
    ranked = shared(ats)
    assert set(ranked) == set(q123)
    assert {tuple(c.name for c in r) for r in ranked.values()} == {("controller", "servo_in")}


def test_the_sentence_names_the_stream_read_and_the_others_with_their_seconds() -> None:
    named = {
        "hocook": (_joints(_times(36.7, 58.7, 30), ARM), ARM),
        "joint_states": (_joints(_times(0.0, 59.5, 30), ARM), ARM),
    }
    [said] = choices_said("joints", [*ARM, "other"], shared(named))
    assert said.startswith("joints panda_joint1 .. panda_joint7 (7 of them) read from joint_states (0.00..59.50 s")
    assert "not read: hocook (36.70..58.70 s: 22.0 s covered, 30 Hz)" in said
    assert choices_said("joints", ["other"], shared(named)) == []
