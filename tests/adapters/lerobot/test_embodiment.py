"""robot_type -> embodiment by alias: whole tokens, never a bare substring (`mano` must not name `humanoid`); a card's
sides need one side per arm prefix; robots resolved by the evidence of their state names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.lerobot.adapter import LeRobotSource
from adapters.lerobot.embodiment import (
    EMBODIMENT_ALIASES,
    _span,
    card_sides,
    resolve_embodiment,
    robot_type_tokens,
)
from schemas.robots.registry import FAMILIES, UNKNOWN_EMBODIMENT, default_registry
from tests.adapters.lerobot.conftest import MOTORS, write_arm_dataset

# robot_type strings as recorders write them (lerobot Robot.name, unitree_lerobot ROBOT_CONFIGS, GR00T, OXE names)
TABLE = [
    ("so101_follower", "so101"),
    ("so100_follower", "so100"),
    ("so100", "so100"),
    ("koch_follower", "koch"),
    ("koch", "koch"),
    ("aloha", "aloha"),
    ("Unitree_G1_Dex3", "unitree_g1_dex3"),
    ("Unitree_G1_Inspire", "unitree_g1_inspire"),
    ("Unitree_G1", "unitree_g1"),
    ("GR1ArmsOnly", "gr1"),
    ("UR5e", "ur5e"),
    ("ur5", "ur5"),
    ("franka_panda", "franka"),
    ("WidowX250s", "widowx"),
    ("wx250s", "widowx"),
    ("fractal20220817_data", "google_robot"),
    ("mano_hands", "human"),
    ("MANO", "human"),
    ("egodex", "human"),
    ("human_hand", "human"),
    ("agilex_piper", "piper"),
    ("kuavo4pro", "kuavo_4pro"),  # a family: ingest tells the arm length (ingest/canonical/family.py)
    # substrings that are not tokens: no alias
    ("humanoid", None),
    ("unitree_h1_humanoid", None),
    ("Unitree_H1_humanoid", None),
    ("expanda", None),
    ("pandas_bot", None),
    ("", None),
]


def alias_matches(robot_type: str, alias: str) -> bool:
    """True when `alias` (lower case, alphanumerics) spells a contiguous run of whole tokens of `robot_type`."""
    return _span(robot_type_tokens(robot_type), alias) is not None


def alias_embodiment(robot_type: str) -> str | None:
    """The registry name the first matching `EMBODIMENT_ALIASES` entry gives `robot_type`, or None (whatever the other
    tokens: `resolve_embodiment` judges those)."""
    return next(
        (name for needles, name in EMBODIMENT_ALIASES if any(alias_matches(robot_type, n) for n in needles)), None
    )


@pytest.mark.parametrize(("robot_type", "expected"), TABLE)
def test_alias_table(robot_type: str, expected: str | None) -> None:
    assert alias_embodiment(robot_type) == expected


def test_tokens_split_case_digits_and_separators() -> None:
    assert robot_type_tokens("GR1ArmsOnly") == ["gr", "1", "arms", "only"]
    assert robot_type_tokens("Unitree_H1_humanoid") == ["unitree", "h", "1", "humanoid"]
    assert robot_type_tokens("so101_follower") == ["so", "101", "follower"]
    assert robot_type_tokens("HTTPRobot-x") == ["http", "robot", "x"]


def test_every_alias_names_a_registered_embodiment() -> None:
    names = set(default_registry().names()) | set(FAMILIES)  # or a family, whose member ingest tells
    assert {name for _, name in EMBODIMENT_ALIASES} <= names


def test_card_sides_need_one_side_per_prefix() -> None:
    assert card_sides("arm1 (RHS), arm2 (LHS)", ["arm1", "arm2"]) == {"arm1": "right", "arm2": "left"}
    assert card_sides("arm1: left arm\narm2: right arm", ["arm1", "arm2"]) == {"arm1": "left", "arm2": "right"}
    assert card_sides("arm1 (RHS), arm2 (RHS)", ["arm1", "arm2"]) is None  # both right: not a side each
    assert card_sides("arm1 (RHS) or left?", ["arm1", "arm2"]) is None  # arm2 unnamed
    assert card_sides("the arm10 (LHS)", ["arm1", "arm2"]) is None  # arm10 is not arm1


def _resolved(tmp_path: Path, robot_type: str, names: list[str]) -> tuple[str, str]:
    root = write_arm_dataset(tmp_path / robot_type, robot_type, names, np.zeros((3, len(names))))
    return resolve_embodiment(robot_type, LeRobotSource().dataset(root), None)


ONE_ARM = [f"{m}.pos" for m in MOTORS]


@pytest.mark.parametrize(
    ("robot_type", "names", "expected"),
    [
        ("so101_bimanual", [f"arm{a}_j{i}" for a in (1, 2) for i in range(1, 7)], "so101_bimanual"),  # real layout
        ("dual_so101", [f"{m}_{s}.pos" for s in ("left", "right") for m in MOTORS], "so101_bimanual"),  # real layout
        ("bi_so100_follower", [f"{s}_{m}.pos" for s in ("left", "right") for m in MOTORS], "so100_bimanual"),
        ("bi_so101_follower", [f"{s}_{m}.pos" for s in ("left", "right") for m in MOTORS], "so101_bimanual"),
        ("bi_piper", [f"{s}_joint_{i}.pos" for s in ("left", "right") for i in range(1, 8)], "piper_bimanual"),
        ("so101_follower", [f"{s}_{m}.pos" for s in ("left", "right") for m in MOTORS], "so101_bimanual"),  # names
        ("so101_follower", ONE_ARM, "so101"),
        ("so101_custom_xl", ONE_ARM, UNKNOWN_EMBODIMENT),  # resembles so101: never mapped without the option
        ("koch_bimanual", ONE_ARM, UNKNOWN_EMBODIMENT),  # two Koch arms: none registered
        ("koch_follower", [f"{s}_{m}.pos" for s in ("left", "right") for m in MOTORS], UNKNOWN_EMBODIMENT),  # names
        ("franka", ["left_finger", "right_finger", *(f"joint{i}" for i in range(1, 8))], "franka"),  # fingers: one arm
        (
            "franka",
            [
                f"{s}.{p}"
                for s in ("left", "right")
                for p in ("wrist.x", "wrist.y", "wrist.z", "gripper", "a", "b", "c", "d")
            ],
            "franka",
        ),  # canonical names
        ("aloha", [f"{s}_waist" for s in ("left", "right")], "aloha"),  # already two arms
    ],
)
def test_robots_by_evidence(tmp_path: Path, robot_type: str, names: list[str], expected: str) -> None:
    name, how = _resolved(tmp_path, robot_type, names)
    assert name == expected, how
    if expected == UNKNOWN_EMBODIMENT:
        assert "`embodiment` option" in how
