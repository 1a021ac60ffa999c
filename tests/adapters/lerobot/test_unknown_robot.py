"""A LeRobot dataset from a robot we have no description of is named `unknown`, never guessed: a G1-like layout (two
7-DoF arms and two 6-DoF hands, joint names as Unitree's own datasets write them) under a robot_type we do not know
is no AgiBot and no G1; its command (`action.native`) is its action, so it is not actionless. Under `unitree_g1`
(a G1 whose hand the robot_type does not name) the arms are read by forward kinematics and the hands stay native
(before issue 14 the whole episode was `unknown`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.lerobot.adapter import LeRobotSource
from ingest.lerobot.writer import LeRobotWriter
from schemas.actions import ActionKind
from schemas.canonical import FINGERTIPS_XYZ, WRIST_POS, hand_dims
from schemas.lerobot_features import IMAGE_NAMES, FeatureSpec
from schemas.robots.registry import UNKNOWN_EMBODIMENT, default_registry
from schemas.tiers import QualityTier, reasons_of
from tests.fixtures.offline import prepared

ARM = ["ShoulderPitch", "ShoulderRoll", "ShoulderYaw", "Elbow", "WristRoll", "WristPitch", "WristYaw"]
HAND = ["Thumb0", "Thumb1", "Thumb2", "Middle0", "Middle1", "Index0"]
NAMES = [f"k{side}{j}" for side in ("Left", "Right") for j in ARM] + [
    f"k{side}Hand{j}" for side in ("Left", "Right") for j in HAND
]


def _g1(root: Path, robot_type: str | None) -> Path:
    vec = FeatureSpec(dtype="float32", shape=(len(NAMES),), names=NAMES)
    cam = FeatureSpec(dtype="video", shape=(32, 32, 3), names=list(IMAGE_NAMES))
    features = {"observation.images.ego_view": cam, "observation.state": vec, "action": vec}
    with LeRobotWriter.create(root, fps=30, features=features, robot_type=robot_type) as w:
        with w.episode(task="pick the cup") as ep:
            for t in range(30):
                q = np.sin(np.linspace(0, 1, len(NAMES)) + t / 10).astype(np.float32)
                frame = np.full((32, 32, 3), 8 * t, np.uint8)
                ep.add_frame({"observation.images.ego_view": frame, "observation.state": q, "action": q})
    return root


@pytest.mark.parametrize("robot_type", ["acme_biped_v2", None])
def test_an_unknown_robot_is_named_unknown_not_guessed(tmp_path: Path, robot_type: str | None) -> None:
    adapter = LeRobotSource()
    [ref] = adapter.discover(_g1(tmp_path / "g1", robot_type))
    raw = adapter.read(ref)
    assert raw.embodiment == UNKNOWN_EMBODIMENT
    assert "names no known embodiment" in raw.metadata["embodiment_from"]
    assert any(
        r.startswith(f"no kinematic description for robot_type {robot_type!r}") and "embodiment` option" in r
        for r in reasons_of(raw.verdicts)
    )
    [ep] = prepared(raw)
    assert not ep.mask.any()  # nothing canonical is made up ...
    assert ep.natives.state is not None and ep.natives.state.shape[1] == len(NAMES)  # ... and the joints are kept
    assert any("no kinematic description" in r for r in ep.tier_reasons)
    # no canonical action, but the file holds a command that moves: it is the episode's action (issue 55)
    assert ep.action_kind is ActionKind.native and ep.has_action and ep.tier is not QualityTier.actionless
    assert any(r.startswith("action: its native command at 10 Hz (action.native, 26 dims") for r in ep.tier_reasons)


def test_a_g1_without_a_named_hand_gets_its_wrists_only(tmp_path: Path) -> None:
    adapter = LeRobotSource()
    [ref] = adapter.discover(_g1(tmp_path / "g1", "unitree_g1"))
    [ep] = prepared(adapter.read(ref))
    assert ep.embodiment == "unitree_g1" and ep.tier is not QualityTier.actionless  # (its toy motion oscillates: low)
    assert not [r for r in ep.tier_reasons if "joint space" in r or "kinematic" in r]
    for h in (0, 1):
        assert ep.mask[hand_dims(h, WRIST_POS)].all() and not ep.mask[hand_dims(h, FINGERTIPS_XYZ)].any()


def test_the_embodiment_option_names_it(tmp_path: Path) -> None:
    adapter = LeRobotSource({"embodiment": "gr1"})
    [ref] = adapter.discover(_g1(tmp_path / "g1", "unitree_g1"))
    raw = adapter.read(ref)
    assert raw.embodiment == "gr1" and raw.metadata["embodiment_from"] == "embodiment option"
    assert not [r for r in reasons_of(raw.verdicts) if "no kinematic description" in r]


def test_unknown_fills_no_canonical_dim() -> None:
    assert not default_registry().get(UNKNOWN_EMBODIMENT).mask().any()
