"""Known poses. At the zero configuration every link sits where the product of the file's joint origins puts it,
computed here independently of ingest/kinematics (ElementTree + scipy's extrinsic-xyz Euler angles, which is URDF's
rpy). A joint moved by +90 degrees turns its subtree about the axis the maker wrote, by the right-hand rule: the
expectations below are worked out by hand from each maker's file (axis direction in the base frame at zero, a point
on it, and for the simple chains the resulting position itself)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ingest.kinematics import load_model, robots_dir

DESCRIPTIONS = sorted(p.stem for p in robots_dir().glob("*.urdf"))


def chain_product(name: str) -> dict[str, np.ndarray]:
    """T_root_link at q = 0 for every link, from the file's origins alone."""
    robot = ET.parse(robots_dir() / f"{name}.urdf").getroot()
    local = {}
    for j in robot.findall("joint"):
        origin = j.find("origin")
        xyz = [float(v) for v in (origin.get("xyz", "0 0 0") if origin is not None else "0 0 0").split()]
        rpy = [float(v) for v in (origin.get("rpy", "0 0 0") if origin is not None else "0 0 0").split()]
        t = np.eye(4)
        t[:3, :3] = Rotation.from_euler("xyz", rpy).as_matrix()  # lower-case: extrinsic x, then y, then z
        t[:3, 3] = xyz
        local[j.find("child").get("link")] = (j.find("parent").get("link"), t)
    poses: dict[str, np.ndarray] = {}

    def pose(link: str) -> np.ndarray:
        if link not in poses:
            poses[link] = np.eye(4) if link not in local else pose(local[link][0]) @ local[link][1]
        return poses[link]

    for link in robot.findall("link"):
        pose(link.get("name"))
    return poses


@pytest.mark.parametrize("name", DESCRIPTIONS)
def test_zero_configuration_is_the_product_of_the_origins(name: str) -> None:
    m = load_model(name)
    expected = chain_product(name)
    ours = m.forward(np.zeros((1, m.dof)), m.links)[0]
    assert set(expected) == set(m.links)
    for k, link in enumerate(m.links):
        np.testing.assert_allclose(ours[k], expected[link], atol=1e-12, err_msg=f"{name}: {link}")


# (description, joint, link, axis direction in the base frame at q = 0, a point on the axis, position after +90 deg
# or None where only the rotation about the stated axis is checked)
QUARTER_TURNS = [
    # franka_ros panda_arm.xacro: joint1 axis z at 0.333 m up; the flange (0.088, 0, 0.926) swings from +x to +y
    ("panda", "panda_joint1", "panda_link8", (0, 0, 1), (0, 0, 0.333), (0.0, 0.088, 0.926)),
    # joint2 (link1 rolled -90 deg about x): its axis is the base's +y... rolled: Rx(-90) z -> +y, so +90 tips the
    # flange forward and down: about +y through (0, 0, 0.333), (0.088, 0, 0.593) -> (0.593, 0, 0.245)
    ("panda", "panda_joint2", "panda_link8", (0, 1, 0), (0, 0, 0.333), (0.593, 0.0, 0.245)),
    ("fr3", "fr3_joint1", "fr3_link8", (0, 0, 1), (0, 0, 0.333), (0.0, 0.088, 0.926)),
    # ur_macro.xacro: base_link_inertia is base_link turned pi about z, the pan axis stays +z; tool0 at
    # (0.425 + 0.3922, 0.1333 + 0.0996, 0.1625 - 0.0997) turns to (-0.2329, 0.8172, 0.0628)
    ("ur5e", "shoulder_pan_joint", "tool0", (0, 0, 1), (0, 0, 0), (-0.2329, 0.8172, 0.0628)),
    # Interbotix: waist +z; ee_gripper at x = 0.05955 + 0.2 + 0.1 + 0.069744 + 0.042825 + 0.025875 + 0.0385,
    # z = 0.079 + 0.04805 + 0.3
    ("vx300s", "waist", "vx300s/ee_gripper_link", (0, 0, 1), (0, 0, 0), (0.0, 0.536494, 0.42705)),
    # shoulder axis +y at z = 0.12705: +90 deg turns (0.536494, _, 0.3 above the axis) to (0.3, _, 0.536494 below)
    ("vx300s", "shoulder", "vx300s/ee_gripper_link", (0, 1, 0), (0, 0, 0.12705), (0.3, 0.0, -0.409444)),
    ("wx250s", "waist", "wx250s/ee_gripper_link", (0, 0, 1), (0, 0, 0), (0.0, 0.458325, 0.36065)),
    # the 5-DoF WidowX 200: ee_gripper at x = 0.05 + 0.2 + 0.065 + 0.043 + 0.023 + 0.027575, z = 0.072 + 0.03865 + 0.2;
    # the shoulder (+y at z = 0.11065) turns (0.408575 ahead, 0.2 above the axis) to (0.2 ahead, 0.408575 below)
    ("wx200", "waist", "wx200/ee_gripper_link", (0, 0, 1), (0, 0, 0), (0.0, 0.408575, 0.31065)),
    ("wx200", "shoulder", "wx200/ee_gripper_link", (0, 1, 0), (0, 0, 0.11065), (0.2, 0.0, -0.297925)),
    # WidowX 250 (5 DoF): x = 0.04975 + 0.25 + 0.065 + 0.093575, z = 0.11065 + 0.25
    ("wx250", "shoulder", "wx250/ee_gripper_link", (0, 1, 0), (0, 0, 0.11065), (0.25, 0.0, -0.347675)),
    # Koch MJCF: joint1 axis z at (0, 0.07); the wrist (joint6 body) at (0, 0.2145, 0.1665) turns to -x
    ("koch", "joint1", "joint6", (0, 0, 1), (0, 0.07, 0), (-0.1445, 0.07, 0.1665)),
    # SO-101: shoulder_pan's origin rolls by ~pi (rpy -3.14159 ...), so its z axis points down the base's -z
    ("so101", "shoulder_pan", "gripperframe", (0, 0, -1), (0.0207909, -0.0230745, 0), None),
    # SO-100: shoulder_pan's origin rolls +pi/2 about x, so its y axis is the base's +z
    ("so100", "shoulder_pan", "gripper", (0, 0, 1), (0, -0.0452, 0.0165), None),
    # PiPER: joint1 is only yawed, its axis is the base's +z
    ("piper", "joint1", "link6", (0, 0, 1), (0, 0, 0.123), None),
    # Realman: upright at zero, the flange 0.61 m above the shoulder (0.256 + 0.21 + 0.144); rm_65.urdf turns joint2
    # about the base's -y, rm_75.urdf about +y: a quarter turn lays the arm along -x / +x (to 1e-5: 1.5708 in the files)
    ("realman_rm65", "joint2", "Link6", (0, -1, 0), (0, 0, 0.2405), None),
    ("realman_rm75", "joint2", "Link7", (0, 1, 0), (0, 0, 0.2405), None),
    # ARX R5a / X5A: joint1 turns about the base's +z (origin z 0.0565 / 0.0605); the folded arm's flange sits ahead
    ("arx_r5a", "joint1", "link6", (0, 0, 1), (0, 0, 0.0565), None),
    ("arx_x5a", "joint1", "link6", (0, 0, 1), (0, 0, 0.0605), None),
    # xArm 7: joint1 turns about the base's +z (the flange, 0.206 m ahead at zero, to +y; 1.5708 in the file)
    ("xarm7", "joint1", "link7", (0, 0, 1), (0, 0, 0.267), None),
    # Lite 6: joint1 turns about the base's +z at 0.2435 m; the flange, 0.087 m ahead at zero, turns to +y
    ("lite6", "joint1", "link6", (0, 0, 1), (0, 0, 0.2435), None),
    # xArm 6: joint1 turns about the base's +z at 0.267 m; the flange, 0.207 m ahead at zero, to +y (1.5708 in the file)
    ("xarm6", "joint1", "link6", (0, 0, 1), (0, 0, 0.267), None),
    # UR3e: the shoulder pans about +z (base_link_inertia is turned pi about z, the axis stays up); tool0 at zero
    # lies at (0.24355 + 0.2132, 0.13105 + 0.0921, 0.15185 - 0.08535) and turns to (-0.22315, 0.45675, 0.0665)
    ("ur3e", "shoulder_pan_joint", "tool0", (0, 0, 1), (0, 0, 0.15185), (-0.22315, 0.45675, 0.0665)),
    # FANUC LR Mate 200iD: joint_1 turns about the base's +z; the faceplate (0.465, 0, 0.695) at zero turns to +y
    ("fanuc_lrmate200id", "joint_1", "flange", (0, 0, 1), (0, 0, 0.33), (0.0, 0.465, 0.695)),
    # DENSO COBOTTA: joint_2 turns about +y at 0.18 m; the upright arm's flange (-0.012, -0.0445, 0.5645) tips forward
    ("cobotta", "joint_2", "J6", (0, 1, 0), (0, 0, 0.18), (0.3845, -0.0445, 0.192)),
]


