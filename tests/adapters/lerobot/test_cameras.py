"""LeRobot cameras (`adapters/lerobot/cameras.py`): the camera-name rule table, rules given as an option first, and a
moved video relocated only by exactly one match under the cameras' folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.lerobot.cameras import canonical_camera, relocate_video
from schemas.canonical import Camera


def test_relocation_takes_exactly_one_match_under_the_cameras_folder(tmp_path: Path) -> None:
    declared = "videos/observation.images.top/chunk-000/file-000.mp4"
    index = [
        "video/top/chunk-000/file-000.mp4",
        "video/wrist/chunk-000/file-000.mp4",
        "video/top/chunk-001/file-000.mp4",
    ]
    for rel in index:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    assert relocate_video(tmp_path, declared, "observation.images.top", index) == index[0]
    # another camera's file, another chunk, or two candidates: not taken
    assert relocate_video(tmp_path, declared, "observation.images.side", index) is None
    assert relocate_video(tmp_path, declared.replace("chunk-000", "chunk-002"), "observation.images.top", index) is None
    twin = [*index, "backup/top/chunk-000/file-000.mp4"]
    assert relocate_video(tmp_path, declared, "observation.images.top", twin) is None


@pytest.mark.parametrize(
    ("name", "camera"),
    [
        ("cam_high", Camera.head),
        ("cam_low", Camera.third_person),
        ("cam_left_wrist", Camera.wrist_left),
        ("cam_right_wrist", Camera.wrist_right),
        ("top", Camera.head),
        ("front", Camera.head),
        ("wrist", Camera.wrist_right),
        ("laptop", Camera.third_person),
        ("phone", Camera.third_person),
        ("cam0", None),
        ("cam1", None),
        ("image", None),
    ],
)
def test_the_camera_rule_table(name: str, camera: Camera | None) -> None:
    assert canonical_camera(name) == camera


def test_rules_given_as_an_option_come_first() -> None:
    rules = [("cam0", "head"), ("cam_*", "none"), ("*wrist*", "wrist_left")]
    assert canonical_camera("cam0", rules) is Camera.head
    assert canonical_camera("cam_high", rules) is None  # 'none': kept under its own key
    assert canonical_camera("right_wrist", rules) is Camera.wrist_left
    assert canonical_camera("laptop", rules) is Camera.third_person  # the table still answers the rest
