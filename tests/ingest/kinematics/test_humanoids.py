"""Known poses of the humanoid and dexterous-hand descriptions (GR1, G1, H1_2, Tien Kung, Fourier / Inspire / Dex3-1
hands).

Every movable joint, moved alone by +90 degrees, turns exactly its subtree about the axis the maker wrote, expressed
in the base frame through the joint origin (frames from the file's origins alone, `test_known_poses.chain_product`;
mimic joints held at 0 so that only one joint moves). Then the physical reading of a few joints, worked out by hand
from the makers' files: what an elbow or a shoulder roll does to the wrist of a humanoid standing at q = 0.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ingest.frames import offset_matrix
from ingest.kinematics import load_model, robots_dir
from schemas.robots.registry import JOINT_SPACE
from tests.ingest.kinematics.test_known_poses import chain_product

HUMANOIDS = [
    "gr1_arms",
    "gr1_fourier_hand_left",
    "gr1_fourier_hand_right",
    "fourier_hand_6dof_left",
    "fourier_hand_6dof_right",
    "g1_arms",
    "inspire_hand_left",
    "inspire_hand_right",
    "dex3_hand_left",
    "dex3_hand_right",
    "tienkung_pro",
    "h1_2_arms",
]


def _joints(name: str) -> list[tuple[str, str, np.ndarray]]:
    """(joint, child link, axis in the joint frame) for every movable joint, from the file."""
    out = []
    for j in ET.parse(robots_dir() / f"{name}.urdf").getroot().findall("joint"):
        if j.get("type") in ("revolute", "continuous"):
            axis = np.array([float(v) for v in j.find("axis").get("xyz").split()])
            out.append((j.get("name"), j.find("child").get("link"), axis / np.linalg.norm(axis)))
    return out


def _subtree(name: str, link: str) -> set[str]:
    kids: dict[str, list[str]] = {}
    for j in ET.parse(robots_dir() / f"{name}.urdf").getroot().findall("joint"):
        kids.setdefault(j.find("parent").get("link"), []).append(j.find("child").get("link"))
    out, stack = set(), [link]
    while stack:
        out.add(stack[-1])
        stack.extend(kids.get(stack.pop(), []))
    return out


@pytest.mark.parametrize("name", HUMANOIDS)
def test_each_joint_turns_its_subtree_about_the_makers_axis(name: str) -> None:
    m = load_model(name)
    zero = chain_product(name)
    still = {j: np.zeros(1) for j in m.mimic}  # mimics pinned: one joint moves at a time
    for joint, child, axis in _joints(name):
        frame = zero[child]  # the joint frame = the child frame at q = 0
        turn = Rotation.from_rotvec(np.pi / 2 * (frame[:3, :3] @ axis)).as_matrix()
        moved = m.forward(m.assemble({**still, joint: np.array([np.pi / 2])}, 1), m.links)[0]
        inside = _subtree(name, child)
        for k, link in enumerate(m.links):
            if link in inside:
                expected = turn @ (zero[link][:3, 3] - frame[:3, 3]) + frame[:3, 3]
                expected_rot = turn @ zero[link][:3, :3]
            else:
                expected, expected_rot = zero[link][:3, 3], zero[link][:3, :3]
            np.testing.assert_allclose(moved[k, :3, 3], expected, atol=1e-12, err_msg=f"{name}: {joint} -> {link}")
            np.testing.assert_allclose(moved[k, :3, :3], expected_rot, atol=1e-12, err_msg=f"{name}: {joint} -> {link}")


def _wrist_after(name: str, joint: str, angle: float, link: str, base: str) -> tuple[np.ndarray, np.ndarray]:
    m = load_model(name)
    q = m.assemble({joint: np.array([angle])}, 1)
    return (
        m.forward(np.zeros((1, m.dof)), [link], base=base)[0, 0, :3, 3],
        m.forward(q, [link], base=base)[0, 0, :3, 3],
    )


def test_gr1_zero_pose_hangs_the_arms_and_the_elbow_flexes_with_a_negative_angle() -> None:
    """Fourier gr1t1.xml: every arm body below the shoulder roll is axis-aligned with the torso; the forearm hangs
    0.0405043 + 0.20155 m below the elbow. Elbow axis +y: -90 deg swings it forward (+x), level with the elbow."""
    m = load_model("gr1_arms")
    z = np.zeros((1, m.dof))
    elbow, wrist = m.forward(z, ["left_lower_arm_pitch_link", "left_hand_pitch_link"])[0, :, :3, 3]
    np.testing.assert_allclose(wrist - elbow, [0.0, 1.3775e-05, -(0.0405043 + 0.20155)], atol=1e-12)
    before, after = _wrist_after("gr1_arms", "left_elbow_pitch_joint", -np.pi / 2, "left_hand_pitch_link", "base")
    np.testing.assert_allclose(after - elbow, [0.0405043 + 0.20155, 1.3775e-05, 0.0], atol=1e-12)
    assert after[0] > before[0] + 0.2
    # shoulder roll +90 deg (axis +x on the left) lifts the left arm sideways, out to +y
    before, after = _wrist_after("gr1_arms", "left_shoulder_roll_joint", np.pi / 2, "left_hand_pitch_link", "base")
    assert after[1] - before[1] > 0.4 and abs(after[0] - before[0]) < 1e-9
    before, after = _wrist_after("gr1_arms", "right_shoulder_roll_joint", -np.pi / 2, "right_hand_pitch_link", "base")
    assert before[1] - after[1] > 0.4  # the right arm abducts with a negative roll (its range is -3.27 .. 0.57)


def test_g1_zero_pose_bends_the_elbows_and_a_positive_elbow_straightens_them() -> None:
    """unitree_ros g1_29dof_rev_1_0.urdf: at q = 0 the forearm points forward (+x) from the elbow, 0.100 + 0.038 +
    0.046 m to the wrist yaw link; elbow axis +y, so +90 deg points it straight down (range -1.0472 .. 2.0944)."""
    m = load_model("g1_arms")
    z = np.zeros((1, m.dof))
    elbow, wrist = m.forward(z, ["left_elbow_link", "left_wrist_yaw_link"])[0, :, :3, 3]
    np.testing.assert_allclose(wrist - elbow, [0.184, 0.00188791, -0.010], atol=1e-3)  # shoulder rpy leaves ~1e-4
    before, after = _wrist_after("g1_arms", "left_elbow_joint", np.pi / 2, "left_wrist_yaw_link", "pelvis")
    np.testing.assert_allclose(after - elbow, [-0.010, 0.00188791, -0.184], atol=1e-3)
    assert after[2] < before[2] - 0.15
    # waist yaw +90 deg turns the whole upper body to the left: the left wrist goes from front-left to back-left
    before, after = _wrist_after("g1_arms", "waist_yaw_joint", np.pi / 2, "left_wrist_yaw_link", "pelvis")
    np.testing.assert_allclose(after, [-before[1], before[0], before[2]], atol=1e-12)
    # shoulder roll +90 deg (axis +x) lifts the left arm out to +y
    before, after = _wrist_after("g1_arms", "left_shoulder_roll_joint", np.pi / 2, "left_wrist_yaw_link", "pelvis")
    assert after[1] - before[1] > 0.15


def test_h1_2_forearm_points_forward_and_the_hand_base_lies_along_the_wrist_approach() -> None:
    """Ausbxuse/avp_teleop h1_2.urdf: at q = 0 the forearm points forward from the elbow pitch joint (elbow roll 0.121,
    wrist pitch 0.085, wrist yaw 0.020 m along +x); the Inspire hand base sits 0.054 m further along the wrist yaw
    link's +x, which `joint_space.yaml`'s `unitree_h1_2` makes the canonical wrist's z (approach), at any pose."""
    m = load_model("h1_2_arms")
    z = np.zeros((1, m.dof))
    elbow, wrist = m.forward(z, ["left_elbow_pitch_link", "left_wrist_yaw_link"])[0, :, :3, 3]
    np.testing.assert_allclose(wrist - elbow, [0.226, -0.0329, -0.011], atol=1e-9)
    spec = JOINT_SPACE["unitree_h1_2"]
    q = np.random.default_rng(0).uniform(np.maximum(m.lower, -3), np.minimum(m.upper, 3), size=(32, m.dof))
    for arm, base in zip(spec.arms, ("L_hand_base_link", "R_hand_base_link"), strict=True):
        link, hand = m.forward(q, [arm.link, base]).transpose(1, 0, 2, 3)
        wrist_rot = link[:, :3, :3] @ offset_matrix(arm.link_from_wrist)[:3, :3]
        np.testing.assert_allclose(hand[:, :3, 3] - link[:, :3, 3], 0.054 * wrist_rot[:, :, 2], atol=1e-12)


