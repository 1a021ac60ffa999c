"""The joint-space half of the embodiment registry: per robot, its description, native joint names and wrist frame.

Data only (`schemas.robots.joint_space` defines the fields). Each canonical wrist frame was derived from the description
itself and is re-derived by tests/ingest/canonical/test_joint_space_frames.py: origin at the flange (the last arm
joint's axis, where the tool mounts), z = approach (flange -> TCP or the fingers), y = the axis a parallel gripper
closes along (its moving jaw's motion, towards the fixed jaw) or a robot hand's palm normal (the direction its fingers
flex), as `schemas.robots.eef_offsets` defines the wrist for recorded EEF poses. Base frames are turned so that x points
where the arm reaches at its zero (mid-range) pose, z up, y left.

Native names, as the makers' recording code writes them (each cited where it is used):
- lerobot >= 0.2 motor features `<motor>.pos` (`SO101Follower._motors_ft`, src/lerobot/robots/so101_follower/
  so101_follower.py: shoulder_pan, shoulder_lift, elbow_flex, wrist_flex, wrist_roll, gripper), lerobot < 0.2
  `<arm>_<motor>` (arm `main` for SO-100/Koch, `left`/`right` for ALOHA);
- Unitree (unitreerobotics/unitree_lerobot unitree_lerobot/utils/constants.py @ 529a0702: G1_DEX3_CONFIG,
  G1_INSPIRE_CONFIG motors `kLeftShoulderPitch` .. `kRightWristYaw` then the hands);
- GR00T (`meta/modality.json` slices `left_arm`, `left_hand`, ...; the columns are `motor_<i>`).
"""

from __future__ import annotations

import math

from schemas.robots.joint_space import ArmMap, GripperMap, JointMap, JointSpaceSpec
from schemas.transform import RigidTransform

_H = math.sqrt(0.5)


def _rot(x: float, y: float, z: float, w: float) -> RigidTransform:
    return RigidTransform(rotation_xyzw=(x, y, z, w))


def _joints(*names: str) -> tuple[JointMap, ...]:
    return tuple(JointMap(urdf=n) for n in names)


# -- LeRobot arms (Feetech / Dynamixel servos) ---------------------------------------------------------------------
_LEROBOT_ARM = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll")
# lerobot's motor tables give these motors the bus ids 1..5 in this order and the gripper 6: SO101Follower.__init__
# (huggingface/lerobot src/lerobot/robots/so101_follower/so101_follower.py @ 0c83b9ab, `Motor(1, "sts3215", ...)` ..
# `"gripper": Motor(6, ...)`), the same table for SO-100, and KochFollower.__init__ (koch_follower/koch_follower.py
# @ 0876629e, `Motor(1, "xl430-w250", ...)` .. `"gripper": Motor(6, "xl330-m288", ...)`). A real two-arm SO-101 set
# names its columns by them (`arm1_j1` .. `arm2_j6`, WangzyNicole/Bimanual-Cloth-Manipulation @ 4c2af68, whose own
# calibration files arm1.json / arm2.json give shoulder_pan id 1 .. gripper id 6).
_LEROBOT_MOTOR_ID = {m: i for i, m in enumerate((*_LEROBOT_ARM, "gripper"), start=1)}


def _lerobot_joints() -> tuple[JointMap, ...]:
    return tuple(JointMap(urdf=m, motor_id=_LEROBOT_MOTOR_ID[m]) for m in _LEROBOT_ARM)


_LEROBOT_GRIPPER_JOINT = JointMap(urdf="gripper", motor_id=_LEROBOT_MOTOR_ID["gripper"])
# lerobot's RANGE_0_100 gripper (MotorNormMode, motors_bus.py): 0 at range_min; larger is more open as lerobot's own
# end-effector control commands it (so101_follower_end_effector.py: target = current + (action - 1) * max_gripper_pos,
# action 2 = open, clipped to [5, max_gripper_pos]).
_LEROBOT_GRIPPER_SOURCE = (
    "lerobot MotorNormMode.RANGE_0_100 (0 = range_min) and so101_follower_end_effector.py (higher = more open); "
    "as a joint: the description's gripper joint, 0 rad closed"
)

