"""The shared pose declaration (`adapters.poses`): picks by name or index, every rotation form to one x, y, z, w
quaternion of the same rotation, the gripper opening between its closed and open values whichever is larger."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.spatial.transform import Rotation

from adapters.base import Stream
from adapters.poses import Pick, PoseHand, gripper_opening, hand_track, quat_xyzw
from ingest.frames import pose_from_pos_euler

ROT = Rotation.from_euler("xyz", [[0.3, -0.2, 1.1], [np.pi - 0.1, 0.4, -0.7]])


@pytest.mark.parametrize(
    ("unit", "values"),
    [
        ("quat_xyzw", ROT.as_quat()),
        ("quat_wxyz", ROT.as_quat()[:, [3, 0, 1, 2]]),
        ("axis_angle", ROT.as_rotvec()),
        ("euler_xyz", ROT.as_euler("xyz")),
    ],
)
def test_every_rotation_form_is_the_same_rotation(unit: str, values: np.ndarray) -> None:
    got = Rotation.from_quat(quat_xyzw(values, unit))
    assert np.allclose((got.inv() * ROT).magnitude(), 0.0, atol=1e-9)


def test_euler_is_read_as_the_canonical_step_reads_it() -> None:
    """Euler angles turned into quaternions here and handed to canonicalize as euler_xyz give one pose."""
    e = ROT.as_euler("xyz")
    poses = pose_from_pos_euler(np.zeros((2, 3)), e, seq="xyz")
    assert np.allclose(Rotation.from_quat(quat_xyzw(e, "euler_xyz")).as_matrix(), poses[:, :3, :3], atol=1e-12)


def test_a_rotation_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError, match="a quat_wxyz rotation has 4 values, not 3"):
        quat_xyzw(np.zeros((2, 3)), "quat_wxyz")


def test_picks_by_name_and_index() -> None:
    s = Stream(np.arange(2.0), np.arange(8.0).reshape(2, 4), ("a", "b", "c", "d"))
    assert np.array_equal(Pick(key="s", names=("d", "b")).take(s), [[3, 1], [7, 5]])
    assert np.array_equal(Pick.model_validate({"key": "s", "index": [1, 3]}).take(s), [[1, 2], [5, 6]])
    assert Pick.model_validate("s").take(s).shape == (2, 4)
    with pytest.raises(ValueError, match=r"s has no element\(s\) \['e'\]"):
        Pick(key="s", names=("e",)).take(s)
    with pytest.raises(ValueError, match="reaches past them"):
        Pick(key="s", index=(2, 6)).take(s)
    with pytest.raises(ValidationError, match="names or index, not both"):
        Pick(key="s", names=("a",), index=(0, 1))


def test_the_opening_rises_as_the_gripper_opens_either_way_round() -> None:
    fingers = PoseHand(
        position="p", rotation="r", rotation_unit="quat_xyzw", gripper="g", gripper_signs=(1, -1), gripper_open=0.08
    )
    assert np.allclose(gripper_opening(np.array([[0.0, 0.0], [0.02, -0.02], [0.05, -0.05]]), fingers), [0, 0.5, 1])
    flag = PoseHand(
        position="p", rotation="r", rotation_unit="quat_xyzw", gripper="g", gripper_closed=1.0, gripper_open=0.0
    )
    assert np.allclose(gripper_opening(np.array([1.0, 0.25, 0.0]), flag), [0.0, 0.75, 1.0])


def test_hand_track_names_what_the_episode_lacks() -> None:
    hand = PoseHand(
        position={"key": "p", "index": [0, 3]}, rotation={"key": "p", "index": [3, 7]}, rotation_unit="quat_wxyz"
    )
    with pytest.raises(ValueError, match=r"no p\[3:7\] in this episode"):
        hand_track(hand, lambda pick: (np.arange(2.0), np.zeros((2, 3))) if pick.index[0] == 0 else None, "robot_base")
    values = np.concatenate([np.ones((2, 3)), ROT.as_quat()[:, [3, 0, 1, 2]]], axis=1)
    track = hand_track(hand, lambda pick: (np.arange(2.0), pick.take(Stream(np.arange(2.0), values))), "robot_base")
    assert track.rotation is not None and np.allclose(track.rotation.values, ROT.as_quat())
    assert track.position is not None and np.allclose(track.position.values, 1.0)
    with pytest.raises(ValueError, match="a position has 3 values, not 7"):
        hand_track(
            hand.model_copy(update={"position": Pick(key="p")}),
            lambda p: (np.arange(2.0), p.take(Stream(np.arange(2.0), values))),
            "robot_base",
        )


def test_rotvec_poses_turn_and_move() -> None:
    from adapters.poses import rotvec_poses

    poses = rotvec_poses(np.array([[0.0, 0.0, np.pi / 2], [0.0, 0.0, 0.0]]), np.array([[1.0, 2.0, 3.0], [0, 0, 0]]))
    np.testing.assert_allclose(poses[0] @ [1.0, 0.0, 0.0, 1.0], [1.0, 3.0, 3.0, 1.0], atol=1e-12)  # x -> y, moved
    np.testing.assert_allclose(poses[1], np.eye(4))
