"""Leju KUAVO 4 Pro (`kuavo_4pro_long.urdf` / `kuavo_4pro_short.urdf`, LejuRobotics/kuavo-ros-opensource
biped_s45 / biped_s42): the maker's recorded joint order reaches each arm's own joints, the arms hang from the torso
on their own sides at q = 0, the maker's joint signs move a hanging arm the way a human's would (shoulder pitch and
elbow flexion bring the wrist forward), and the canonical wrist looks from the flange to the maker's end-effector
frame. The pinocchio cross-check, the zero pose against the product of the origins and the reach bound come from the
glob tests (`test_against_pinocchio.py`, `test_known_poses.py`, `test_invariants.py`)."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.base import EpisodeRef, RawEpisode, Stream
from adapters.lerobot.embodiment import joint_options
from ingest.canonical.joint_space import joint_space_signals
from ingest.frames import compose, offset_matrix
from ingest.kinematics import load_model
from schemas.robots.registry import JOINT_SPACE
from schemas.tiers import QualityTier

ROBOTS = ("kuavo_4pro_long", "kuavo_4pro_short")
# LejuRobotics/kuavo_data_challenge kuavo_data/common/kuavo_dataset.py @ fce8528:15-25: the names its LeRobot
# converter gives /sensors_data_raw joint_q (legs 0..11, arms 12..25, head 26..27), radians
LEGS = ["l_leg_roll", "l_leg_yaw", "l_leg_pitch", "l_knee", "l_foot_pitch", "l_foot_roll",
        "r_leg_roll", "r_leg_yaw", "r_leg_pitch", "r_knee", "r_foot_pitch", "r_foot_roll"]  # fmt: skip
ARMS = [f"zarm_{s}{k}_link" for s in "lr" for k in range(1, 8)]
MAKER_STATE_NAMES = LEGS + ARMS + ["head_yaw", "head_pitch"]


def _wrists(name: str, q: np.ndarray) -> np.ndarray:
    """(n, 2, 4, 4) canonical wrists (left, right) by FK of (n, 14) arm values in the maker's order."""
    spec = JOINT_SPACE[name]
    model = load_model(spec.description)
    joints = [j.urdf for arm in spec.arms for j in arm.joints]
    links = model.forward(model.assemble(dict(zip(joints, q.T, strict=True)), len(q)), [a.link for a in spec.arms])
    return np.stack([compose(links[:, k], offset_matrix(a.link_from_wrist)) for k, a in enumerate(spec.arms)], axis=1)


def _raw(name: str, q: np.ndarray) -> RawEpisode:
    n = len(q)
    values = np.zeros((n, len(MAKER_STATE_NAMES)), dtype=np.float32)
    values[:, 12:26] = q  # kuavo_dataset.py @ fce8528:292 (joint_q[12:26] are the arms)
    ref = EpisodeRef(adapter="lerobot", source="t", subset="kuavo", raw_id="0", paths=("x",))
    state = Stream(np.arange(n) / 10.0, values, names=tuple(MAKER_STATE_NAMES))
    return RawEpisode(ref, "kuavo4pro", name, QualityTier.high, 10.0, states={"observation.state": state})


@pytest.mark.parametrize("name", ROBOTS)
def test_the_makers_recorded_order_reaches_each_arms_own_joints(name: str) -> None:
    """The converter's 28 state names: the 14 arm columns resolve, left ones to the left arm only, and the wrists
    equal FK of those columns (legs and head, set apart below, are never read)."""
    q = np.random.default_rng(0).uniform(-0.5, 0.0, size=(20, 14))
    raw = _raw(name, q)
    raw.states["observation.state"].values[:, :12] = 3.0  # legs out of every arm limit: would show if read
    hands = joint_space_signals(raw, JOINT_SPACE[name]).signals.hands
    want = _wrists(name, q)
    for h in (0, 1):
        assert np.abs(hands[h].rotation.values - want[:, h]).max() < 1e-5  # float32 recording


@pytest.mark.parametrize("name", ROBOTS)
def test_at_zero_the_arms_hang_from_the_torso_on_their_own_sides(name: str) -> None:
    w = _wrists(name, np.zeros((1, 14)))[0]
    left, right = w[0, :3, 3], w[1, :3, 3]
    assert left[1] > 0.2 and right[1] < -0.2  # base_link: y left
    np.testing.assert_allclose(left * [1, -1, 1], right, atol=1e-3)  # mirror images (the maker's 0.0002 m aside)
    for p in (left, right):
        assert p[2] < 0.4245 - 0.3  # well below the shoulder joint (z 0.4245): the arm hangs
        assert abs(p[0]) < 0.05  # straight down, neither ahead nor behind