SO101 = JointSpaceSpec(
    description="so101",
    base_link="base",
    canonical_from_base=_rot(0.0, 0.0, _H, _H),  # the arm reaches along the base's -y at zero: Rz(+90 deg)
    units="range_m100_100",  # so101_follower's default (use_degrees=False)
    arms=(
        ArmMap(
            side="right",
            joints=_lerobot_joints(),
            link="gripper",  # wrist_roll's child: the flange, carrying the fixed jaw
            # z = -z_gripper (towards the maker's gripperframe TCP, 0.098 m along -z), y = -x_gripper (the moving jaw,
            # pivoting about -y at x = +0.02, closes towards -x)
            link_from_wrist=_rot(_H, -_H, 0.0, 0.0),
            gripper=GripperMap(
                joint=_LEROBOT_GRIPPER_JOINT,
                unit="percent",
                closed_q=0.0,
                open_q=1.74533,
                source=_LEROBOT_GRIPPER_SOURCE,
            ),
        ),
    ),
    source="TheRobotStudio/SO-ARM100 so101_new_calib.urdf (zero = the middle of each joint's range, as lerobot's "
    "calibration); lerobot so101_follower.py motor names; config_so101_follower.py use_degrees=False",
)

SO100 = JointSpaceSpec(
    description="so100",
    base_link="base",
    canonical_from_base=_rot(0.0, 0.0, _H, _H),
    units="deg",  # lerobot < 0.2 (robot_type so100) recorded degrees; so100_follower datasets set units per dataset
    arms=(
        ArmMap(
            side="right",
            joints=_lerobot_joints(),
            link="gripper",
            # (estimate) z = -y_gripper (wrist_roll's axis is y; the jaw pivots on the -y side), y = +x_gripper
            link_from_wrist=_rot(0.5, 0.5, -0.5, 0.5),
            gripper=GripperMap(
                joint=_LEROBOT_GRIPPER_JOINT, unit="joint", closed_q=0.0, open_q=2.0, source=_LEROBOT_GRIPPER_SOURCE
            ),
        ),
    ),
    source="TheRobotStudio/SO-ARM100 Simulation/SO100/so100.urdf (old-calibration zeros: unverified against a "
    "recording); lerobot motor names",
)

# -- Interbotix arms (ALOHA: ViperX 300 6DOF; Bridge: WidowX 250 6DOF) ---------------------------------------------
_INTERBOTIX = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")
# gripper_link sits on wrist_rotate's axis; its x points to ee_gripper_link (the TCP), fingers slide along y: the
# canonical wrist is gripper_link turned +90 deg about y (z = x_link), the same frame schemas.robots.eef_offsets gives
# Bridge's recorded ee_gripper_link poses.
_INTERBOTIX_WRIST = _rot(0.0, _H, 0.0, _H)


def _interbotix(
    robot: str,
    side: str,
    prefixes: tuple[str, ...],
    grip: GripperMap,
    placed: RigidTransform | None = None,
    joints: tuple[str, ...] = _INTERBOTIX,
) -> ArmMap:
    return ArmMap(
        side=side,  # type: ignore[arg-type]
        joints=_joints(*joints),
        link=f"{robot}/gripper_link",
        link_from_wrist=_INTERBOTIX_WRIST,
        prefixes=prefixes,
        gripper=grip,
        base_from_arm=placed or RigidTransform.identity(),
    )


