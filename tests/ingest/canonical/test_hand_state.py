"""One hand's canonical state from its declared signals, checked by invariants: the wrist pose is the same whatever
rotation unit declares it, the state reads back into that pose, a hand moved rigidly moves its keypoints with it and
keeps its fingertips in the wrist frame, missing signals stay out of the mask (a wrist position alone: no rotation),
the action is the next state's gripper and fingertips with the pose delta, and a hand untracked in some frames is
invalid there only: its action before it leaves is no motion, its untracked frames written 0 and held for the motion
measures."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.base import HandSignals, HandTrack, Stream
from ingest.canonical.hand_state import (
    action_from_state,
    hand_block,
    hand_windows,
    in_window,
    robot_keypoints,
    streams_used,
    uncovered,
    untracked_held,
    untracked_zero,
    wrist_poses,
)
from ingest.frames import pos_rot6d_to_pose
from schemas.canonical import FINGERTIPS_XYZ, GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.transform import RigidTransform

T = 8
TS = np.arange(T) / 10.0
RNG = np.random.default_rng(3)
ROT = Rotation.from_rotvec(RNG.normal(scale=0.6, size=(T, 3)))
POS = RNG.normal(scale=0.3, size=(T, 3))
NO_OFFSET = RigidTransform.identity()


def _poses() -> np.ndarray:
    p = np.tile(np.eye(4), (T, 1, 1))
    p[:, :3, :3], p[:, :3, 3] = ROT.as_matrix(), POS
    return p


def _track(unit: str, **kw: Stream) -> HandTrack:
    if unit == "se3_4x4":
        return HandTrack(rotation=Stream(TS, _poses(), unit=unit), **kw)
    rot = ROT.as_quat() if unit == "quat_xyzw" else ROT.as_euler("xyz")
    return HandTrack(position=Stream(TS, POS, unit="m"), rotation=Stream(TS, rot, unit=unit), **kw)


@pytest.mark.parametrize("unit", ["quat_xyzw", "euler_xyz", "se3_4x4"])
def test_the_wrist_pose_does_not_depend_on_the_rotation_unit(unit: str) -> None:
    poses = wrist_poses(_track(unit))
    assert poses is not None and poses.unit == "se3_4x4"
    np.testing.assert_allclose(poses.values, _poses(), atol=1e-12)
    assert wrist_poses(HandTrack(gripper=Stream(TS, np.ones(T)))) is None


def test_state_reads_back_into_the_wrist_pose_and_the_mask_says_what_is_there() -> None:
    grip = Stream(TS[::2], np.linspace(0, 1, T // 2))  # a slower gripper stream, held between its samples
    sig = HandSignals(hands={1: _track("quat_xyzw", gripper=grip)})
    wrist = wrist_poses(sig.hands[1])
    out, avail, kp, poses, tracked = hand_block(sig, {1: wrist}, 1, TS, NO_OFFSET, None)
    assert tracked.all()
    np.testing.assert_allclose(pos_rot6d_to_pose(out[:, :9]), _poses(), atol=1e-9)
    np.testing.assert_allclose(poses, _poses(), atol=1e-9)
    np.testing.assert_allclose(out[:, GRIPPER.start], np.repeat(grip.values, 2))
    assert avail[WRIST_POS].all() and avail[WRIST_ROT6D].all() and avail[GRIPPER].all()
    assert not avail[FINGERTIPS_XYZ].any() and not out[:, FINGERTIPS_XYZ].any() and not kp.any()
    empty, none_avail, _, no_poses, none_tracked = hand_block(sig, {}, 0, TS, NO_OFFSET, None)  # no left hand declared
    assert not empty.any() and not none_avail.any() and no_poses is None and not none_tracked.any()


def test_a_position_only_wrist_gives_its_position_in_the_reference_frame_and_no_rotation() -> None:
    """A wrist with a position and no orientation (Aria MPS's first wrist-and-palm file): its position moved into the
    decoupled reference frame, its rotation out of the mask (never the identity it is carried with), its action the
    position's deltas; an EEF offset that moves the wrist point is refused (it needs the rotation)."""
    sig = HandSignals(hands={0: HandTrack(position=Stream(TS, POS, unit="m"))}, apply_offset=False)
    wrist = wrist_poses(sig.hands[0])
    ref = _poses()[::-1].copy()  # a moving reference (world_from_ref)
    out, avail, kp, poses, tracked = hand_block(sig, {0: wrist}, 0, TS, NO_OFFSET, ref)
    mine = np.einsum("tji,tj->ti", ref[:, :3, :3], POS - ref[:, :3, 3])
    np.testing.assert_allclose(out[:, WRIST_POS], mine, atol=1e-9)
    assert avail[WRIST_POS].all() and not avail[WRIST_ROT6D].any() and not avail[FINGERTIPS_XYZ].any()
    assert tracked.all() and not kp.any()
    action = action_from_state(out_50 := np.pad(out, ((0, 0), (0, 25))), {0: poses})
    np.testing.assert_allclose(action[:-1, WRIST_POS], np.diff(out_50[:, WRIST_POS], axis=0), atol=1e-9)
    moved = HandSignals(hands=sig.hands)  # apply_offset: True
    with pytest.raises(ValueError, match="position-only wrist"):
        hand_block(moved, {0: wrist}, 0, TS, RigidTransform(translation=(0, 0, 0.05)), None)


def test_a_rigid_motion_moves_keypoints_and_keeps_fingertips_in_the_wrist_frame() -> None:
    hand = RNG.normal(scale=0.05, size=(21, 3))
    kp = np.broadcast_to(hand, (T, 21, 3)).copy()
    still = HandSignals(hands={0: HandTrack(keypoints=Stream(TS, kp, unit="m"))})
    out0, avail, _, poses0, _ = hand_block(still, {}, 0, TS, NO_OFFSET, None)
    assert avail[FINGERTIPS_XYZ].all() and avail[WRIST_POS].all()  # the wrist frame comes from the keypoints
    moved_kp = np.einsum("tij,tkj->tki", ROT.as_matrix(), kp) + POS[:, None]  # frame t rotated by ROT[t]
    moved = HandSignals(hands={0: HandTrack(keypoints=Stream(TS, moved_kp, unit="m"))})
    out1, _, kp1, poses1, _ = hand_block(moved, {}, 0, TS, NO_OFFSET, None)
    np.testing.assert_allclose(kp1, moved_kp, atol=1e-12)
    np.testing.assert_allclose(out1[:, FINGERTIPS_XYZ], out0[:, FINGERTIPS_XYZ], atol=1e-9)
    np.testing.assert_allclose(poses1[:, :3, 3], ROT.apply(poses0[:, :3, 3]) + POS, atol=1e-9)


def test_a_hand_never_tracked_is_absent_not_invalid() -> None:
    zeros = HandSignals(hands={0: HandTrack(keypoints=Stream(TS, np.zeros((T, 21, 3))))})
    out, avail, kp, poses, tracked = hand_block(zeros, {}, 0, TS, NO_OFFSET, None)
    assert not avail.any() and not out.any() and not kp.any() and poses is None and not tracked.any()


def test_a_hand_untracked_in_some_frames_is_invalid_there_only() -> None:
    hand = RNG.normal(scale=0.05, size=(21, 3))
    kp = np.einsum("tij,kj->tki", ROT.as_matrix(), hand) + POS[:, None]
    kp[[2, 5]] = np.nan  # the source's sentinel: not tracked in frames 2 and 5
    sig = HandSignals(hands={0: HandTrack(keypoints=Stream(TS, kp, unit="m"))})
    out, avail, got, _, tracked = hand_block(sig, {}, 0, TS, NO_OFFSET, None)
    assert avail[WRIST_POS].all() and avail[FINGERTIPS_XYZ].all()  # a hand of the episode, not an absent one
    assert list(np.flatnonzero(~tracked)) == [2, 5]
    assert np.isnan(out[~tracked][:, avail]).all() and np.isfinite(out[tracked]).all()
    np.testing.assert_allclose(got[tracked], kp[tracked], atol=1e-12)


def test_robot_keypoints_follow_the_wrist_and_missing_links_hold_zero() -> None:
    local = RNG.normal(scale=0.05, size=(T, 21, 3))
    local[:, 20] = np.nan  # a four-finger hand: no pinky tip
    out = robot_keypoints(Stream(TS, local, frame="wrist"), _poses(), TS)
    want = np.einsum("tij,tkj->tki", ROT.as_matrix(), local) + POS[:, None]
    np.testing.assert_allclose(out[:, :20], want[:, :20], atol=1e-12)
    assert not out[:, 20].any()


def test_action_is_the_pose_delta_and_the_next_gripper_and_tips() -> None:
    state = RNG.normal(size=(T, 50))
    poses = _poses()
    action = action_from_state(state, {1: poses})
    for t in range(T - 1):
        step = np.linalg.inv(poses[t]) @ poses[t + 1]
        np.testing.assert_allclose(action[t, hand_dims(1, WRIST_POS)], POS[t + 1] - POS[t], atol=1e-12)
        np.testing.assert_allclose(
            pos_rot6d_to_pose(np.r_[np.zeros(3), action[t, hand_dims(1, WRIST_ROT6D)]])[:3, :3], step[:3, :3], atol=1e-9
        )
    for hand in (0, 1):
        for part in (GRIPPER, FINGERTIPS_XYZ):
            dims = hand_dims(hand, part)
            np.testing.assert_array_equal(action[:-1, dims], state[1:, dims])
            np.testing.assert_array_equal(action[-1, dims], state[-1, dims])
    assert not action[:, hand_dims(0, WRIST_POS)].any()  # no pose for the left hand: no wrist delta


def test_a_hand_about_to_go_untracked_gets_no_motion_and_its_untracked_frames_are_zero_or_held() -> None:
    state = RNG.normal(size=(T, 50))
    poses = _poses()
    tracked = np.ones((T, 2), dtype=bool)
    tracked[4, 1] = False  # the right hand is not seen at frame 4
    state[4, hand_dims(1, slice(0, 25))] = np.nan
    poses[4] = np.nan
    action = action_from_state(state, {1: poses}, tracked)
    right = hand_dims(1, slice(0, 25))
    assert np.isfinite(np.delete(action[:, right], 4, axis=0)).all()  # the NaN frame spoils no other frame's action
    np.testing.assert_allclose(action[3, hand_dims(1, WRIST_POS)], 0.0)  # frame 3: last seen before 4, no motion
    np.testing.assert_allclose(action[3, hand_dims(1, WRIST_ROT6D)], [1, 0, 0, 0, 1, 0], atol=1e-12)
    np.testing.assert_array_equal(action[3, hand_dims(1, FINGERTIPS_XYZ)], state[3, hand_dims(1, FINGERTIPS_XYZ)])
    np.testing.assert_allclose(action[5, hand_dims(1, WRIST_POS)], POS[6] - POS[5], atol=1e-12)  # seen again
    zero = untracked_zero(state, tracked)
    assert not zero[4, right].any() and np.array_equal(zero[4, hand_dims(0, slice(0, 25))], state[4, :25])
    held = untracked_held(state, tracked)
    np.testing.assert_array_equal(held[4, right], state[3, right])  # the last tracked values, for the QA
    kp = RNG.normal(size=(T, 2, 21, 3))
    assert not untracked_zero(kp, tracked)[4, 1].any() and untracked_zero(kp, tracked)[4, 0].all()


def test_streams_used_are_the_declared_ones() -> None:
    sig = HandSignals(hands={1: _track("quat_xyzw", gripper=Stream(TS, np.ones(T)))})
    wrists = {1: wrist_poses(sig.hands[1])}
    assert streams_used(sig, wrists) == [wrists[1], sig.hands[1].gripper]
    state = Stream(TS, np.zeros((T, 50)))
    assert streams_used(HandSignals(canonical=(state, None, None)), {}) == [state]


def test_each_hand_has_its_own_window_and_only_what_no_hand_covers_is_uncovered() -> None:
    """The left hand sampled over 0..6 s, the right over 2..6 s with a hole at 3..4 s: the right's window and hole are
    its own; only the left's hole at 5.0..5.5 s where the right has samples too is covered, and nothing is uncovered
    until both hands lose their samples (here: never)."""
    t = np.arange(0, 6.01, 0.1)
    left_t = t[(t < 5.0) | (t > 5.45)]
    right_t = t[(t > 1.95) & ((t < 3.05) | (t > 3.95))]
    sig = HandSignals(
        hands={
            0: HandTrack(gripper=Stream(left_t, np.ones(len(left_t)))),
            1: HandTrack(gripper=Stream(right_t, np.ones(len(right_t)))),
        }
    )
    windows = hand_windows(sig, {}, max_gap_s=0.2)
    assert windows[0][:2] == (0.0, 6.0) and windows[1][:2] == pytest.approx((2.0, 6.0))
    assert windows[1][2] == [pytest.approx((3.0, 4.0))] and windows[0][2] == [pytest.approx((4.9, 5.5))]
    assert uncovered(windows, 0.0, 6.0) == []
    grid = np.arange(61) / 10
    right = in_window(windows[1], grid)
    assert not right[:20].any() and right[20:31].all() and not right[31:40].any() and right[40:].all()
    assert uncovered({1: windows[1]}, 0.0, 6.0) == [(0.0, 2.0), pytest.approx((3.0, 4.0))]
