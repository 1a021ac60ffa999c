"""The arms' data (schemas/robots/joint_space.yaml, the humanoids aside) against the robot descriptions it names
(`schemas/robots/descriptions/`, read here with ElementTree alone): each arm's joints are its description's chain from
the base to the flange link, the home pose lies within every joint's limits, the gripper's ends lie within the gripper
joint's range, and the canonical wrist's z axis points at the maker's tool point."""

from __future__ import annotations

import math

import numpy as np
import pytest

from schemas.robots.joint_space import ArmMap, load_joint_space
from tests.schemas.robots.test_humanoids import HUMANOIDS
from tests.schemas.robots.urdf import chain, fixed_transform, joints

SPECS = {name: spec for name, spec in load_joint_space().robots.items() if name not in HUMANOIDS}
ARMS = [(name, arm) for name, spec in SPECS.items() for arm in spec.arms]
IDS = [f"{name}-{arm.side}" for name, arm in ARMS]

# Franka's documented start pose (frankaemika/franka_ros franka_example_controllers/src/
# cartesian_pose_example_controller.cpp @ bba6ff59: q_start {0, -pi/4, 0, -3 pi/4, 0, pi/2, pi/4}): joint 4 of a
# Franka never reaches 0, so the all-zero pose is no home for it. The other makers' zero is their home pose.
FRANKA_START = (0.0, -math.pi / 4, 0.0, -3 * math.pi / 4, 0.0, math.pi / 2, math.pi / 4)
# Galaxea R1 Lite: the maker's limits stop joints 2 and 3 one degree short of zero (urdf_r1lite_2025.urdf: 0.0174532925
# .. 3.1241467075 and -3.2986467075 .. -0.0174532925), so its folded zero is a hard stop: home is that stop.
R1LITE_FOLDED = (0.0, 0.0174532925, -0.0174532925, 0.0, 0.0, 0.0)
# DENSO's J3 limits (0.314 .. 2.443 rad) exclude 0: the forearm level, where tokyo_u_lsmo's recorder counts J3 from
COBOTTA_LEVEL = (0.0, 0.0, 1.5707963267948966, 0.0, 0.0, 0.0)


@pytest.mark.parametrize(("name", "arm"), ARMS, ids=IDS)
def test_the_joints_are_the_descriptions_chain_from_base_to_flange(name: str, arm: ArmMap) -> None:
    spec = SPECS[name]
    path = chain(spec.description, arm.link)
    start = next((i + 1 for i, j in enumerate(path) if j.child == spec.base_link), 0)  # below a base above the root
    movable = [j.name for j in path[start:] if j.type != "fixed"]
    assert movable == [j.urdf for j in arm.joints], name  # every movable joint above the flange, base first
    if spec.base_link is not None:
        assert spec.base_link == path[0].parent or spec.base_link in {j.child for j in path}


@pytest.mark.parametrize(("name", "arm"), ARMS, ids=IDS)
def test_the_home_pose_lies_within_every_joint_limit(name: str, arm: ArmMap) -> None:
    by_name = joints(SPECS[name].description)
    home = {"galaxea_r1lite": R1LITE_FOLDED, "cobotta": COBOTTA_LEVEL}.get(name)
    home = FRANKA_START if arm.link.endswith("_hand") else home
    home = home or (0.0,) * len(arm.joints)
    for j, q in zip(arm.joints, home, strict=True):
        lim = by_name[j.urdf]
        if lim.type == "continuous":
            continue
        assert lim.lower <= q <= lim.upper, (j.urdf, q, lim.lower, lim.upper)


def test_so101_zero_is_the_middle_of_each_range() -> None:
    """The new-calibration SO-101 model: lerobot calibrates each joint's zero to the middle of its range."""
    by_name = joints("so101")
    for j in SPECS["so101"].arms[0].joints:
        assert by_name[j.urdf].lower == pytest.approx(-by_name[j.urdf].upper), j.urdf


def _jointed(name: str, arm: ArmMap) -> bool:
    """A gripper that is a joint of the description (not only a dataset column: Leju's claw)."""
    return arm.gripper is not None and arm.gripper.joint.urdf in joints(SPECS[name].description)