# ALOHA records the gripper normalized 0 (closed) .. 1 (open): tonyzhaozh/act constants.py
# PUPPET_GRIPPER_POSITION_NORMALIZE_FN over PUPPET_GRIPPER_POSITION_CLOSE/OPEN (finger position in metres).
_ALOHA_GRIP = GripperMap(
    joint=JointMap(urdf="gripper"),
    unit="fraction",
    closed_q=0.021,
    open_q=0.057,
    source="tonyzhaozh/act constants.py: normalized puppet gripper position, 1 = open",
)
# ALOHA's two ViperX face each other across the table: ACT's simulated rig (tonyzhaozh/act assets, vx300s_left.xml /
# vx300s_right.xml as in MarkFzp/act-plus-plus @ 60d0da09) puts the left arm's base at world (-0.469, 0.5, 0) facing
# +x and the right one at (0.469, 0.5, 0) turned by pi. The canonical frame: origin midway, x = world +y (so the left
# arm is on the left), each arm's base turned to face the other.
ALOHA = JointSpaceSpec(
    description="vx300s",
    units="rad",
    arms=(
        _interbotix(
            "vx300s",
            "left",
            ("left",),
            _ALOHA_GRIP,
            RigidTransform(translation=(0.0, 0.469, 0.0), rotation_xyzw=(0.0, 0.0, -_H, _H)),
        ),
        _interbotix(
            "vx300s",
            "right",
            ("right",),
            _ALOHA_GRIP,
            RigidTransform(translation=(0.0, -0.469, 0.0), rotation_xyzw=(0.0, 0.0, _H, _H)),
        ),
    ),
    source="Interbotix vx300s.urdf.xacro; ALOHA state names left_waist .. right_gripper (lerobot aloha datasets); "
    "arm placement from ACT's simulated rig (assumption: the real rig's spacing is the simulation's)",
)

WIDOWX = JointSpaceSpec(
    description="wx250s",
    units="rad",
    arms=(
        _interbotix(
            "wx250s",
            "right",
            ("",),
            GripperMap(
                joint=JointMap(urdf="left_finger", native=("gripper",)),
                unit="joint",
                closed_q=0.015,
                open_q=0.037,
                source="interbotix wx250s.urdf.xacro left_finger limits 0.015 .. 0.037 m",
            ),
        ),
    ),
    source="Interbotix wx250s.urdf.xacro (joint-space WidowX recordings; Bridge's EEF state is read by adapters/oxe)",
)

# The 5-DoF X-Series arms (WidowX 200, WidowX 250): no forearm_roll. Interbotix's own driver publishes each finger's
# offset from the centre as `left_finger` / `right_finger` (metres) beside `gripper`, the servo horn's angle (rad):
# the real /wx200/joint_states of interbotix_xsarm_diagnostic_tool's waist_diagnostics.bag
# (tests/data/real/rosbag_interbotix) holds all three, left_finger 0.033 m, within the xacro's 0.015 .. 0.037.
_INTERBOTIX_5DOF = ("waist", "shoulder", "elbow", "wrist_angle", "wrist_rotate")
_XS_FINGER = GripperMap(
    joint=JointMap(urdf="left_finger"),
    unit="joint",
    closed_q=0.015,
    open_q=0.037,
    source="interbotix_xs_sdk JointState left_finger (m); <model>.urdf.xacro left_finger limits 0.015 .. 0.037 m",
)


def _xs_5dof(robot: str) -> JointSpaceSpec:
    return JointSpaceSpec(
        description=robot,
        units="rad",  # interbotix_xs_sdk publishes radians (the real bag's joints lie within the xacro's limits)
        arms=(_interbotix(robot, "right", ("",), _XS_FINGER, joints=_INTERBOTIX_5DOF),),
        source=f"Interbotix {robot}.urdf.xacro; joint names as interbotix_xs_sdk publishes them (ROS bags)",
    )


WX200 = _xs_5dof("wx200")
WX250 = _xs_5dof("wx250")