@pytest.mark.parametrize("name", ROBOTS)
@pytest.mark.parametrize(("joint", "angle"), [(1, -np.pi / 4), (4, -np.pi / 4)])
def test_shoulder_pitch_and_elbow_flexion_bring_the_wrist_forward(name: str, joint: int, angle: float) -> None:
    """zarm_l1 (shoulder pitch, about +y, lower limit -pi or -2.6) and zarm_l4 (elbow, about +y, 0 .. -2.6 or
    -1.57): negative values rotate a hanging arm forward (+x) and up, on both arms."""
    zero = _wrists(name, np.zeros((1, 14)))[0]
    q = np.zeros((1, 14))
    q[0, joint - 1] = q[0, 7 + joint - 1] = angle
    moved = _wrists(name, q)[0]
    for k in (0, 1):
        assert moved[k, 0, 3] > zero[k, 0, 3] + 0.05 and moved[k, 2, 3] > zero[k, 2, 3]


@pytest.mark.parametrize("name", ROBOTS)
def test_the_wrist_looks_at_the_makers_end_effector_and_is_a_rotation(name: str) -> None:
    """z from the flange to zarm_<s>7_end_effector (0.17 m down the forearm, 0.03 m aside), y towards its lateral
    offset, on random poses within the limits."""
    spec = JOINT_SPACE[name]
    model = load_model(spec.description)
    lo, hi = model.lower, model.upper
    q = np.random.default_rng(1).uniform(lo, hi, size=(32, model.dof))
    tips = [f"zarm_{s}7_end_effector" for s in "lr"]
    poses = model.forward(q, [*(a.link for a in spec.arms), *tips])
    for k, arm in enumerate(spec.arms):
        wrist = compose(poses[:, k], offset_matrix(arm.link_from_wrist))
        rot = wrist[:, :3, :3]
        np.testing.assert_allclose(rot @ rot.transpose(0, 2, 1), np.broadcast_to(np.eye(3), rot.shape), atol=1e-9)
        np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-9)
        tip_in_wrist = np.einsum("nji,nj->ni", rot, poses[:, 2 + k, :3, 3] - wrist[:, :3, 3])
        np.testing.assert_allclose(tip_in_wrist, np.broadcast_to([0.0, 0.03, 0.17], tip_in_wrist.shape), atol=1e-9)


# the maker's LeRobot converter with only_arm: each arm's 7 joints then its claw, the claw / 100 (0 open .. 1 closed)
# (kuavo_data_challenge CvtRosbag2Lerobot.py @ fce8528:285-286, 533-539)
CLAW_STATE_NAMES = [*ARMS[:7], "left_claw", *ARMS[7:], "right_claw"]


@pytest.mark.parametrize("name", ROBOTS)
def test_the_claw_is_the_canonical_gripper_open_at_0_closed_at_1(name: str) -> None:
    """Leju's claw value rises as it closes (its own demo commands 10 to open, 75 to close): the left claw closing
    over the episode is an opening falling from 1 to 0; the right one held at 0.1 stays 0.9 open."""
    n = 20
    q = np.random.default_rng(1).uniform(-0.5, 0.0, size=(n, 14))
    values = np.zeros((n, 16), dtype=np.float32)
    values[:, :7], values[:, 8:15] = q[:, :7], q[:, 7:]
    values[:, 7] = np.linspace(0.0, 1.0, n)  # left claw closing
    values[:, 15] = 0.1
    ref = EpisodeRef(adapter="lerobot", source="t", subset="kuavo", raw_id="0", paths=("x",))
    state = Stream(np.arange(n) / 10.0, values, names=tuple(CLAW_STATE_NAMES))
    opts = joint_options("kuavo4pro", None)  # the maker's converter: the claw / 100
    assert opts is not None and opts.gripper_unit == "fraction_closed"
    raw = RawEpisode(
        ref, "kuavo4pro", name, QualityTier.high, 10.0, states={"observation.state": state}, joint_space=opts
    )
    hands = joint_space_signals(raw, JOINT_SPACE[name]).signals.hands
    np.testing.assert_allclose(hands[0].gripper.values, np.linspace(1.0, 0.0, n), atol=1e-6)
    np.testing.assert_allclose(hands[1].gripper.values, 0.9, atol=1e-6)
    want = _wrists(name, q)
    assert np.abs(hands[0].rotation.values - want[:, 0]).max() < 1e-5  # the claw columns are not arm joints


def test_a_kuavo_without_a_claw_keeps_its_wrists_and_says_so() -> None:
    """A Kuavo carrying dexterous hands records no claw: its wrists still come, a note says the gripper is absent."""
    q = np.random.default_rng(2).uniform(-0.5, 0.0, size=(10, 14))
    sig = joint_space_signals(_raw("kuavo_4pro_long", q), JOINT_SPACE["kuavo_4pro_long"]).signals
    assert all(sig.hands[h].gripper is None and sig.hands[h].rotation is not None for h in (0, 1))
    assert any(n.startswith("left gripper not recorded") and "left_claw" in n for n in sig.notes)
