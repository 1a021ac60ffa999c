"""The canonical wrist frames of `schemas.robots`, re-derived from the descriptions themselves: z points from
the flange to the tool (the maker's TCP, the fingers), y along the jaw's travel or out of the palm (where the fingers
flex), and joint-space FK lands on the same wrist as the EEF path for robots that have both (WidowX, Franka)."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.frames import apply_eef_offset, compose, offset_matrix
from ingest.kinematics import load_model
from schemas.robots.eef_offsets import EEF_OFFSETS
from schemas.robots.hands import FINGERS
from schemas.robots.registry import JOINT_SPACE


def _random_q(description: str, n: int = 64, seed: int = 0) -> np.ndarray:
    model = load_model(description)
    lo = np.where(np.isfinite(model.lower), model.lower, -np.pi)
    hi = np.where(np.isfinite(model.upper), model.upper, np.pi)
    return np.random.default_rng(seed).uniform(lo, hi, size=(n, model.dof))


def _wrist_in_link(name: str, side: int = 0) -> np.ndarray:
    return offset_matrix(JOINT_SPACE[name].arms[side].link_from_wrist)[:3, :3]


TOOLS = [("so101", "gripperframe"), ("piper", "link7"), ("franka", "panda_hand_tcp")]


@pytest.mark.parametrize(("name", "tool"), TOOLS)
def test_z_points_from_the_flange_to_the_tool(name: str, tool: str) -> None:
    spec = JOINT_SPACE[name]
    model = load_model(spec.description)
    poses = model.forward(np.zeros((1, model.dof)), [spec.arms[0].link, tool])[0]
    to_tool = (np.linalg.inv(poses[0]) @ poses[1])[:3, 3]
    assert _wrist_in_link(name)[:, 2] @ (to_tool / np.linalg.norm(to_tool)) > 0.99


def test_so101_y_is_the_moving_jaw_travel() -> None:
    """The moving jaw pivots about the flange's -y axis: its tip travels along the flange's x, which is the wrist y."""
    assert abs(_wrist_in_link("so101")[:, 1] @ np.array([1.0, 0.0, 0.0])) > 0.999


@pytest.mark.parametrize("name", ["gr1", "unitree_g1_dex3", "unitree_g1_inspire", "unitree_h1_2"])
def test_hand_wrists_look_along_the_middle_finger_with_y_out_of_the_palm(name: str) -> None:
    spec = JOINT_SPACE[name]
    arm_model = load_model(spec.description)
    for k, arm in enumerate(spec.arms):
        assert arm.hand is not None
        hand = arm.hand.spec()
        model = load_model(hand.description)
        tips = [hand.fingertips[f] for f in FINGERS if hand.fingertips[f] is not None]
        q_open = model.assemble({j: np.array([hand.ranges[j].open]) for j in hand.native_order}, 1)
        q_closed = model.assemble({j: np.array([hand.ranges[j].closed]) for j in hand.native_order}, 1)
        p_open, p_closed = (model.forward(q, tips, base=hand.base_link)[0, :, :3, 3] for q in (q_open, q_closed))
        mount_link = hand.mount_on(spec.description).mount_link
        mount = arm_model.forward(np.zeros((1, arm_model.dof)), [arm.link, mount_link])[0]
        link_from_base = np.linalg.inv(mount[0]) @ mount[1]
        in_link = p_open @ link_from_base[:3, :3].T + link_from_base[:3, 3]
        middle = in_link[tips.index(hand.fingertips["middle"])]
        approach = middle / np.linalg.norm(middle)
        flex = ((p_closed - p_open) @ link_from_base[:3, :3].T)[1:].mean(axis=0)  # index.. fingers closing
        palmar = flex - (flex @ approach) * approach
        wrist = _wrist_in_link(name, k)
        assert wrist[:, 2] @ approach > 0.98, (name, arm.side)
        assert wrist[:, 1] @ (palmar / np.linalg.norm(palmar)) > 0.85, (name, arm.side)


def test_widowx_fk_wrist_is_the_bridge_eef_wrist() -> None:
    """Joint-space WidowX and Bridge's recorded ee_gripper_link pose (moved by the EEF offset) are one frame."""
    spec = JOINT_SPACE["widowx"]
    model = load_model(spec.description)
    q = _random_q(spec.description)
    poses = model.forward(q, [spec.arms[0].link, "wx250s/ee_gripper_link"])
    fk_wrist = compose(poses[:, 0], offset_matrix(spec.arms[0].link_from_wrist))
    eef_wrist = apply_eef_offset(poses[:, 1], EEF_OFFSETS["widowx"][0])
    assert np.abs(fk_wrist - eef_wrist).max() < 1e-9


@pytest.mark.parametrize(("name", "tcp"), [("franka", "panda_hand_tcp"), ("fr3", "fr3_hand_tcp")])
def test_franka_fk_wrist_is_the_tcp_moved_back(name: str, tcp: str) -> None:
    spec = JOINT_SPACE[name]
    model = load_model(spec.description)
    poses = model.forward(_random_q(spec.description), [spec.arms[0].link, tcp])
    fk_wrist = compose(poses[:, 0], offset_matrix(spec.arms[0].link_from_wrist))
    assert np.abs(fk_wrist - apply_eef_offset(poses[:, 1], EEF_OFFSETS["franka"][0])).max() < 1e-9


@pytest.mark.parametrize("name", ["so101", "so100", "koch", "ur5e", "piper", "franka", "widowx"])
def test_the_canonical_base_looks_where_the_arm_reaches(name: str) -> None:
    """At the mid-range pose (the calibration pose of the LeRobot arms) the wrist is ahead (+x), not to a side."""
    spec = JOINT_SPACE[name]
    model = load_model(spec.description)
    lo = np.where(np.isfinite(model.lower), model.lower, 0.0)
    hi = np.where(np.isfinite(model.upper), model.upper, 0.0)
    mid = ((lo + hi) / 2)[None] if name in ("so101", "so100", "koch") else np.zeros((1, model.dof))
    link = model.forward(mid, [spec.arms[0].link], base=spec.base_link)[0, 0]
    p = compose(offset_matrix(spec.canonical_from_base), link)[:3, 3]
    assert p[0] > abs(p[1]), (name, p)