def _franka_arm(
    robot: str, side: str = "right", prefixes: tuple[str, ...] = ("",), placed: RigidTransform | None = None
) -> ArmMap:
    """Panda or FR3 with the Franka Hand: the `<robot>_hand` frame on the flange is the wrist (z = approach, fingers
    along y, as schemas/robots/eef_offsets.py); the gripper value is one finger's travel, 0 .. 0.04 m (hand.xacro)."""
    return ArmMap(
        side=side,  # type: ignore[arg-type]
        joints=tuple(JointMap(urdf=f"{robot}_joint{i}", native=(f"joint{i}", f"joint_{i}")) for i in range(1, 8)),
        link=f"{robot}_hand",
        prefixes=prefixes,
        base_from_arm=placed or RigidTransform.identity(),
        gripper=GripperMap(
            joint=JointMap(urdf=f"{robot}_finger_joint1", native=("gripper", "finger_joint1")),
            unit="joint",
            closed_q=0.0,
            open_q=0.04,
            source=f"franka_description {robot}_finger_joint1 0 .. 0.04 m per finger",
        ),
    )


def _franka(robot: str, source: str) -> JointSpaceSpec:
    return JointSpaceSpec(description=robot, units="rad", arms=(_franka_arm(robot),), source=source)


FRANKA = _franka("panda", "franka_ros franka_description panda_arm.xacro + hand.xacro")

# -- Other arms ------------------------------------------------------------------------------------------------------
KOCH = JointSpaceSpec(
    description="koch",
    base_link="base_link",
    canonical_from_base=_rot(0.0, 0.0, -_H, _H),  # the arm reaches along the base's +y at zero: Rz(-90 deg)
    units="deg",  # lerobot < 0.2 (robot_type koch) recorded degrees (assumption: its zero is this model's zero)
    arms=(
        ArmMap(
            side="right",
            joints=tuple(JointMap(urdf=f"joint{i}", native=(m,), motor_id=i) for i, m in enumerate(_LEROBOT_ARM, 1)),
            link="joint5",  # wrist roll output, carrying the static jaw
            # z = +y_link (the finger pads sit 0.07 m along +y), y = +x_link (the moving jaw pivots about -z at
            # x = -0.009 and closes towards +x)
            link_from_wrist=_rot(0.5, 0.5, 0.5, -0.5),
            gripper=GripperMap(
                joint=JointMap(urdf="joint6", native=("gripper",), motor_id=_LEROBOT_MOTOR_ID["gripper"]),
                unit="joint",
                closed_q=0.0,
                open_q=-1.52,
                source="(estimate) low_cost_robot.xml actuator ctrlrange -1.52 .. 0.032 rad, 0 taken as closed",
            ),
        ),
    ),
    source="AlexanderKoch-Koch/low_cost_robot low_cost_robot.xml; lerobot koch motor names (main_shoulder_pan ..)",
)

UR5E = JointSpaceSpec(
    description="ur5e",
    base_link="base_link",  # REP-103: x forward, y left, z up (the arm stretches along +x at zero)
    units="rad",
    arms=(
        ArmMap(
            side="right",
            joints=_joints(
                "shoulder_pan_joint",
                "shoulder_lift_joint",
                "elbow_joint",
                "wrist_1_joint",
                "wrist_2_joint",
                "wrist_3_joint",
            ),
            link="tool0",  # the flange with z out of it; no gripper in the description (wrist only)
        ),
    ),
    source="Universal_Robots_ROS2_Description ur5e (via ur5e.urdf); no gripper: the gripper dims stay masked",
)


# PiPER's link6 is the flange (gripper base), the fingers 0.135 m along its +z; y = +x_link6: piper.urdf's joint8
# finger opens along -x, closes along +x
_PIPER_WRIST = _rot(0.0, 0.0, -_H, _H)

PIPER = JointSpaceSpec(
    description="piper",
    base_link="base_link",
    units="rad",
    arms=(
        ArmMap(
            side="right",
            joints=_joints("joint1", "joint2", "joint3", "joint4", "joint5", "joint6"),
            link="link6",
            link_from_wrist=_PIPER_WRIST,
        ),
    ),
    source="agilexrobotics/Piper_ros piper_description.urdf; the gripper's recorded unit is not established: masked",
)