@pytest.mark.parametrize(("name", "joint", "link", "axis", "point", "after"), QUARTER_TURNS)
def test_a_quarter_turn_follows_the_makers_axis(name, joint, link, axis, point, after) -> None:
    m = load_model(name)
    before = m.forward(np.zeros((1, m.dof)), [link])[0, 0, :3, 3]
    q = m.assemble({joint: np.array([np.pi / 2])}, 1)
    moved = m.forward(q, [link])[0, 0, :3, 3]
    turn = Rotation.from_rotvec(np.pi / 2 * np.asarray(axis, dtype=float)).as_matrix()
    expected = turn @ (before - np.asarray(point)) + np.asarray(point)
    # 5-digit angles in the SO-ARM and PiPER files (1.5708, 3.14159) put their axes ~1e-5 rad off the ideal
    np.testing.assert_allclose(moved, expected, atol=1e-5)
    assert np.linalg.norm(moved - before) > 0.05, "the quarter turn must move the link"
    if after is not None:
        np.testing.assert_allclose(moved, after, atol=1e-9)


def test_every_arm_has_a_quarter_turn_check() -> None:
    arms = {"panda", "fr3", "ur5e", "vx300s", "wx250s", "wx200", "wx250", "koch", "so101", "so100", "piper"}
    arms |= {"realman_rm65", "realman_rm75", "arx_r5a", "arx_x5a", "xarm7", "fanuc_lrmate200id", "cobotta"}
    arms |= {"lite6", "ur3e", "xarm6"}
    assert arms <= set(DESCRIPTIONS)
    assert arms == {case[0] for case in QUARTER_TURNS}


def test_panda_fingers_open_along_the_hand_y_axis_with_the_mimic() -> None:
    """hand.xacro: finger_joint1 slides the left finger +y of panda_hand, finger_joint2 (mimic) the right one -y."""
    m = load_model("panda")
    q = m.assemble({"panda_finger_joint1": np.array([0.04])}, 1)
    fingers = m.forward(q, ["panda_leftfinger", "panda_rightfinger"], base="panda_hand")[0, :, :3, 3]
    np.testing.assert_allclose(fingers, [[0.0, 0.04, 0.0584], [0.0, -0.04, 0.0584]], atol=1e-12)
