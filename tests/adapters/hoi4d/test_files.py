"""HOI4D's file readers (`adapters.hoi4d.files`) on the makers' formats: a Python 2-style hand-pose pickle read
with numpy's globals only, Open3D's LOG trajectory (camera-to-world, as Open3D's writer lays it out), object poses
as intrinsic XYZ Euler angles, and both layouts of the action file on the video's clock."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.hoi4d.files import action_events, camera_trajectory, hand_pose, object_poses
from tests.fixtures.writers.hoi4d import _log


def test_a_hand_pose_pickle_reads_its_three_fields() -> None:
    d = {"poseCoeff": np.arange(48, dtype=np.float32), "beta": np.zeros(10, np.float32), "trans": np.ones(3)}
    for protocol in (2, 4):
        h = hand_pose(pickle.dumps({**d, "kps2D": np.zeros((21, 2))}, protocol=protocol))
        np.testing.assert_array_equal(h.pose, np.arange(48))
        np.testing.assert_array_equal(h.trans, np.ones(3))
    with pytest.raises(ValueError, match="missing 'beta'"):
        hand_pose(pickle.dumps({"poseCoeff": d["poseCoeff"], "trans": d["trans"]}))
    with pytest.raises(ValueError, match="'trans' is"):
        hand_pose(pickle.dumps({**d, "trans": np.array([0.0, np.nan, 1.0])}))


def test_the_log_trajectory_is_camera_to_world_as_open3d_writes_it() -> None:
    poses = np.tile(np.eye(4), (3, 1, 1))
    poses[:, :3, :3] = Rotation.from_rotvec([[0, 0.1, 0], [0.2, 0, 0], [0, 0, 0.3]]).as_matrix()
    poses[:, :3, 3] = [[0.1, 0.2, 0.3], [0.0, 0.0, 1.0], [-1.0, 2.0, 0.5]]
    np.testing.assert_allclose(camera_trajectory(_log(poses)), poses, atol=1e-8)
    with pytest.raises(ValueError, match="blocks of 5"):
        camera_trajectory("\n".join(_log(poses).splitlines()[:-1]))
    with pytest.raises(ValueError, match="line 1"):
        camera_trajectory(_log(poses).replace("0 0 1", "a b c", 1))


def test_object_poses_are_intrinsic_xyz_euler_in_either_list() -> None:
    rot = {"x": 0.3, "y": -0.2, "z": 1.1}
    entry = {"center": {"x": 1, "y": 2, "z": 3}, "rotation": rot, "dimensions": {"length": 1, "width": 2, "height": 3}}
    for key in ("dataList", "objects"):
        ((label, pose, dims),) = object_poses({key: [entry]})
        assert label == "0" and dims.tolist() == [1, 2, 3] and pose[:3, 3].tolist() == [1, 2, 3]
        np.testing.assert_allclose(pose[:3, :3], Rotation.from_euler("XYZ", [0.3, -0.2, 1.1]).as_matrix())
    with pytest.raises(ValueError, match="object 0"):
        object_poses({"dataList": [{"center": entry["center"]}]})


def test_action_events_in_both_layouts_on_the_videos_clock() -> None:
    events = {"info": {"duration": 20.0}, "events": [{"event": "Pick up", "startTime": 1.0, "endTime": 5.0}]}
    assert action_events(events, 20.0) == [("Pick up", 1.0, 5.0)]
    marks = {"info": {"Duration": 10.0}, "markResult": {"marks": [{"event": "Stop", "hdTimeStart": 1, "hdTimeEnd": 5}]}}
    assert action_events(marks, 20.0) == [("Stop", 2.0, 10.0)]  # a 10 s clock on a 20 s video
    with pytest.raises(ValueError, match="event 0"):
        action_events({"events": [{"event": "x", "startTime": 3, "endTime": 1}]}, 20.0)