FR3 = _franka("fr3", "franka_description fr3 (via fr3.urdf)")


def _beside(y: float) -> RigidTransform:
    """An arm base `y` m left of the canonical origin, facing forward (+x) like the canonical frame."""
    return RigidTransform(translation=(0.0, y, 0.0))


# -- Two-arm rigs (RoboMIND: AgileX Cobot Magic, Franka FR3 dual) ---------------------------------------------------
# Cobot Magic: RoboMIND's own FK for this release (Open-X-Humanoid/RoboMIND-dataset-utils eepose/joint2pose.py
# @ ff94d938, _MODEL_FRAME_CONFIG["agilex"]) reads fl_link6 / fr_link6 from body_Link of AgileX's aloha_new.urdf with
# left = fl_joint1..6, right = fr_joint1..6: agilex_cobot_magic.urdf is that file's two front arms (its header). Its
# arm chain is not piper.urdf's (joints 4 and 6 turn the other way, joint5's zero 0.087266 rad apart), so the recorded
# values are read on the maker's chain. The canonical origin stays midway between the two arm bases at their height,
# as ALOHA's: fl/fr_base_link sit at (0.23875, +-0.3, 0.775) of body_Link, unrotated (x forward, fl = left on +y).
# Native names left_joint1 .. right_joint6 (RoboMIND all_robot_h5_info*.md, per-arm datasets `joint_position_left`).
_COBOT_MAGIC_BODY_TO_MID = RigidTransform(translation=(-0.23875, 0.0, -0.775))  # body_Link origin, canonical frame


def _cobot_magic_arm(side: str) -> ArmMap:
    p = "fl" if side == "left" else "fr"
    return ArmMap(
        side=side,  # type: ignore[arg-type]
        joints=tuple(JointMap(urdf=f"{p}_joint{i}", native=(f"joint{i}",)) for i in range(1, 7)),
        # the flange joint2pose.py reads: piper.urdf's link6 frame (tests/ingest/kinematics/test_agilex_cobot_magic.py),
        # fingers on the same origins; aloha_new.urdf's finger limits have the other sign, the wrist y is PIPER's
        link=f"{p}_link6",
        link_from_wrist=_PIPER_WRIST,
        prefixes=(side,),
    )


PIPER_DUAL = JointSpaceSpec(
    description="agilex_cobot_magic",
    base_link="body_Link",
    canonical_from_base=_COBOT_MAGIC_BODY_TO_MID,
    units="rad",
    arms=(_cobot_magic_arm("left"), _cobot_magic_arm("right")),
    source="agilexrobotics/mobile_aloha_sim aloha_new.urdf @ 3767e570 (via agilex_cobot_magic.urdf), the file and "
    "frames RoboMIND-dataset-utils eepose/joint2pose.py @ ff94d938 uses for AgileX; canonical origin midway between "
    "the arm bases; grippers: unit not established",
)

# FR3 dual (RoboMIND h5_franka_fr3_dual): the maker publishes no rig geometry. Assumption: Franka's own two-arm
# example, frankaemika/franka_ros franka_description/robots/dual_panda/dual_panda_example.urdf.xacro @ b2a62ff (both
# arms on one table, facing +x, at y = +0.5 (left) and -0.5 (right)). Only the y spacing matters to the canonical
# wrists; both wrists are exact in their own arm's frame whatever the spacing.
FR3_DUAL = JointSpaceSpec(
    description="fr3",
    units="rad",
    arms=(_franka_arm("fr3", "left", ("left",), _beside(0.5)), _franka_arm("fr3", "right", ("right",), _beside(-0.5))),
    source="franka_description fr3 (via fr3.urdf) per arm; arm spacing ASSUMED from franka_ros "
    "dual_panda_example.urdf.xacro @ b2a62ff (+-0.5 m, facing forward): RoboMIND states no rig geometry",
)
