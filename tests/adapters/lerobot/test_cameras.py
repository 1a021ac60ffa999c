"""LeRobot cameras (`adapters/lerobot/cameras.py`): the camera-name rule table, rules given as an option first, and a
moved video relocated only by exactly one match under the cameras' folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.lerobot.adapter import LeRobotSource
from adapters.lerobot.cameras import canonical_camera, relocate_video
from adapters.storage.root import Root
from jobs.spec import SpecError, load_spec
from schemas.canonical import Camera
from tests.adapters.lerobot.conftest import MOTORS, write_arm_dataset


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


def test_a_misspelt_camera_fails_at_the_spec_check_with_the_closest_name(tmp_path: Path) -> None:
    """`cameras: [cam_hihg]` quarantined every episode of the source (newcomer 9); the spec check now refuses it, naming
    the option, its line and the declared name closest to it (issue 86, item 4)."""
    rows = np.zeros((4, len(MOTORS)))
    write_arm_dataset(tmp_path / "raw" / "arm", "so101_follower", list(MOTORS), rows, cameras=("cam_high", "cam_low"))
    spec = tmp_path / "spec.yaml"
    source = "output: corpus\nsources:\n  - name: arm\n    adapter: lerobot\n    root: raw\n    options:\n"
    spec.write_text(source + "      cameras: [cam_hihg, cam_low]\n")
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    [said] = [issue.format(spec) for issue in info.value.errors]
    assert said == (
        f"{spec}:7: sources[0].options.cameras: camera 'cam_hihg' is declared by no dataset under the root "
        "(meta/info.json); did you mean 'cam_high'?"
    )
    spec.write_text(source + "      cameras: [cam_high, observation.images.cam_low]\n")
    assert load_spec(spec).sources[0].options["cameras"] == ["cam_high", "observation.images.cam_low"]


def test_a_camera_one_dataset_lacks_quarantines_its_episodes_saying_the_closest(tmp_path: Path) -> None:
    """Under a root of several datasets the spec check refuses only a name none declares; a dataset lacking a name
    another declares quarantines its episodes as before, now with its own closest camera."""
    rows = np.zeros((4, len(MOTORS)))
    write_arm_dataset(tmp_path / "a", "so101_follower", list(MOTORS), rows, cameras=("cam_high",))
    write_arm_dataset(tmp_path / "b", "so101_follower", list(MOTORS), rows, cameras=("cam_hig",))
    adapter = LeRobotSource({"cameras": ["cam_high"]})
    assert adapter.spec_problems(Root(tmp_path).location()) == []
    flagged = [r.error for r in adapter.discover(tmp_path) if r.error]
    assert flagged == ["camera 'cam_high' is not declared in info.json; did you mean 'cam_hig'?"]