@pytest.mark.parametrize(("side", "s"), [("left", "L"), ("right", "R")])
def test_the_simulated_fourier_hand_is_fouriers_hand_with_the_sign_flipped(side: str, s: str) -> None:
    """Two makers' files for one hand: robosuite's MJCF (converted here, quats -> rpy) and Fourier's URDF. Every
    phalanx frame agrees when the simulator's finger and thumb-yaw angles are the negative of Fourier's (its axes are
    Fourier's negated) and the thumb pitch is the same;
    the URDF's 4-5 digit rpy (1.5184, 3.1403) leave < 1 mm. Fingertips agree at the open hand (the coupling differs
    when closed: robosuite drives the intermediate 1:1, Fourier's mimic x1.13)."""
    sim, real = load_model(f"gr1_fourier_hand_{side}"), load_model(f"fourier_hand_6dof_{side}")
    v = np.linspace(0.0, 1.2, 7)
    flipped = {f"{s}_{f}_proximal_joint": v for f in ("index", "middle", "ring", "pinky")}
    flipped[f"{s}_thumb_proximal_yaw_joint"] = v
    same = {f"{s}_thumb_proximal_pitch_joint": v}  # both files close the thumb pitch positive (same axis, 0..1.22)
    links = [f"{s}_{f}_proximal_link" for f in ("index", "middle", "ring", "pinky")] + [f"{s}_thumb_proximal_link"]
    q_sim = sim.assemble({**{j: np.zeros(7) for j in sim.mimic}, **flipped, **same}, 7)
    q_real = real.assemble({**{j: np.zeros(7) for j in real.mimic}, **{j: -x for j, x in flipped.items()}, **same}, 7)
    a, b = sim.forward(q_sim, links), real.forward(q_real, links)
    np.testing.assert_allclose(a[..., :3, 3], b[..., :3, 3], atol=1e-3)
    np.testing.assert_allclose(a[..., :3, :3], b[..., :3, :3], atol=2e-3)
    tips = [f"{s}_{f}_tip_link" for f in ("thumb", "index", "middle", "ring", "pinky")]
    np.testing.assert_allclose(
        sim.forward(np.zeros((1, sim.dof)), tips)[..., :3, 3],
        real.forward(np.zeros((1, real.dof)), tips)[..., :3, 3],
        atol=1e-3,
    )
