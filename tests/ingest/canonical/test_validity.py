"""Validity: each check flags exactly the frames it should, spans and rejection follow, unmasked dims never matter; a
rejection names the spec keys behind it (on HOT3D's real samples too)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from adapters.registry import get_adapter
from ingest.canonical.validity import CHECKS, check_validity, runs, window_turn
from ingest.frames import matrix_to_rot6d
from schemas.canonical import CANONICAL_DIM, FINGERTIPS_XYZ, GRIPPER, WRIST_POS, WRIST_ROT6D, hand_block, hand_dims
from schemas.canonicalize import CanonicalizeSpec, KinematicLimits, ValidityConfig, Workspace
from schemas.qa import ValidityReport
from schemas.robots.registry import default_registry
from tests.fixtures.motion import two_hands
from tests.fixtures.offline import prepare
from tests.realdata import realdata

REG = default_registry()
FRANKA = REG.get("franka").mask()
HUMAN = REG.get("human").mask()
RIGHT = 1
CFG = ValidityConfig()


def robot(n: int = 100) -> np.ndarray:
    """A Franka right hand on a smooth loop well inside every limit; the left hand is zeros as canonicalize writes."""
    t = np.arange(n) / 10.0
    s = np.zeros((n, CANONICAL_DIM), dtype=np.float32)
    w = 2 * np.pi * t / 8.0
    s[:, hand_dims(RIGHT, WRIST_POS)] = np.stack([0.4 + 0.1 * np.sin(w), 0.1 * np.cos(w), 0.3 + 0.05 * np.sin(w)], 1)
    s[:, hand_dims(RIGHT, WRIST_ROT6D)] = [1, 0, 0, 0, 1, 0]
    s[:, hand_dims(RIGHT, GRIPPER)] = (0.5 + 0.4 * np.sin(w))[:, None]
    return s


def ts(n: int) -> np.ndarray:
    return np.arange(n) / 10.0


def check(state: np.ndarray, mask: np.ndarray = FRANKA, emb: str = "franka", **kw) -> ValidityReport:
    kw.setdefault("timestamps", ts(len(state)))
    kw.setdefault("config", CFG)
    return check_validity(state, mask=mask, embodiment=emb, **kw)


def flagged(report: ValidityReport) -> set[int]:
    return set(np.flatnonzero(~report.valid).tolist())


def only(report: ValidityReport, **expected: int) -> None:
    """Exactly the named checks fired, with these frame counts."""
    assert {k: v for k, v in report.reasons.items() if k in CHECKS and v} == expected


def test_clean_episode_is_all_valid() -> None:
    r = check(robot())
    assert r.valid.all() and r.keep == [(0, 100)] and r.rejected is None
    assert not any(r.reasons.values()) and r.invalid_fraction == 0.0 and sum(e - s for s, e in r.keep) == 100


@pytest.mark.parametrize("policy", ["drop", "mask"])
def test_nan_at_frame_k(policy: str) -> None:
    s = robot()
    s[40, hand_dims(RIGHT, WRIST_ROT6D)][2] = np.nan
    r = check(s, config=ValidityConfig(policy=policy))
    assert flagged(r) == {40}
    only(r, non_finite=1)
    assert r.keep == ([(0, 40), (41, 100)] if policy == "drop" else [(0, 100)])
    assert r.invalid_fraction == pytest.approx(0.01)


def test_mask_policy_trims_invalid_ends_and_keeps_interior() -> None:
    s = robot()
    s[[0, 1, 2, 50, 98, 99], hand_dims(RIGHT, GRIPPER)] = np.inf
    r = check(s, config=ValidityConfig(policy="mask"))
    assert r.keep == [(3, 98)] and not r.valid[50]


def test_nonfinite_action_and_keypoints_only_in_masked_dims_or_present_hands() -> None:
    s, a = robot(), np.zeros((100, CANONICAL_DIM), dtype=np.float32)
    a[10, hand_dims(RIGHT, WRIST_POS)] = np.nan
    a[20, hand_block(0)] = np.nan  # left hand: not in the Franka mask
    kp = np.zeros((100, 2, 21, 3), dtype=np.float32)
    kp[30, 1, 4] = np.nan
    kp[35, 0] = np.nan  # left hand keypoints: absent hand
    r = check(s, action=a, keypoints=kp)
    assert flagged(r) == {10, 30}


def test_duplicate_and_backward_timestamps() -> None:
    t = ts(100)
    t[30] = t[29]
    assert flagged(check(robot(), timestamps=t)) == {30}
    t = ts(100)
    t[60:64] = [5.0, 5.5, 5.6, 5.7]  # time jumps back: every frame not past frame 59's 5.9 s is flagged
    r = check(robot(), timestamps=t)
    assert flagged(r) == {60, 61, 62, 63}
    only(r, timestamps=4)


def test_single_frame_teleport_flags_the_frames_around_it() -> None:
    s = robot()
    s[50, hand_dims(RIGHT, WRIST_POS)][0] += 0.5  # 5 m/s out and back
    speed_only = ValidityConfig(limits={"franka": KinematicLimits(max_wrist_speed_m_s=1.7, max_wrist_acc_m_s2=1e6)})
    r = check(s, config=speed_only)
    assert flagged(r) == {49, 50, 51}
    only(r, speed=3)
    acc_only = ValidityConfig(limits={"franka": KinematicLimits(max_wrist_speed_m_s=1e6, max_wrist_acc_m_s2=13)})
    assert flagged(check(s, config=acc_only)) == {49, 50, 51}


def test_step_teleport_flags_both_sides_of_the_jump() -> None:
    s = robot()
    s[50:, hand_dims(RIGHT, WRIST_POS)][:, 2] += 0.4
    r = check(s)
    only(r, speed=2, acceleration=2)
    assert flagged(r) == {49, 50}
    assert r.keep == [(0, 49), (51, 100)]


def test_out_of_workspace() -> None:
    s = robot()
    s[:, hand_dims(RIGHT, WRIST_POS)] = np.stack([np.arange(100) * 0.01, np.zeros(100), np.full(100, 0.3)], 1)
    box = Workspace(low=(-0.1, -0.5, 0.0), high=(0.5, 0.5, 1.0))
    r = check(s, config=ValidityConfig(limits={"franka": KinematicLimits(workspace=box)}))
    assert flagged(r) == set(range(51, 100))
    only(r, workspace=49)
    # The default Franka box holds a 1 m reach.
    assert check(s).valid.all()


def test_low_confidence_only_for_present_hands() -> None:
    s, c = two_hands(), np.ones((300, 2))
    c[20:25, 1] = 0.2
    c[40, 0] = np.nan
    r = check(s, HUMAN, "human", confidence=c, human=True)
    assert flagged(r) == {20, 21, 22, 23, 24, 40}
    only(r, low_confidence=6)
    right_only = HUMAN.copy()
    right_only[hand_block(0)] = False
    c[:, 0] = 0.0  # the left hand is not part of this embodiment
    assert flagged(check(s, right_only, "human", confidence=c, human=True)) == {20, 21, 22, 23, 24}


@pytest.mark.parametrize("pad", [0.0, np.nan])
def test_trailing_padding_is_truncated(pad: float) -> None:
    s = robot()
    s[93:, FRANKA] = pad
    r = check(s)
    assert flagged(r) == set(range(93, 100))
    assert r.reasons["truncated"] == 7 and r.reasons["speed"] == 0 and r.reasons["acceleration"] == 0
    assert r.keep == [(0, 93)]


def test_all_zero_state_inside_the_episode_is_a_dropout() -> None:
    s = robot()
    s[30, FRANKA] = 0.0
    r = check(s)
    assert flagged(r) == {30}
    only(r, zero_state=1)


def test_unmasked_dims_never_flag() -> None:
    """The absent left hand: zeros, garbage, NaN, teleports, out-of-box values, low confidence change nothing."""
    clean = check(robot())
    s = robot()
    rng = np.random.default_rng(0)
    left = hand_block(0)
    s[:, left] = rng.normal(0, 100, size=(100, 25))
    s[::7, left] = np.nan
    s[:, hand_dims(RIGHT, slice(10, 25))] = np.inf  # right fingertips: a gripper has none
    c = np.ones((100, 2))
    c[:, 0] = 0
    r = check(s, confidence=c)
    assert r.valid.all() and r.reasons == clean.reasons and r.keep == clean.keep


def test_motionless_human_fragment_is_removed_and_the_rest_kept() -> None:
    s = two_hands(300, frozen=(100, 200))
    r = check(s, HUMAN, "human", human=True)
    assert r.valid.all() and r.rejected is None and r.invalid_fraction == 0.0
    (s0, e0), (s1, e1) = r.keep
    assert s0 == 0 and 100 <= e0 <= 118 and 182 <= s1 <= 200 and e1 == 300
    assert r.static[115:185].all() and not r.static[:100].any() and not r.static[200:].any()
    assert r.reasons["static_hands"] == r.static.sum() >= 70
    # Only human data is cropped; a brief pause (shorter than the window) stays.
    assert check(s, HUMAN, "human", human=False).keep == [(0, 300)]
    assert check(two_hands(300, frozen=(100, 115)), HUMAN, "human", human=True).keep == [(0, 300)]


def test_moving_fingers_with_a_still_wrist_are_motion() -> None:
    s = two_hands(300, frozen=(0, 300))
    s[:, hand_dims(1, FINGERTIPS_XYZ)] += (0.05 * np.sin(np.arange(300) / 5.0))[:, None]
    assert check(s, HUMAN, "human", human=True).keep == [(0, 300)]
    assert check(two_hands(300, frozen=(0, 300)), HUMAN, "human", human=True).rejected is not None


def test_too_short_episode_is_rejected_with_a_reason() -> None:
    r = check(robot(5))
    assert r.keep == [] and r.rejected == "episode too short: 5 frames < canonicalize.validity.min_length_frames 10"


def test_nothing_long_enough_after_cleaning_is_rejected() -> None:
    s = robot(60)
    s[::6, hand_dims(RIGHT, GRIPPER)] = np.nan
    r = check(s)
    assert r.keep == [] and r.reasons["short_span"] == 50
    assert r.rejected is not None and r.rejected.startswith(
        "no span of at least canonicalize.validity.min_length_frames 10"
    )
    assert "longest 5 of 60 frames" in r.rejected and "non_finite 10" in r.rejected


def test_no_valid_frame_is_rejected() -> None:
    s = robot()
    s[:, FRANKA] = np.nan
    r = check(s)
    assert not r.valid.any() and r.keep == [] and r.rejected is not None
    assert r.rejected.startswith("no valid frame among 100") and r.invalid_fraction == 1.0


def test_mostly_invalid_episode_is_rejected_even_with_a_long_span() -> None:
    s = robot()
    s[40:, hand_dims(RIGHT, GRIPPER)] = np.nan
    r = check(s)
    assert r.rejected == "invalid frame fraction 0.60 > canonicalize.validity.max_gap_fraction 0.50 (non_finite 60)"


def test_empty_and_single_frame() -> None:
    r = check(robot(0))
    assert r.rejected == "empty episode (0 frames)" and r.invalid_fraction == 0.0
    one = check(robot(1), config=ValidityConfig(min_length_frames=1))
    assert one.valid.tolist() == [True] and one.keep == [(0, 1)]


def test_video_only_mask_checks_time_and_length_only() -> None:
    off = np.zeros(CANONICAL_DIM, dtype=bool)
    r = check(np.zeros((50, CANONICAL_DIM), np.float32), off, "human_video")
    assert r.valid.all() and r.keep == [(0, 50)]


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="below high"):
        Workspace(low=(0, 0, 1), high=(1, 1, 1))
    with pytest.raises(ValueError):
        ValidityConfig(min_confidence=1.5)
    with pytest.raises(ValueError):
        ValidityConfig(policy="zero")  # type: ignore[arg-type]
    assert CFG.limits_for("widowx") == CFG.default_limits and CFG.limits_for("franka").max_wrist_speed_m_s == 1.7


@settings(max_examples=60, deadline=None)
@given(
    bad=st.lists(st.integers(0, 79), max_size=25),
    policy=st.sampled_from(["drop", "mask"]),
    min_len=st.integers(1, 20),
)
def test_spans_are_sorted_disjoint_long_and_consistent(bad: list[int], policy: str, min_len: int) -> None:
    s = robot(80)
    s[bad, hand_dims(RIGHT, GRIPPER)] = np.nan
    r = check(s, config=ValidityConfig(policy=policy, min_length_frames=min_len, max_gap_fraction=1.0))
    assert flagged(r) == set(bad)
    if r.rejected:
        assert r.keep == []
        return
    prev = 0
    for a, b in r.keep:
        assert prev <= a < b <= 80 and b - a >= min_len
        assert r.valid[a] and r.valid[b - 1]
        if policy == "drop":
            assert r.valid[a:b].all()
        prev = b
    if policy == "drop":  # every valid frame outside the spans sits in a run too short to keep
        starts, ends = runs(r.valid)
        assert [(int(a), int(b)) for a, b in zip(starts, ends, strict=True) if b - a >= min_len] == r.keep


@settings(max_examples=30, deadline=None)
@given(shift=st.tuples(*[st.floats(-1.0, 1.0)] * 3), k=st.integers(1, 98))
def test_report_is_invariant_to_a_rigid_shift_without_workspace(shift: tuple[float, float, float], k: int) -> None:
    """Speed and acceleration depend on differences only; a teleport is a teleport wherever it happens."""
    no_box = ValidityConfig(limits={"human": KinematicLimits(workspace=None)})
    s = two_hands(100)
    s[k, hand_dims(0, WRIST_POS)] += 1.0
    moved = s.copy()
    for h in (0, 1):
        moved[:, hand_dims(h, WRIST_POS)] += np.asarray(shift, dtype=np.float32)
    a = check(s, HUMAN, "human", config=no_box, human=True)
    b = check(moved, HUMAN, "human", config=no_box, human=True)
    assert (a.valid == b.valid).all() and a.keep == b.keep and a.reasons == b.reasons
    assert flagged(a) == {k - 1, k, k + 1}


def test_one_hour_of_human_data_splits_at_its_freeze() -> None:
    """One hour at 10 Hz with a 200 s freeze keeps both moving stretches (speed: benchmarks/episode_checks.py)."""
    n = 36_000
    s, c = two_hands(n, frozen=(10_000, 12_000)), np.ones((n, 2))
    kp = np.zeros((n, 2, 21, 3), np.float32)
    r = check(s, HUMAN, "human", confidence=c, keypoints=kp, action=s, human=True)
    assert len(r.keep) == 2


def test_a_hand_untracked_in_a_frame_leaves_the_frame_to_the_other_hand() -> None:
    """Per hand and frame: the left hand NaN (untracked) in frames 40..59 does not flag them while the right is
    tracked; a frame where neither hand is tracked is `non_finite`, as its values are. Without `hand_valid` the same
    NaN is a defect of the frame (a robot's NaN joint reading), as before."""
    s = two_hands(100).astype(np.float64)
    left = hand_dims(0, slice(0, 25))
    s[40:60, left] = np.nan
    tracked = np.ones((100, 2), dtype=bool)
    tracked[40:60, 0] = False
    kp = np.ones((100, 2, 21, 3))
    kp[40:60, 0] = np.nan
    r = check(s, HUMAN, "human", human=True, hand_valid=tracked, keypoints=kp)
    assert r.valid.all() and r.keep == [(0, 100)] and r.rejected is None
    assert flagged(check(s, HUMAN, "human", human=True, keypoints=kp)) == set(range(40, 60))  # the old reading
    tracked[50, 1] = False  # and the right hand lost at frame 50: nothing left of that frame
    s[50, hand_dims(1, slice(0, 25))] = np.nan
    r = check(s, HUMAN, "human", human=True, hand_valid=tracked, keypoints=kp)
    assert flagged(r) == {50} and r.keep == [(0, 50), (51, 100)]
    only(r, non_finite=1)


def test_a_hand_going_untracked_is_no_speed_jump_and_no_static_hand() -> None:
    """The untracked frames' values (here 0, far from the tracked wrist) are not read: no speed or acceleration across
    them, and the motionless check holds each hand's last tracked pose through them."""
    s = two_hands(100).astype(np.float64)
    tracked = np.ones((100, 2), dtype=bool)
    tracked[30:70:2, 0] = False  # the left hand seen every other frame
    s[~tracked[:, 0], hand_dims(0, slice(0, 25))] = 0.0
    r = check(s, HUMAN, "human", human=True, hand_valid=tracked)
    assert r.valid.all() and r.keep == [(0, 100)]
    assert flagged(check(s, HUMAN, "human", human=True))  # read as values, the zeros are jumps


def rot6d_about_z(degrees: np.ndarray) -> np.ndarray:
    return matrix_to_rot6d(Rotation.from_euler("z", np.asarray(degrees, float)[:, None], degrees=True).as_matrix())


def test_window_turn_is_the_largest_angle_in_the_centred_window() -> None:
    """The turning twin of `window_spread`: a steady 2 deg a frame spans 20 deg over 11 frames (less at the ends,
    whose windows are cut), a turn out and back within the window counts though its ends agree, a non-finite row
    takes its previous value, and a degenerate one turns nothing."""
    steady = np.degrees(window_turn(rot6d_about_z(2.0 * np.arange(30)), 11))
    assert steady[5:25] == pytest.approx(20.0, abs=1e-4) and steady[0] == pytest.approx(10.0, abs=1e-4)
    back = np.degrees(window_turn(rot6d_about_z([0, 0, 0, 15, 30, 15, 0, 0, 0]), 11))
    assert back == pytest.approx(30.0, abs=1e-4)
    rows = rot6d_about_z(np.zeros(20))
    rows[10] = np.nan
    assert window_turn(rows, 11) == pytest.approx(0.0, abs=1e-6)
    rows[10] = 0.0  # a zero first column: no orientation to measure
    assert window_turn(rows, 11) == pytest.approx(0.0, abs=1e-6)


def test_the_real_hot3d_samples_refusals_name_the_keys_that_relax_them() -> None:
    """HOT3D's trimmed samples (0.47 s of Quest 3, 1.1 s of Aria with hands that do not move) are refused by validity
    naming the spec keys behind the refusal (newcomer-10 F4: the key was not named); setting those keys keeps them."""
    adapter = get_adapter("hot3d")
    refs = sorted(adapter.discover(realdata("hot3d_data_sample")), key=lambda r: r.raw_id)
    relaxed = CanonicalizeSpec.model_validate({"validity": {"min_length_frames": 1, "min_hand_motion_m": 0}})
    said = []
    for ref in refs:
        raw = adapter.read(ref)
        said.append(prepare(raw).rejection_message())
        assert [ep.num_frames for ep in prepare(raw, relaxed).episodes] == [{"P0002_273c2819": 5}.get(ref.raw_id, 12)]
    quest, aria = said
    assert "rejected: episode too short: 5 frames < canonicalize.validity.min_length_frames 10;" in quest
    assert "no span of at least canonicalize.validity.min_length_frames 10 remains after cleaning" in aria
    assert "static_hands 12 (canonicalize.validity.min_hand_motion_m)" in aria
