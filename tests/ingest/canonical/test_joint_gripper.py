"""A joint-space gripper (`ingest.canonical.joint_gripper`): read from the state, else from the action's scalar
command column; compared with the recorded column at each frame; refused, naming the column, when it does not fit."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.base import EpisodeRef, RawEpisode, Stream
from ingest.canonical.joint_columns import STATE_STREAMS, JointSpaceError, Resolver
from ingest.canonical.joint_gripper import read_gripper
from schemas.robots.joint_space import ArmMap, GripperMap, JointMap, JointSpaceOptions
from schemas.tiers import QualityTier

T = np.arange(6) / 10.0
COMMAND = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 1.0])  # a recorded 0/1 command: close at frame 2, open at frame 4


def _arm(column: str, tolerance: float | None = 0.05, closed: float = 0.0, opened: float = 1.0) -> ArmMap:
    grip = GripperMap(
        joint=JointMap(urdf=column), closed_q=closed, open_q=opened, source="test", range_tolerance=tolerance
    )
    return ArmMap(side="right", joints=(JointMap(urdf="j1"),), link="tool", gripper=grip)


def _read(arm: ArmMap, opts: JointSpaceOptions | None = None):
    opts = opts or JointSpaceOptions(joint_map={"action.gripper": "action.gripper"})
    states = {"observation.state": Stream(T, np.zeros((6, 1)), ("j1",))}
    actions = {"action": Stream(T, np.zeros((6, 1)), ("j1",)), "action.gripper": Stream(T, COMMAND)}
    ref = EpisodeRef(adapter="lerobot", source="s", subset="d", raw_id="e0", paths=())
    raw = RawEpisode(ref, None, "x", QualityTier.high, 10.0, states=states, actions=actions)
    where = "dataset d, episode e0, field observation.state"
    return read_gripper(raw, Resolver(states, STATE_STREAMS, "state", opts), arm, "rad", opts, where)


def test_a_gripper_only_in_the_action_is_the_recorded_command_at_each_frame() -> None:
    stream, commanded, note = _read(_arm("action.gripper"))
    assert commanded and np.array_equal(stream.values, COMMAND) and np.array_equal(stream.timestamps, T)
    assert "action.gripper" in note and "command" in note
    inverted, _, _ = _read(_arm("action.gripper", closed=1.0, opened=0.0))  # closed at 1: the opening is 1 - value
    assert np.array_equal(inverted.values, 1.0 - COMMAND)


@pytest.mark.parametrize(
    ("arm", "said"),
    [
        (_arm("action.gripper", closed=0.0, opened=0.5), "field action.gripper: right gripper values 0..1"),
        (_arm("action.grip"), "'action.grip' not found in the state or action"),
    ],
)
def test_a_gripper_that_does_not_fit_its_column_is_refused_naming_it(arm: ArmMap, said: str) -> None:
    with pytest.raises(JointSpaceError, match="episode e0") as err:
        _read(arm)
    assert said in str(err.value)


def test_a_shipped_gripper_without_a_tolerance_is_clipped_not_refused() -> None:
    stream, _, _ = _read(_arm("action.gripper", tolerance=None, closed=0.0, opened=0.5))
    assert stream.values.max() == 1.0
