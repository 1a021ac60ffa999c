"""The real GR00T GR1 sample (`robot_sim.PickNPlace`, robot_type `GR1ArmsOnly`, 44 joint angles per step) reaches
the canonical hand space by forward kinematics: both wrists and fingertips are filled, the tier stays the source's,
and the physical invariants hold in every episode (before: every episode came out actionless with an empty mask)."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.lerobot.adapter import LeRobotSource
from ingest.episode import CanonicalEpisode
from ingest.kinematics import load_model
from ingest.qa.dataset import geometry_findings, geometry_summary
from schemas.canonical import FINGERTIPS_XYZ, GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.qa import QAConfig
from schemas.tiers import QualityTier
from tests.fixtures.offline import prepared
from tests.realdata import realdata

SAMPLE = "gr00t_robot_sim_picknplace"


@pytest.fixture(scope="module")
def episodes() -> list[CanonicalEpisode]:
    source = LeRobotSource()
    return [ep for ref in source.discover(realdata(SAMPLE)) for ep in prepared(source.read(ref))]


def test_every_episode_is_gr1_with_wrists_and_fingertips_and_keeps_its_tier(episodes: list[CanonicalEpisode]) -> None:
    assert len(episodes) == 5
    for ep in episodes:
        assert ep.embodiment == "gr1" and ep.tier is QualityTier.high, (ep.tier, ep.tier_reasons)
        assert not any("actionless" in r or "missing actions" in r for r in ep.tier_reasons)
        for hand in (0, 1):
            for part in (WRIST_POS, WRIST_ROT6D, FINGERTIPS_XYZ):
                assert ep.mask[hand_dims(hand, part)].all()
            assert not ep.mask[hand_dims(hand, GRIPPER)].any()  # a dexterous hand has no gripper opening
        # the 44 joints stay beside, and so do the sample's other numeric columns (nothing lost: issue 23)
        signals = ("annotation.human.action.task_description", "annotation.human.validity")
        assert ep.natives.state is not None and ep.natives.state.shape[1] == 44 + len(signals)
        assert set(signals) <= {n.rsplit(".", 1)[0] for n in ep.natives.state_names}
        assert ep.natives.outcome_names == ["next.done.0", "next.reward.0"]  # beside the state
        assert any("forward kinematics of gr1_arms" in n for n in ep.notes)


def _shoulders_and_reach() -> tuple[dict[int, np.ndarray], float]:
    """Shoulder centres (the shoulder pitch joints) in the pelvis frame and the arm's reach: the sum of the chain's
    link lengths from there to the wrist, which no configuration can exceed (triangle inequality)."""
    model = load_model("gr1_arms")
    chain = ["upper_arm_pitch", "upper_arm_roll", "upper_arm_yaw", "lower_arm_pitch", "hand_yaw", "hand_roll"]
    links = [f"left_{c}_link" for c in chain] + ["left_hand_pitch_link", "right_upper_arm_pitch_link"]
    p = model.forward(np.zeros((1, model.dof)), links)[0, :, :3, 3]
    reach = float(np.linalg.norm(np.diff(p[:-1], axis=0), axis=1).sum())
    return {0: p[0], 1: p[-1]}, reach


def test_wrists_are_in_front_within_reach_and_left_on_the_left(episodes: list[CanonicalEpisode]) -> None:
    shoulders, reach = _shoulders_and_reach()
    assert 0.45 < reach < 0.65  # GR1T1 upper arm + forearm
    for ep in episodes:
        wrist = {h: ep.state[:, hand_dims(h, WRIST_POS)].astype(np.float64) for h in (0, 1)}
        for h in (0, 1):
            assert (wrist[h][:, 0] > 0.05).all()  # in front of the pelvis
            assert (np.linalg.norm(wrist[h] - shoulders[h], axis=1) <= reach + 1e-6).all()
            assert (wrist[h][:, 2] > 0).all()  # above the pelvis: hands at the table, not at the feet
        assert (wrist[0][:, 1] > wrist[1][:, 1]).all()  # the left wrist on the robot's left (+y)
        assert (wrist[0][:, 1] > 0).all() and (wrist[1][:, 1] < 0).all()


def test_fingertips_lie_ahead_of_the_wrist_within_a_hand_length(episodes: list[CanonicalEpisode]) -> None:
    for ep in episodes:
        for h in (0, 1):
            tips = ep.state[:, hand_dims(h, FINGERTIPS_XYZ)].reshape(-1, 5, 3).astype(np.float64)
            assert (np.linalg.norm(tips, axis=2) < 0.25).all()  # a hand, not an arm
            assert (tips[:, 1:, 2] > 0.05).all()  # index..pinky tips along the approach axis (z)


def test_delta_actions_reproduce_the_next_state_and_every_invariant_passes(episodes: list[CanonicalEpisode]) -> None:
    for ep in episodes:
        assert ep.qa is not None and ep.qa.action_pos_err < 1e-5 and ep.qa.action_rot_err < 1e-2
        assert ep.qa.left_of_right == 1.0 and ep.qa.approach_up == 0.0
    summary = geometry_summary("gr00t", [ep.qa for ep in episodes])
    assert summary is not None and geometry_findings(summary, QAConfig()) == []


def test_the_commanded_wrist_tracks_the_next_state(episodes: list[CanonicalEpisode]) -> None:
    """The action's joint targets, by the same FK, command a wrist near the next recorded one (a check on the slice
    mapping of the action vector, which the canonical delta action does not use)."""
    for ep in episodes:
        [note] = [n for n in ep.notes if "command_tracking" in n]
        median_mm = float(note.split("median ")[1].split(" mm")[0])
        assert median_mm < 10.0, note
