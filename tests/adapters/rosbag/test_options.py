"""The rosbag adapter's options (`adapters.rosbag.options`): validated before any work, each bad value refused at its
own field (its dotted name in the error), the rules between fields (a cut needs its parameter, an eef a robot, a
gripper an eef) refused with both names, and the defaults what the adapter documents."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from adapters.registry import get_adapter
from adapters.rosbag.options import EpisodeCut, RosbagOptions
from schemas.canonical import Camera
from schemas.tiers import QualityTier

EEF = {"frame": "ee_gripper_link", "base": "base_link"}
GRIPPER = {"topic": "/wx200/joint_states", "component": "left_finger", "closed": 0.015, "open": 0.037}


def _refused(options: dict[str, Any]) -> tuple[tuple[Any, ...], str, str]:
    """(where, message, the whole error text) of the one error `options` raise."""
    with pytest.raises(ValidationError) as e:
        RosbagOptions.model_validate(options)
    (err,) = e.value.errors()
    return err["loc"], err["msg"], str(e.value)


@pytest.mark.parametrize(
    ("options", "loc"),
    [
        ({"episodes": {"by": "window", "window_s": 0}}, ("episodes", "window_s")),
        ({"episodes": {"by": "gap", "gap_s": -1.0}}, ("episodes", "gap_s")),
        ({"episodes": {"by": "scene"}}, ("episodes", "by")),
        ({"episodes": {"min_s": -0.1}}, ("episodes", "min_s")),
        ({"episodes": {"by": "bag", "window": 3}}, ("episodes", "window")),
        ({"stamps": "sometimes"}, ("stamps",)),
        ({"stamp_tolerance_s": 0}, ("stamp_tolerance_s",)),
        ({"max_depth": -1}, ("max_depth",)),
        ({"max_depth": 33}, ("max_depth",)),
        ({"camera_map": {"/camera/color/image_raw": "nose"}}, ("camera_map", "/camera/color/image_raw")),
        ({"exclude_topics": "/chatter"}, ("exclude_topics",)),
        ({"tier": "platinum"}, ("tier",)),
        ({"stamp": "header"}, ("stamp",)),  # a typo is an unknown key, not a silently ignored one
        ({"embodiment": "franka", "eef": {**EEF, "side": "middle"}}, ("eef", "side")),
        ({"embodiment": "franka", "eef": EEF, "gripper": {**GRIPPER, "component": None}}, ("gripper", "component")),
    ],
)
def test_a_bad_value_is_refused_at_its_own_field(options: dict[str, Any], loc: tuple[str, ...]) -> None:
    where, _, text = _refused(options)
    assert where == loc
    assert ".".join(loc) in text  # the option's dotted name, as a spec error shows it


@pytest.mark.parametrize(
    ("options", "loc", "message"),
    [
        ({"episodes": {"by": "window"}}, ("episodes",), "episodes.by 'window' needs episodes.window_s"),
        ({"episodes": {"by": "gap"}}, ("episodes",), "episodes.by 'gap' needs episodes.gap_s"),
        ({"episodes": {"by": "topic"}}, ("episodes",), "episodes.by 'topic' needs episodes.topic"),
        ({"embodiment": "franka", "eef": {"frame": "ee_link"}}, ("eef",), "eef needs either topic, or both frame"),
        ({"embodiment": "franka", "eef": EEF, "gripper": {**GRIPPER, "open": 0.015}}, ("gripper",), "both 0.015"),
        ({"eef": EEF}, (), "eef needs embodiment"),
        ({"embodiment": "franka", "gripper": GRIPPER}, (), "gripper needs eef"),
    ],
)
def test_the_rules_between_fields_name_both(options: dict[str, Any], loc: tuple[str, ...], message: str) -> None:
    where, msg, _ = _refused(options)
    assert where == loc and message in msg


def test_a_full_configuration_reads_and_the_defaults_are_the_documented_ones() -> None:
    opts = RosbagOptions.model_validate(
        {
            "episodes": {"by": "topic", "topic": "/episode_start", "min_s": 1.0},
            "stamps": "receive",
            "camera_map": {"/camera/color/image_raw": "head"},
            "exclude_topics": ["/diagnostics*"],
            "task_topic": "/task",
            "embodiment": "wx200",
            "eef": {"topic": "/ee_pose", "side": "left"},
            "gripper": GRIPPER,
            "max_depth": 0,
        }
    )
    assert opts.camera_map == {"/camera/color/image_raw": Camera.head} and opts.eef.side == "left"
    assert opts.episodes.topic == "/episode_start" and opts.gripper.open == 0.037 and opts.max_depth == 0
    d = RosbagOptions()
    assert (d.source, d.episodes, d.stamps, d.stamp_tolerance_s, d.max_depth, d.tier) == (
        "rosbag",
        EpisodeCut(),
        "auto",
        1.0,
        6,
        QualityTier.high,
    )
    assert (d.episodes.by, d.episodes.min_s) == ("bag", 0.5) and d.eef is None and d.embodiment is None
    assert d.action_topics == ["*command*", "*cmd*", "*action*"] and d.exclude_topics == []
    with pytest.raises(ValidationError, match="frozen"):
        d.episodes.by = "window"


def test_the_adapter_validates_its_options_before_any_work() -> None:
    with pytest.raises(ValidationError, match=r"episodes\.window_s"):
        get_adapter("rosbag", {"episodes": {"by": "window", "window_s": "long"}})
    assert get_adapter("rosbag", {"max_depth": 2}).options.max_depth == 2


def test_the_cameras_option_reads_the_cameras_it_names_and_flags_a_typo_at_discovery(synthetic_bag) -> None:
    """The rosbag adapter ignored `cameras` (every camera read). It now reads those named (by camera name or topic)
    and leaves the others out, said; a name no image topic of the bag has flags each of the bag's episodes at
    discovery, with the closest camera (issue 86, item 4: a bag's topics are known only once it is opened)."""
    adapter = get_adapter("rosbag", {"cameras": ["/camera/color/image_raw"]})
    ep = adapter.read(next(adapter.discover(synthetic_bag.path.parent)))
    assert list(ep.cameras) == ["camera_color_image_raw"]
    typo = get_adapter("rosbag", {"cameras": ["camera_colour_image_raw", "wrist_camera_image_raw_compressed"]})
    [ref] = typo.discover(synthetic_bag.path.parent)
    assert ref.error is not None and "camera 'camera_colour_image_raw' is no image topic of the bag; did you mean " in (
        ref.error
    )
    assert "'camera_color_image_raw'?" in ref.error and "wrist_camera" not in ref.error
