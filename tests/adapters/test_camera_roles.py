"""The one camera vocabulary (`adapters/camera_roles.py`, `camera_roles.yaml`): one role per camera name through
every adapter that places cameras by name, exact maps over it, each role given once, the table well-formed."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.agibot_g1 import CAMERAS as AGIBOT_CAMERAS
from adapters.agibot_g1 import camera_slots
from adapters.arrays.layouts import LAYOUTS
from adapters.camera_roles import RULES, RoleTable, camera_role, camera_roles, words
from adapters.lerobot.cameras import canonical_camera, short_camera_name
from adapters.oxe.subsets import load_subsets
from adapters.robomind.layouts import ROBOTS
from adapters.rosbag.adapter import RosbagAdapter
from adapters.rosbag.assembled import Assembled
from schemas.canonical import Camera
from schemas.data_file import read_yaml

H, L, R, T = Camera.head, Camera.wrist_left, Camera.wrist_right, Camera.third_person
# name -> the one role every adapter gives it (camera_roles.yaml cites the datasets behind each)
NAMES: dict[str, Camera | None] = {
    "front": H,  # lerobot SO-100/SO-101's workspace camera (was third_person for a ROS bag topic)
    "cam_high": H,  # ALOHA's top-down view
    "cam_low": T,  # ALOHA's low front view (was unplaced for a ROS bag topic)
    "left_wrist": L,
    "right_wrist": R,
    "cam_left_wrist": L,
    "cam_right_wrist": R,
    "agentview": T,  # robomimic / LIBERO
    "eye_in_hand": R,  # one arm: the right wrist
    "robot0_eye_in_hand": R,
    "overhead": H,
    "top": H,  # ACT's simulated ALOHA
    "image_1": None,  # Bridge: numbered views say nothing of theirs
    "wrist": R,
    "laptop": T,  # lerobot's desk camera, no `top` (was head for a ROS bag topic)
    "phone": T,
    "ego_view": H,  # GR00T
    "egoview": H,
    "cam_left_high": H,  # Unitree G1
    "exterior_image_1_left": T,  # DROID
    "rgb_static": T,  # CALVIN / taco_play
    "rgb_gripper": R,
    "hand_left_fisheye": L,  # AgiBot's dexterous-hand wrist
    "wrist_image": R,  # LIBERO in LeRobot
    "side": T,
    "follower": None,  # `low` inside a word is no `low`
    "desktop": None,
    "camera0": None,
}


def _paths(name: str) -> dict[str, Camera | None]:
    """The role of `name` by each adapter's own mapping, where its exact map does not name it."""
    out = {
        "shared": camera_role(name),
        "lerobot": canonical_camera(short_camera_name(f"observation.images.{name}")),
        "rosbag": RosbagAdapter()._camera_slot(f"/{name}/image_raw", Assembled()),
    }
    out |= {f"arrays {k}": lay.camera_roles([name])[name] for k, lay in LAYOUTS.items() if name not in lay.cameras}
    out |= {f"robomind {k}": lay.camera_roles([name])[name] for k, lay in ROBOTS.items() if name not in lay.cameras}
    for k, subset in load_subsets().items():
        key = f"observation/{name}"
        if subset.camera(key) is None:
            out[f"oxe {k}"] = subset.camera_roles([key])[key]
    if name not in AGIBOT_CAMERAS:
        out["agibot"] = camera_slots([name])[name]
    return out


@pytest.mark.parametrize("name", NAMES)
def test_one_role_per_name_through_every_adapter(name: str) -> None:
    paths = _paths(name)
    assert len(paths) > 20  # every layout, release and subset that does not name it, beside the three
    assert {p: role for p, role in paths.items() if role != NAMES[name]} == {}


def test_one_side_rule() -> None:
    assert [camera_role(n) for n in ("left_wrist", "wrist_left", "leftwrist", "hand_left")] == [L] * 4
    assert [camera_role(n) for n in ("right_wrist", "wrist", "left_right_wrist", "gripper")] == [R] * 4


def test_names_are_read_in_words() -> None:
    assert words("/wrist_camera/image_raw") == {"wrist", "camera", "image", "raw"}
    assert words("robot0_eye_in_hand_image") == {"robot", "0", "eye", "in", "hand", "image"}
    assert words("HeadCamera") == {"head", "camera"}


def test_exact_maps_override_and_each_role_is_given_once() -> None:
    assert camera_role("front", {"front": T}) is T
    assert camera_role("cam_high", {"cam_high": None}) is None  # null: kept under its own name
    roles = camera_roles(["cam_high", "top", "camera0_rgb", "cam_low"], {"camera0_rgb": H})
    assert roles == {"cam_high": None, "top": None, "camera0_rgb": H, "cam_low": T}  # the exact entry claims first


def test_user_rules_go_before_the_table() -> None:
    assert canonical_camera("cam0", [("cam0", "head")]) is H
    assert canonical_camera("cam_high", [("cam_*", "none")]) is None
    assert canonical_camera("front", [("cam_*", "none")]) is H  # the table answers the rest


def test_the_shipped_table_is_well_formed() -> None:
    assert RULES and all(r.globs or r.words for r in RULES)
    roles = {r.role for r in RULES}
    assert roles <= {*(c.value for c in Camera), "wrist", "none"} and {"wrist", "head", "third_person"} <= roles


@pytest.mark.parametrize(
    ("rule", "said"),
    [
        ("{role: nose, words: [nose]}", "rules.1.role"),
        ("{role: head}", "names neither globs nor words"),
        ("{role: head, words: [Top]}", "lower-case"),
        ("{role: head, word: [top]}", "rules.1.word"),
    ],
)
def test_a_malformed_rule_names_the_file_and_the_key(tmp_path: Path, rule: str, said: str) -> None:
    bad = tmp_path / "camera_roles.yaml"
    bad.write_text(f"rules:\n  - {{role: wrist, globs: ['*wrist*']}}\n  - {rule}\n")
    with pytest.raises(ValueError) as e:
        read_yaml(bad, RoleTable)
    assert str(bad) in str(e.value) and "rules.1" in str(e.value) and said in str(e.value)
