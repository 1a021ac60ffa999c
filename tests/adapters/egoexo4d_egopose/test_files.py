"""Ego-Exo4D ego-pose JSON parsed (`adapters/egoexo4d_egopose/adapter.py`): the 21 joint names onto MANO-21 in order,
a hand kept only with all 21 joints usable (manual joints from >= 3 views, automatic ones always), a null coordinate
never read as 0, malformed frames and joints named, camera extrinsics inverted to world_from_camera, the ego camera
and its video found as the maker's loader finds them."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.egoexo4d_egopose import adapter
from schemas.canonical import MANO21_NAMES


class Bad(Exception):
    pass


def fail(message: str, field: str) -> Bad:
    return Bad(f"{field}: {message}")


def _hand(side: str, views: int = 4, offset: float = 0.0) -> dict:
    # joint k of MANO21_NAMES at x = k cm: which joint went where is readable
    return {
        f"{side}_{joint}": {"x": k / 100 + offset, "y": 0.0, "z": 1.0, "num_views_for_3d": views}
        for k, joint in enumerate(adapter.JOINT_OF.values())
    }


def test_the_joint_names_are_manos_21_in_order() -> None:
    assert tuple(adapter.JOINT_OF) == MANO21_NAMES
    assert list(adapter.JOINT_OF.values())[:6] == ["wrist", "thumb_1", "thumb_2", "thumb_3", "thumb_4", "index_1"]
    assert adapter.JOINT_OF["pinky_tip"] == "pinky_4" and adapter.JOINT_OF["middle1"] == "middle_1"
    doc = {"7": [{"annotation3D": _hand("left") | _hand("right", offset=1.0)}]}
    ann = adapter.parse_hands(doc, "manual", fail)
    assert ann.frames.tolist() == [7]
    np.testing.assert_allclose(ann.keypoints[0, 0, :, 0], np.arange(21) / 100)
    np.testing.assert_allclose(ann.keypoints[0, 1, :, 0], np.arange(21) / 100 + 1.0)


def test_frames_sorted_by_number_and_frames_without_3d_skipped() -> None:
    doc = {"30": [{"annotation3D": _hand("left")}], "9": [{"annotation3D": _hand("left")}], "12": [], "15": [{}]}
    ann = adapter.parse_hands(doc, "automatic", fail)
    assert ann.frames.tolist() == [9, 30] and np.isnan(ann.keypoints[:, 1]).all()


@pytest.mark.parametrize(("placement", "kept"), [("manual", False), ("automatic", True)])
def test_a_joint_from_two_views_drops_a_manual_hand_not_an_automatic_one(placement: str, kept: bool) -> None:
    hand = _hand("right")
    hand["right_ring_2"]["num_views_for_3d"] = 2
    ann = adapter.parse_hands({"1": [{"annotation3D": hand}]}, placement, fail)
    assert np.isfinite(ann.keypoints[0, 1]).all() == kept
    assert ann.partial == ((0, 0) if kept else (0, 1))


def test_a_null_coordinate_masks_the_hand_never_reads_zero() -> None:
    hand = _hand("left") | _hand("right")
    hand["left_thumb_3"]["y"] = None
    ann = adapter.parse_hands({"1": [{"annotation3D": hand}]}, "automatic", fail)
    assert np.isnan(ann.keypoints[0, 0]).all() and np.isfinite(ann.keypoints[0, 1]).all()
    assert ann.partial == (1, 0)


def test_malformed_input_is_named_by_frame_and_joint() -> None:
    hand = _hand("left")
    hand["left_index_2"]["x"] = "abc"
    with pytest.raises(Bad, match=r"^\['4'\]\[0\]\.annotation3D\.left_index_2: .* not numbers"):
        adapter.parse_hands({"4": [{"annotation3D": hand}]}, "automatic", fail)
    with pytest.raises(Bad, match=r"frame key 'x12' is not a frame number"):
        adapter.parse_hands({"x12": [{"annotation3D": _hand("left")}]}, "automatic", fail)
    with pytest.raises(Bad, match=r"^annotation3D: no frame has a 3D annotation"):
        adapter.parse_hands({"1": []}, "manual", fail)


def test_extrinsics_are_world_to_camera_and_inverted() -> None:
    cam_from_world = np.eye(4)
    cam_from_world[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]
    cam_from_world[:3, 3] = [0.1, 0.2, 0.3]
    doc = {"aria01": {"camera_intrinsics": np.eye(3).tolist(), "camera_extrinsics": {"5": cam_from_world[:3].tolist()}}}
    poses = adapter.parse_camera(doc, "aria01", fail)
    np.testing.assert_allclose(poses.world_from_camera[0] @ cam_from_world, np.eye(4), atol=1e-12)
    doc["aria01"]["camera_extrinsics"]["6"] = (2 * cam_from_world[:3]).tolist()
    with pytest.raises(Bad, match=r"^aria01\.camera_extrinsics\['6'\]: frame 6: not a 3x4"):
        adapter.parse_camera(doc, "aria01", fail)
    with pytest.raises(Bad, match=r"no camera 'aria02'"):
        adapter.parse_camera(doc, "aria02", fail)


def test_the_ego_camera_and_its_video_as_the_maker_finds_them() -> None:
    take = {
        "root_dir": "takes/t1",
        "capture": {"cameras": [{"cam_id": "aria01", "is_ego": "True"}, {"cam_id": "cam01", "is_ego": False}]},
        "frame_aligned_videos": {"aria01": {"rgb": {"relative_path": "frame_aligned_videos/aria01_214-1.mp4"}}},
    }
    assert adapter.ego_camera(take, fail) == "aria01"
    assert adapter.rgb_video(take, "aria01") == "takes/t1/frame_aligned_videos/aria01_214-1.mp4"
    take["capture"]["cameras"].append({"cam_id": "aria02", "is_ego": True})  # not frame-aligned: narrowed out
    assert adapter.ego_camera(take, fail) == "aria01"
    take["capture"]["cameras"] = []
    with pytest.raises(Bad, match=r"^capture\.cameras: 0 ego cameras"):
        adapter.ego_camera(take, fail)
