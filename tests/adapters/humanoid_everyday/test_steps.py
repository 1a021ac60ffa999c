"""`data.json` into streams (`adapters/humanoid_everyday/steps.py`): widths, names and units by robot, the command
and the teleoperator's poses apart, leading steps without actions dropped, and every malformed field named with its
step. Documents are the writer's (`tests/fixtures/writers/humanoid_everyday.py`) with one field broken."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.humanoid_everyday.steps import ARM_NAMES, H1_2_ARM_NAMES, parse_steps
from tests.fixtures.writers.humanoid_everyday import EpisodeSpec, steps_of


class Bad(Exception):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def _fail(message: str, field: str) -> Exception:
    return Bad(message, field)


def test_g1_streams_names_and_units() -> None:
    s = parse_steps(steps_of(EpisodeSpec("g1", steps=8)), _fail)
    assert s.robot == "g1" and s.skipped == 0 and len(s.t) == 8 and s.t[0] == 0.0
    assert s.states["states.arm_state"].names == ARM_NAMES and s.states["states.arm_state"].unit == "rad"
    assert ARM_NAMES[0] == "kLeftShoulderPitch" and ARM_NAMES[13] == "kRightWristYaw"
    hand = s.states["states.hand_state"].names
    assert hand is not None and hand[0] == "kLeftHandThumb0" and hand[10] == "kRightHandIndex0"
    assert s.states["states.leg_state"].names[-1] == "kWaistPitch"  # type: ignore[index]
    assert list(s.actions) == ["actions.sol_q", "actions.left_angles", "actions.right_angles"]
    assert s.signals["actions.left_pose"].values.shape == (8, 4, 4) and s.signals["actions.left_pose"].unit == "se3_4x4"
    assert "states.odometry.quat" in s.signals and s.images[2] == "color/frame_000002.png"


def test_h1_has_no_robot_type_and_keeps_its_hand_values_raw() -> None:
    s = parse_steps(steps_of(EpisodeSpec("h1", steps=5)), _fail)
    assert s.robot == "h1" and s.states["states.leg_state"].names[-1] == "kWaistYaw"  # type: ignore[index]
    assert s.states["states.arm_state"].names == s.actions["actions.sol_q"].names == H1_2_ARM_NAMES
    assert H1_2_ARM_NAMES[4] == "kLeftElbowRoll" and H1_2_ARM_NAMES[13] == "kRightWristYaw"
    assert s.actions["actions.left_angles"].values.shape == (5, 12) and s.actions["actions.left_angles"].names is None
    assert not any(k.startswith("states.odometry") for k in s.signals)  # null odometry: not made up
    assert s.absent == [f"states.odometry.{k}" for k in ("position", "velocity", "rpy", "quat")]


def test_leading_steps_without_actions_are_dropped_and_counted() -> None:
    doc = steps_of(EpisodeSpec("g1", steps=10, leading_null=4))
    s = parse_steps(doc, _fail)
    assert s.skipped == 4 and len(s.t) == 6 and s.start_unix == doc[4]["time"]
    assert np.allclose(s.states["states.arm_state"].values[0], doc[4]["states"]["arm_state"])
    assert s.images[0] == "color/frame_000004.png"


def test_a_signal_some_step_lacks_is_named_absent_not_read() -> None:
    doc = steps_of(EpisodeSpec("g1", steps=6))
    del doc[3]["actions"]["iktime"]
    doc[4]["actions"]["tau_ff"] = None
    s = parse_steps(doc, _fail)
    assert s.absent == ["actions.tau_ff", "actions.iktime"] and "actions.armtime" in s.signals
    assert "actions.iktime" not in s.signals and "actions.sol_q" in s.actions


def test_no_actions_at_all_keeps_every_step_without_an_action() -> None:
    s = parse_steps(steps_of(EpisodeSpec("g1", steps=5, leading_null=5)), _fail)
    assert s.skipped == 0 and len(s.t) == 5 and not s.actions


def _broken(edit) -> Bad:
    doc = steps_of(EpisodeSpec("g1", steps=8, leading_null=2))
    edit(doc)
    with pytest.raises(Bad) as info:
        parse_steps(doc, _fail)
    return info.value


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (lambda d: d[5]["states"].pop("hand_state"), "[5].states.hand_state", "missing"),
        (lambda d: d[3]["states"]["arm_state"].append(0.0), "[3].states.arm_state", "(15,)"),
        (lambda d: d[6]["actions"].update(sol_q="x"), "[6].actions.sol_q", "not numbers"),
        (
            lambda d: d[4]["states"]["imu"].update(quaternion=[1.0, float("nan"), 0, 0]),
            "[4].states.imu.quaternion",
            "finite",
        ),
        (lambda d: d[7].update(time=d[3]["time"]), "time", "at step 7"),
        (lambda d: d[6].update(image=None), "[6].image", "relative"),
        (lambda d: d[5].update(actions=None), "[5].actions", "after step 2"),
        (lambda d: d[4]["actions"].update(head_rmat=[[1, 0], [0, 1]]), "[4].actions.head_rmat", "(3, 3)"),
        (lambda d: d.__setitem__(3, [1, 2]), "[3]", "not an object"),
        (lambda d: [s.update(robot_type="go2") for s in d], "robot_type", "neither G1 nor H1"),
    ],
)
def test_each_malformed_field_is_named_with_its_step(edit, field: str, words: str) -> None:
    err = _broken(edit)
    assert err.field == field and words in err.message, (err.field, err.message)


def test_a_document_that_is_not_a_list_or_empty() -> None:
    for doc, words in (({"steps": []}, "not the list of steps"), ([], "no steps")):
        with pytest.raises(Bad) as info:
            parse_steps(doc, _fail)
        assert info.value.field == "data.json" and words in info.value.message