def test_a_gripper_outside_the_description_is_a_column_in_a_percent_or_a_fraction() -> None:
    for name, arm in ARMS:
        if arm.gripper is not None and not _jointed(name, arm):
            assert arm.gripper.unit != "joint", (name, arm.side)


@pytest.mark.parametrize(
    ("name", "arm"),
    [(n, a) for n, a in ARMS if _jointed(n, a)],
    ids=[i for i, (n, a) in zip(IDS, ARMS, strict=True) if _jointed(n, a)],
)
def test_the_gripper_ends_lie_within_the_gripper_joint_range(name: str, arm: ArmMap) -> None:
    g = arm.gripper
    assert g is not None
    lim = joints(SPECS[name].description)[g.joint.urdf]
    if lim.type == "continuous":  # ALOHA: the servo horn; the ends are the finger's travel, which ACT normalises
        lim = joints(SPECS[name].description)["left_finger"]
    for q in (g.closed_q, g.open_q):
        assert lim.lower - 1e-9 <= q <= lim.upper + 1e-9, (g.joint.urdf, q, lim.lower, lim.upper)


# Tool points the makers define, each reached from the flange link through fixed joints only, and how far off the
# flange's axis the maker puts it: 0 for all but the SO-101, whose `gripperframe` sits between the jaws, 7.9 mm beside
# the wrist-roll axis that carries the fixed jaw (so101_new_calib.urdf gripperframe_frame).
TOOL = {
    "panda": ("panda_hand", "panda_hand_tcp", 0.0),
    "fr3": ("fr3_hand", "fr3_hand_tcp", 0.0),
    "wx250s": ("wx250s/gripper_link", "wx250s/ee_gripper_link", 0.0),
    "wx200": ("wx200/gripper_link", "wx200/ee_gripper_link", 0.0),
    "wx250": ("wx250/gripper_link", "wx250/ee_gripper_link", 0.0),
    "vx300s": ("vx300s/gripper_link", "vx300s/ee_gripper_link", 0.0),
    "so101": ("gripper", "gripperframe", 0.008),
}
WITH_TOOL = [(i, n, a) for i, (n, a) in zip(IDS, ARMS, strict=True) if SPECS[n].description in TOOL]


@pytest.mark.parametrize(("name", "arm"), [(n, a) for _, n, a in WITH_TOOL], ids=[i for i, _, _ in WITH_TOOL])
def test_the_wrist_z_axis_points_at_the_makers_tool_point(name: str, arm: ArmMap) -> None:
    description = SPECS[name].description
    link, tcp, beside = TOOL[description]
    assert arm.link == link
    wrist_from_tcp = np.linalg.inv(arm.link_from_wrist.matrix()) @ fixed_transform(description, link, tcp)
    x, y, z = wrist_from_tcp[:3, 3]
    assert math.hypot(x, y) <= beside + 1e-12 and z > 0.05, (name, x, y, z)  # ahead, along z


def test_two_arm_rigs_keep_the_left_arm_on_the_left() -> None:
    for spec in (SPECS["aloha"], SPECS["fr3_dual"]):
        y = {a.side: a.base_from_arm.translation[1] for a in spec.arms}
        assert y["left"] > 0 > y["right"] and y["left"] == -y["right"]


def test_cobot_magic_canonical_origin_is_midway_between_the_makers_arm_bases() -> None:
    """aloha_new.urdf (via agilex_cobot_magic.urdf) places fl/fr_base_link on body_Link; the canonical origin is the
    midpoint, with the front-left arm on +y."""
    by_name = joints("agilex_cobot_magic")
    fl, fr = by_name["fl_base_joint"].origin[:3, 3], by_name["fr_base_joint"].origin[:3, 3]
    canon = SPECS["piper_dual"].canonical_from_base.matrix()
    np.testing.assert_allclose((canon @ np.r_[(fl + fr) / 2, 1])[:3], 0.0, atol=1e-12)
    assert (canon @ np.r_[fl, 1])[1] > 0 > (canon @ np.r_[fr, 1])[1]
