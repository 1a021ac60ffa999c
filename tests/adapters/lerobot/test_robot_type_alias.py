"""robot_type -> embodiment by alias: whole tokens, never a bare substring (`mano` must not name `humanoid`)."""

from __future__ import annotations

import pytest

from adapters.lerobot.embodiment import EMBODIMENT_ALIASES, alias_embodiment, robot_type_tokens
from schemas.robots.registry import default_registry

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
    # substrings that are not tokens: no alias
    ("humanoid", None),
    ("unitree_h1_humanoid", None),
    ("Unitree_H1_humanoid", None),
    ("expanda", None),
    ("pandas_bot", None),
    ("", None),
]


@pytest.mark.parametrize(("robot_type", "expected"), TABLE)
def test_alias_table(robot_type: str, expected: str | None) -> None:
    assert alias_embodiment(robot_type) == expected


def test_tokens_split_case_digits_and_separators() -> None:
    assert robot_type_tokens("GR1ArmsOnly") == ["gr", "1", "arms", "only"]
    assert robot_type_tokens("Unitree_H1_humanoid") == ["unitree", "h", "1", "humanoid"]
    assert robot_type_tokens("so101_follower") == ["so", "101", "follower"]
    assert robot_type_tokens("HTTPRobot-x") == ["http", "robot", "x"]


def test_every_alias_names_a_registered_embodiment() -> None:
    names = set(default_registry().names())
    assert {name for _, name in EMBODIMENT_ALIASES} <= names
