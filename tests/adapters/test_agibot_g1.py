"""AgiBot gripper convention: the state rises as the gripper closes (mm, AgiBot-World issue #133), the command is
0 = open, 1 = close; the canonical opening reads about 1 in an open phase and about 0 in a closed one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from adapters.agibot.adapter import AgibotAdapter, AgibotOptions
from adapters.agibot_g1 import gripper_opening, hand_signals
from adapters.base import Stream
from adapters.synthetic.agibot import EpisodeSpec, Layout, WrittenEpisode, write_agibot
from schemas.canonical import GRIPPER, hand_dims
from tests.fixtures.offline import prepared


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, WrittenEpisode]]:
    root = tmp_path_factory.mktemp("agibot_gripper")
    specs = [EpisodeSpec(5, 1, 60), EpisodeSpec(5, 2, 60, layout=Layout.split_effector)]
    return root, write_agibot(root, specs, cameras=("head",), height=32, width=48, parameters=False)


def test_issue_133_readings_open_and_closed() -> None:
    """Issue #133: about 35 with the gripper almost fully open, about 118 almost fully closed."""
    open_, closed = gripper_opening(np.array([35.0, 118.0]))
    assert open_ > 0.9 and closed < 0.05
    assert gripper_opening(np.array([0.0]))[0] == 1.0  # the real sample rests open at 0: clipped, not > 1
    assert np.all(np.diff(gripper_opening(np.linspace(0, 120, 50))) <= 0)  # more mm, more closed


@pytest.mark.parametrize("raw_id", ["5/1", "5/2"])
def test_fixture_state_follows_the_close_command(corpus: tuple[Path, dict[str, WrittenEpisode]], raw_id: str) -> None:
    """As on the real sample (correlation +0.9): the state (mm) rises with the 0 = open, 1 = close command."""
    w = corpus[1][raw_id]
    if w.spec.layout is Layout.split_effector:
        state = np.hstack([w.states[f"{arm}_effector/position"] for arm in ("left", "right")])
        command = np.hstack([w.actions[f"{arm}_effector/position"] for arm in ("left", "right")])
    else:
        state, command = w.states["effector/position"], w.actions["effector/position"]
    for arm in range(2):
        assert set(np.unique(command[:, arm])) == {0.0, 1.0}  # open and close phases
        assert np.corrcoef(state[:, arm], command[:, arm])[0, 1] > 0.7
        assert state[command[:, arm] == 1, arm].max() > 110 and state[command[:, arm] == 0, arm].min() < 40


@pytest.mark.parametrize("raw_id", ["5/1", "5/2"])
def test_canonical_opening_spans_open_to_closed(corpus: tuple[Path, dict[str, WrittenEpisode]], raw_id: str) -> None:
    ref = next(r for r in AgibotAdapter().discover(corpus[0]) if r.raw_id == raw_id)
    raw = AgibotAdapter().read(ref)
    (ep,) = prepared(raw)
    actions = raw.actions
    for hand, arm in enumerate(("left", "right")):
        opening = ep.state[:, hand_dims(hand, GRIPPER)][:, 0]
        assert opening.max() > 0.9 and opening.min() < 0.05
        key = "effector.position" if "effector.position" in actions else f"{arm}_effector.position"
        command = actions[key].values[:, hand if key == "effector.position" else 0]
        assert np.corrcoef(raw.hands.hands[hand].gripper.values, command)[0, 1] < -0.7  # closing closes


def test_endpoints_are_options() -> None:
    mm = np.array([[0.0, 60.0], [60.0, 100.0]])
    states = {"effector.position": Stream(np.arange(2) / 30.0, mm, ("left", "right"), "mm")}
    got = hand_signals(states, open_mm=0.0, closed_mm=100.0)
    np.testing.assert_allclose(got.hands[0].gripper.values, [1.0, 0.4])
    np.testing.assert_allclose(got.hands[1].gripper.values, [0.4, 0.0])
    assert AgibotOptions(gripper_open_mm=0, gripper_closed_mm=100).gripper_open_mm == 0
    with pytest.raises(ValidationError, match="rises as it closes"):
        AgibotOptions(gripper_open_mm=120, gripper_closed_mm=0)
