"""The LDA columns of one episode and the modality of the export (`jobs/export/lda/columns.py`): the rotation in LDA's
convention round-trips the canonical 6-D, absolute actions are the next state, unused parts are 0 whatever the
canonical fill, a single arm becomes LDA's left hand, a degenerate rotation is refused by name."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ingest.frames import IDENTITY_ROT6D, matrix_to_rot6d, rot6d_to_matrix
from jobs.export.lda.columns import (
    ColumnsError,
    build_modality,
    episode_columns,
    expected_names,
    layout_of,
    rot6d_to_rpy,
)
from schemas.canonical import CANONICAL_DIM, FINGERTIPS_XYZ, GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.lda import ACTION_PARTS, HAND_WIDTH_ACTION, HAND_WIDTH_STATE, STATE_PARTS, part_offset

RNG = np.random.default_rng(7)


def _lda_R(rpy: np.ndarray) -> np.ndarray:
    """R = Rz(yaw) Ry(pitch) Rx(roll) written out entry by entry (the matrix of LDA's `batched_rpy_to_R`)."""
    r, p, y = rpy.T
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    return np.stack(
        [
            np.stack([cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr], -1),
            np.stack([sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr], -1),
            np.stack([-sp, cp * sr, cp * cr], -1),
        ],
        -2,
    )


def test_rpy_round_trips_the_6d_rotation_in_ldas_convention() -> None:
    R = Rotation.random(500, random_state=1).as_matrix()
    rpy = rot6d_to_rpy(matrix_to_rot6d(R))
    assert np.abs(_lda_R(rpy) - R).max() < 1e-12
    assert (np.abs(rpy[:, 1]) <= np.pi / 2 + 1e-12).all()  # pitch = asin(-R20), as LDA's batched_R_to_rpy
    np.testing.assert_allclose(rpy[:, 1], np.arcsin(-R[:, 2, 0]), atol=1e-9)
    np.testing.assert_allclose(rpy[:, 0], np.arctan2(R[:, 2, 1], R[:, 2, 2]), atol=1e-9)
    # a 6-D that is not orthonormal (float32 on disk) is the rotation Gram-Schmidt makes of it
    d6 = matrix_to_rot6d(R) * 1.01 + 1e-4
    assert np.abs(_lda_R(rot6d_to_rpy(d6)) - rot6d_to_matrix(d6)).max() < 1e-12


def test_no_hand_is_zero_and_identity_is_zero_angles() -> None:
    assert not rot6d_to_rpy(np.zeros((3, 6))).any()
    assert not rot6d_to_rpy(IDENTITY_ROT6D[None]).any()  # LDA's mask then leaves it out: README, traps


def _episode(n: int, hands: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    state, action = RNG.normal(size=(n, CANONICAL_DIM)), RNG.normal(size=(n, CANONICAL_DIM))
    used = np.zeros(CANONICAL_DIM, dtype=bool)
    for h in range(2):
        state[:, hand_dims(h, WRIST_ROT6D)] = matrix_to_rot6d(Rotation.random(n, random_state=h).as_matrix())
        if h in hands:
            for part in (WRIST_POS, WRIST_ROT6D, GRIPPER, FINGERTIPS_XYZ):
                used[hand_dims(h, part)] = True
    return state, action, RNG.normal(size=(n, 2, 21, 3)), used


def _blk(values: np.ndarray, hand: int, parts: tuple, part: str) -> np.ndarray:
    width = HAND_WIDTH_STATE if parts is STATE_PARTS else HAND_WIDTH_ACTION
    sl = part_offset(parts, part)
    return values[:, hand * width + sl.start : hand * width + sl.stop]


def test_absolute_actions_are_the_observed_state_of_their_own_frame_and_the_deltas_are_kept() -> None:
    """LDA's timing (`schemas.actions.CONVENTIONS["lda"]`: observed): row t holds the pose, gripper opening and
    keypoints RECORDED at t, so LDA's own differencing of rows t..t+16 gives the motions t->t+1 .. t+15->t+16."""
    state, action, kp, used = _episode(6, (0, 1))
    s, a = episode_columns(state, action, kp, used, (0, 1))
    assert s.dtype == a.dtype == np.float32 and s.shape == (6, 152) and a.shape == (6, 158)
    for h in (0, 1):
        np.testing.assert_array_equal(
            _blk(a, h, ACTION_PARTS, "eef_position"), state[:, hand_dims(h, WRIST_POS)].astype(np.float32)
        )
        np.testing.assert_array_equal(_blk(a, h, ACTION_PARTS, "eef_rotation"), _blk(s, h, STATE_PARTS, "eef_rotation"))
        np.testing.assert_array_equal(_blk(a, h, ACTION_PARTS, "mano_hand"), kp[:, h].reshape(6, 63).astype(np.float32))
        np.testing.assert_array_equal(
            _blk(a, h, ACTION_PARTS, "gripper"), state[:, hand_dims(h, GRIPPER)].astype(np.float32)
        )
        np.testing.assert_array_equal(
            _blk(a, h, ACTION_PARTS, "delta_eef_rotation"), action[:, hand_dims(h, WRIST_ROT6D)].astype(np.float32)
        )
        np.testing.assert_array_equal(
            _blk(s, h, STATE_PARTS, "eef_rotation_6d"), state[:, hand_dims(h, WRIST_ROT6D)].astype(np.float32)
        )


def test_a_gripper_without_a_recorded_state_is_the_command_given_the_frame_before() -> None:
    state, action, kp, used = _episode(6, (0,))
    state[:, hand_dims(0, GRIPPER)] = 0.0  # the recording kept no gripper state, only its command
    action[:, hand_dims(0, GRIPPER)] = np.array([[0.1], [0.2], [0.3], [0.4], [0.5], [0.6]])
    _, a = episode_columns(state, action, kp, used, (0,))
    np.testing.assert_allclose(_blk(a, 0, ACTION_PARTS, "gripper")[:, 0], [0.1, 0.1, 0.2, 0.3, 0.4, 0.5], rtol=1e-6)


def test_unused_parts_are_zero_whatever_the_canonical_fill_and_a_single_arm_is_left() -> None:
    state, action, kp, used = _episode(5, (1,))  # the canonical left hand holds a fill (identity-like, noise)
    used[hand_dims(1, FINGERTIPS_XYZ)] = False  # a gripper robot: no fingers
    s, a = episode_columns(state, action, kp, used, (1,))
    assert not s[:, HAND_WIDTH_STATE:].any() and not a[:, HAND_WIDTH_ACTION:].any()  # LDA's right hand: nothing
    np.testing.assert_array_equal(
        _blk(s, 0, STATE_PARTS, "eef_position"), state[:, hand_dims(1, WRIST_POS)].astype(np.float32)
    )
    assert not _blk(s, 0, STATE_PARTS, "mano_hand").any() and _blk(s, 0, STATE_PARTS, "gripper").any()
    assert layout_of("widowx", used) == ("single_arm", (1,))
    assert layout_of("human", used) == ("human", (0, 1)) and layout_of("gr1", np.ones(50, bool)) == ("dual_arm", (0, 1))
    assert layout_of("widowx", np.zeros(50, bool)) is None


def test_a_degenerate_rotation_is_refused_with_where() -> None:
    state, action, kp, used = _episode(4, (0,))
    state[2, hand_dims(0, WRIST_ROT6D)] = [0, 0, 1, 0, 0, 3]  # parallel columns
    with pytest.raises(ColumnsError, match=r"ep\.parquet \(episode 3\): observation.state left wrist rotation"):
        episode_columns(state, action, kp, used, (0,), where="ep.parquet (episode 3)")


def test_the_modality_names_every_value_once_in_ldas_keys() -> None:
    m = build_modality(
        ["observation.images.third_person", "observation.images.wrist_right"], "observation.images.third_person"
    )
    assert list(m.video) == ["third_person", "wrist_right", "main"] and m.video_column("main").endswith("third_person")
    assert m.annotation_column("language.action_text") == "task_index"
    assert (
        m.state["left_eef_rotation"].rotation_type == "euler_angles_rpy" and m.state["right_eef_rotation_6d"].end == 152
    )
    assert m.action["left_eef_position"].absolute and not m.action["right_delta_eef_position"].absolute
    names = expected_names(m)
    assert names[("action", "right_eef_rotation")] == [
        "right.eef_rotation.roll",
        "right.eef_rotation.pitch",
        "right.eef_rotation.yaw",
    ]
    assert (
        sum(s.end - s.start for s in m.state.values()) == 152 and sum(s.end - s.start for s in m.action.values()) == 158
    )


def test_a_hand_untracked_for_a_while_holds_its_last_pose_so_ldas_differences_are_zero_there() -> None:
    """A hand untracked in frames 5..9 of 15 (the writer's 0 in its state, `schemas.canonical.HAND_VALID`): its
    state rows stay 0 (LDA masks them), its absolute action holds the last tracked pose, so the difference LDA takes
    between consecutive actions is 0 inside the gap (masked) and never a jump to or from the origin."""
    n = 15
    state, action, kp, used = _episode(n, (0,))
    t = np.arange(n)[:, None]
    state[:, hand_dims(0, WRIST_POS)] = [0.4, 0.2, 0.1] + 0.01 * t  # a hand 0.46 m out, moving 1.7 cm a frame
    gap = slice(5, 10)
    state[gap, hand_dims(0, WRIST_POS)] = 0
    state[gap, hand_dims(0, WRIST_ROT6D)] = 0
    s, a = episode_columns(state, action, kp, used, (0,))
    assert not _blk(s, 0, STATE_PARTS, "eef_position")[gap].any()
    pos = _blk(a, 0, ACTION_PARTS, "eef_position").astype(np.float64)
    rot = _blk(a, 0, ACTION_PARTS, "eef_rotation").astype(np.float64)
    assert (np.linalg.norm(pos, axis=1) > 0.3).all(), "no absolute action at the origin"
    step = np.linalg.norm(np.diff(pos, axis=0), axis=1)
    assert np.allclose(step[4:8], 0) and np.allclose(np.diff(rot, axis=0)[4:8], 0), "0 inside the gap: LDA masks it"
    np.testing.assert_allclose(pos[4], state[4, hand_dims(0, WRIST_POS)], atol=1e-6)  # the last tracked pose
    across = np.linalg.norm(state[10, hand_dims(0, WRIST_POS)] - state[4, hand_dims(0, WRIST_POS)])
    assert step.max() == pytest.approx(across, abs=1e-6), "one step carries the gap's motion, nothing larger"
    # a hand untracked at the start holds its first tracked pose
    state[:3, hand_dims(0, WRIST_ROT6D)] = 0
    _, a = episode_columns(state, action, kp, used, (0,))
    np.testing.assert_allclose(_blk(a, 0, ACTION_PARTS, "eef_position")[:2], state[[3, 3], hand_dims(0, WRIST_POS)])


def test_a_position_only_wrist_moves_its_absolute_action_with_its_position() -> None:
    """A wrist with a position and no rotation in the mask (Aria MPS's first wrist-and-palm file): its absolute
    action is its own position each frame, never held at the first one for want of a rotation; rotation parts 0."""
    n = 8
    state, action, kp, used = _episode(n, (1,))
    used[hand_dims(1, WRIST_ROT6D)] = used[hand_dims(1, FINGERTIPS_XYZ)] = False  # the rotation filled, unused
    state[:, hand_dims(1, WRIST_POS)] = [0.3, -0.2, 0.1] + 0.02 * np.arange(n)[:, None]
    s, a = episode_columns(state, action, kp, used, (1,))
    np.testing.assert_allclose(_blk(a, 0, ACTION_PARTS, "eef_position"), state[:, hand_dims(1, WRIST_POS)], atol=1e-6)
    for blk, parts, names in ((s, STATE_PARTS, ("eef_rotation", "eef_rotation_6d")), (a, ACTION_PARTS, ROTATIONS)):
        assert not any(_blk(blk, 0, parts, name).any() for name in names)


ROTATIONS = ("eef_rotation", "delta_eef_rotation")
