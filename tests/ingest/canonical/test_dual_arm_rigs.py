"""Two-arm rigs (`piper_dual` on the maker's two-arm `agilex_cobot_magic`, `fr3_dual` as one single-arm description
placed twice, in `schemas/robots/joint_space.yaml`): every joint and link exists, `left_*` / `right_*` names reach only
their own arm, the left arm sits on the left at a neutral pose, and each arm's wrist comes from that arm's own joints
(fr3_dual's arms share the description's joint names, so one arm's values must never stand in for the other's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.robomind.adapter import RoboMINDAdapter
from adapters.synthetic.robomind import EpisodeSpec, write_robomind
from ingest.canonical.joint_space import joint_space_signals
from ingest.frames import compose, offset_matrix
from ingest.kinematics import load_model
from ingest.kinematics.description import description_path, read_description
from schemas.robots.joint_space import name_key
from schemas.robots.registry import JOINT_SPACE

DUAL = ("piper_dual", "fr3_dual")
# A neutral pose per description: PiPER's zero (inside every limit), Franka's "ready" pose (franka_ros
# franka_control default_controllers / start pose, q4 = -3pi/4, q6 = pi/2, q7 = pi/4).
NEUTRAL = {"agilex_cobot_magic": [0.0] * 6, "fr3": [0.0, -np.pi / 4, 0.0, -3 * np.pi / 4, 0.0, np.pi / 2, np.pi / 4]}


def _wrists(name: str, q_by_side: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """side -> (n,4,4) canonical wrist by FK of that arm's joints alone, placed by its base_from_arm."""
    spec = JOINT_SPACE[name]
    model = load_model(spec.description)
    out = {}
    for arm in spec.arms:
        q = q_by_side[arm.side]
        named = {j.urdf: q[:, i] for i, j in enumerate(arm.joints)}
        link = model.forward(model.assemble(named, len(q)), [arm.link], base=spec.base_link)[:, 0]
        placed = compose(offset_matrix(arm.base_from_arm), compose(link, offset_matrix(arm.link_from_wrist)))
        out[arm.side] = compose(offset_matrix(spec.canonical_from_base), placed)
    return out


def _arm_base(name: str, side: int) -> np.ndarray:
    """Canonical position of an arm's base: the link its first joint hangs from, placed as the spec places it."""
    spec = JOINT_SPACE[name]
    arm = spec.arms[side]
    parent = {j.name: j.parent for j in read_description(description_path(spec.description)).joints}
    model = load_model(spec.description)
    link = model.forward(np.zeros((1, model.dof)), [parent[arm.joints[0].urdf]], base=spec.base_link)[0, 0]
    placed = compose(offset_matrix(arm.base_from_arm), link)
    return compose(offset_matrix(spec.canonical_from_base), placed)[:3, 3]


@pytest.mark.parametrize("name", DUAL)
def test_both_arms_name_joints_and_links_of_the_description(name: str) -> None:
    spec = JOINT_SPACE[name]
    model = load_model(spec.description)
    assert [a.side for a in spec.arms] == ["left", "right"]
    for arm in spec.arms:
        assert {j.urdf for j in arm.joints} <= set(model.joint_names) and arm.link in model.links
        assert arm.gripper is None or arm.gripper.joint.urdf in model.joint_names
        other = "right" if arm.side == "left" else "left"
        for i, j in enumerate(arm.joints, start=1):  # RoboMIND's column names (all_robot_h5_info*.md)
            assert name_key(f"{arm.side}_joint{i}") in j.keys(arm.prefixes)
            assert name_key(f"{other}_joint{i}") not in j.keys(arm.prefixes)
            assert name_key(f"joint{i}") not in j.keys(arm.prefixes)  # an unsided name picks no arm


@pytest.mark.parametrize("name", DUAL)
def test_the_left_arm_is_on_the_left_at_a_neutral_pose(name: str) -> None:
    q = np.array([NEUTRAL[JOINT_SPACE[name].description]])
    w = _wrists(name, {"left": q, "right": q})
    left, right = w["left"][0, :3, 3], w["right"][0, :3, 3]
    assert left[1] > right[1] + 0.3, (left, right)
    for side, p in (("left", left), ("right", right)):
        base = _arm_base(name, 0 if side == "left" else 1)
        assert p[0] > 0.05 and abs(p[1] - base[1]) < 0.05, (name, side, p)  # ahead of its own base, not to a side


@pytest.mark.parametrize(("robot", "name"), [("agilex_3rgb", "piper_dual"), ("franka_fr3_dual", "fr3_dual")])
def test_each_wrist_comes_from_its_own_arms_joints(tmp_path: Path, robot: str, name: str) -> None:
    """Left and right arms recorded in different poses: the FK wrists equal each arm's own FK to 1e-9 m."""
    write_robomind(tmp_path, [EpisodeSpec(robot, "task", "1014_140000", 30)])
    [ref] = RoboMINDAdapter().discover(tmp_path)
    raw = RoboMINDAdapter().read(ref)
    dof = len(JOINT_SPACE[name].arms[0].joints)
    q = {}
    for side, shift in (("left", 0.5), ("right", -0.3)):  # joint1 apart by 0.8 rad: the two arms point differently
        for stream in raw.states.values():
            names = stream.names or ()
            if f"{side}_joint1" in names:
                k = names.index(f"{side}_joint1")
                stream.values[:, k] += shift
                q[side] = stream.values[:, k : k + dof].astype(np.float64)
    signals = joint_space_signals(raw, JOINT_SPACE[name]).signals
    want = _wrists(name, q)
    for h, side in ((0, "left"), (1, "right")):
        got = signals.hands[h].rotation.values
        assert np.abs(got - want[side]).max() < 1e-9, (name, side)


def test_cobot_magic_canonical_origin_is_midway_between_the_arm_bases() -> None:
    """piper_dual reads FK from the maker's body_Link (joint2pose.py) and moves the origin to the arm bases' midpoint,
    at their height: (0, +-0.3, 0), as ALOHA's."""
    np.testing.assert_allclose([_arm_base("piper_dual", 0), _arm_base("piper_dual", 1)], [[0, 0.3, 0], [0, -0.3, 0]],
                               atol=1e-12)  # fmt: skip


def test_cobot_magic_reads_the_frames_robominds_own_fk_reads() -> None:
    """Open-X-Humanoid/RoboMIND-dataset-utils eepose/joint2pose.py @ ff94d938, _MODEL_FRAME_CONFIG["agilex"]:
    aloha_new.urdf, base body_Link, tcp fl_link6 / fr_link6, left fl_joint1..6, right fr_joint1..6 in that order."""
    spec = JOINT_SPACE["piper_dual"]
    assert (spec.description, spec.base_link) == ("agilex_cobot_magic", "body_Link")
    model = load_model(spec.description)
    assert "aloha_new_description/urdf/aloha_new.urdf" in model.source
    for arm, p in zip(spec.arms, ("fl", "fr"), strict=True):
        assert arm.link == f"{p}_link6"
        assert [j.urdf for j in arm.joints] == [f"{p}_joint{i}" for i in range(1, 7)]
        assert arm.base_from_arm.translation == (0.0, 0.0, 0.0) and arm.base_from_arm.rotation_xyzw[3] == 1.0
