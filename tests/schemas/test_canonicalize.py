"""Canonicalization's configuration (schemas/canonicalize.py): a job spec's block validates with every error naming
its full path, the Franka limits hold every pose the real arm reaches (the maker's description, sampled within its
joint limits), and the generous default box still catches millimetres stored as metres."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pytest
from pydantic import ValidationError

from schemas.canonical import CANONICAL_FPS
from schemas.canonicalize import CanonicalizeSpec, GapPolicy, KinematicLimits, ValidityConfig, Workspace
from tests.schemas.robots.urdf import chain, forward


def test_a_spec_block_round_trips_and_keeps_what_it_was_given() -> None:
    block = {
        "fps": 10,
        "gap_policy": "invalidate",
        "validity": {"policy": "mask", "limits": {"widowx": {"max_wrist_speed_m_s": 1.0}}},
        "quality": {"max_idle_ratio": 0.3},
    }
    spec = CanonicalizeSpec.model_validate(block)
    assert spec.gap_policy is GapPolicy.invalidate and spec.validity.policy == "mask"
    assert CanonicalizeSpec.model_validate_json(spec.model_dump_json()) == spec
    # naming one embodiment replaces the limits table: the others fall back to the generous default
    assert spec.validity.limits_for("widowx").max_wrist_speed_m_s == 1.0
    assert spec.validity.limits_for("franka") == spec.validity.default_limits


@pytest.mark.parametrize(
    ("block", "loc", "kind"),
    [
        ({"fps": 15}, ("fps",), "value_error"),  # one canonical rate, said why (issue 50 item 9)
        ({"interpolation_tolerance_s": 0.05}, ("interpolation_tolerance_s",), "less_than"),  # half a frame
        ({"max_gap": 1.0}, ("max_gap",), "extra_forbidden"),  # a misspelt key is an error, not a silent default
        ({"gap_policy": "merge"}, ("gap_policy",), "enum"),
        (
            {"validity": {"limits": {"franka": {"max_wrist_speed_m_s": -1}}}},
            ("validity", "limits", "franka", "max_wrist_speed_m_s"),
            "greater_than",
        ),
        ({"quality": {"min_frames": 1}}, ("quality", "min_frames"), "greater_than_equal"),
        # a misspelt threshold is refused naming it, in every block and in the limits nested in validity
        ({"quality": {"max_idle_ration": 0.3}}, ("quality", "max_idle_ration"), "extra_forbidden"),
        ({"validity": {"min_length_frame": 5}}, ("validity", "min_length_frame"), "extra_forbidden"),
        (
            {"validity": {"limits": {"franka": {"max_wrist_sped_m_s": 1.0}}}},
            ("validity", "limits", "franka", "max_wrist_sped_m_s"),
            "extra_forbidden",
        ),
        ({"cameras": ["head", "belly"]}, ("cameras", 1), "enum"),
    ],
)
def test_errors_name_the_full_path(block: dict, loc: tuple, kind: str) -> None:
    with pytest.raises(ValidationError) as err:
        CanonicalizeSpec.model_validate(block)
    assert [(e["loc"], e["type"]) for e in err.value.errors()] == [(loc, kind)]


def test_a_workspace_must_be_a_box() -> None:
    with pytest.raises(ValidationError, match="must be below high"):
        Workspace(low=(0.0, 0.0, 0.0), high=(1.0, -1.0, 1.0))
    with pytest.raises(ValidationError, match="must be below high"):
        Workspace(low=(0.0, 0.0, 0.0), high=(1.0, 0.0, 1.0))  # an empty box too


def _inside(box: Workspace, p: np.ndarray) -> np.ndarray:
    return np.all((p > np.array(box.low)) & (p < np.array(box.high)), axis=-1)


@pytest.mark.parametrize("robot", ["panda", "fr3"])
def test_the_franka_workspace_holds_every_pose_the_arm_reaches(robot: str) -> None:
    """The maker's kinematics (schemas/robots/descriptions, franka_description), 1000 random configurations within
    its joint limits: no TCP the arm can reach is flagged as outside the workspace (the box is not a glitch filter
    that drops real motion), and the box is not absurdly loose either."""
    box = ValidityConfig().limits_for("franka").workspace
    assert box is not None
    arm = [j for j in chain(robot, f"{robot}_hand_tcp") if j.type == "revolute"]
    rng = np.random.default_rng(0)
    tcps = np.array(
        [
            forward(robot, f"{robot}_hand_tcp", {j.name: rng.uniform(j.lower, j.upper) for j in arm})[:3, 3]
            for _ in range(1000)
        ]
    )
    assert _inside(box, tcps).all(), tcps[~_inside(box, tcps)][:3]
    reach = np.linalg.norm(tcps, axis=1).max()
    assert 0.9 < reach < 1.3  # link0 to the hand's TCP: the 0.855 m datasheet reach plus the hand
    assert np.max(np.abs(np.array([box.low, box.high]))) < 2 * reach


def test_the_default_box_catches_millimetres_stored_as_metres() -> None:
    box = ValidityConfig().default_limits.workspace
    assert box is not None
    wrist_m = np.array([0.45, -0.1, 0.3])  # a plausible wrist, metres
    assert _inside(box, wrist_m) and not _inside(box, wrist_m * 1000)
    assert KinematicLimits().workspace is None  # a limits entry without a box checks none


def test_the_rate_is_the_one_canonical_rate() -> None:
    """A spec may state the rate (the demo's does), never another one: `CANONICAL_FPS` is the only 10 in the code."""
    assert get_args(CanonicalizeSpec.model_fields["fps"].annotation) == (CANONICAL_FPS,)
    assert CanonicalizeSpec().fps == CanonicalizeSpec.model_validate({"fps": 10}).fps == CANONICAL_FPS


def test_a_source_that_keeps_short_episodes_lowers_only_the_minimum_length() -> None:
    config = ValidityConfig()
    assert config.keeping_short("") is config
    short = config.keeping_short("annotated segments")
    assert short.min_length_frames == 1 and short.model_dump(exclude={"min_length_frames"}) == config.model_dump(
        exclude={"min_length_frames"}
    )
