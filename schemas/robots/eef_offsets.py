"""Rigid EEF offsets per embodiment, with their sources, so "wrist" is one physical point for every embodiment.

Canonical wrist: the flange, i.e. the point on the last arm joint's axis where the tool (gripper or hand) is mounted.
For a human it is MANO joint 0. Its orientation is the tool frame's, with z = approach axis (wrist -> fingertips) and,
for parallel grippers, y = the axis the fingers close along; every tool frame listed here already has z = approach
except the WidowX's `ee_gripper_link` (x = approach), whose offset therefore also rotates.

`EEF_OFFSETS[embodiment] = (eef_from_wrist, source)`: the transform that maps canonical-wrist points into the frame a
source records when it records the TCP (tool centre point, between the fingertips), so that
`ingest.frames.apply_eef_offset(base_from_tcp, eef_from_wrist) = base_from_wrist`. A pure translation
(0, 0, -L) moves back along the approach axis by the tool length L.

Whether a dataset records the TCP or the flange is a property of the dataset, not of the robot (DROID and TACO-Play are
both Frankas; DROID records the flange): `RECORDED_POINT` says which, per source or OXE subset, and `eef_offset_for`
combines both. Episodes name their dataset as the files do (the TFDS builder name: `bridge_dataset`, `droid_100`,
`rt1`, ...; AgiBot's source `agibot_world`): `DATASET_ALIASES` maps those names, as data, onto the keys of
`RECORDED_POINT`. Its OXE entries mirror `adapters.oxe.subsets` (checked by
tests/ingest/canonical/test_eef_offset_lookup.py), so this module imports no adapter.

Numbers marked "(estimate: ...)" or "(unverified ...)" are not from the manufacturer; replace them when a better source
turns up.
"""

from __future__ import annotations

import math
from typing import Literal

from schemas.transform import RigidTransform

RecordedPoint = Literal["tcp", "flange", "wrist", "unknown"]

_H = math.sqrt(0.5)


def _back_along_z(metres: float) -> RigidTransform:
    """Tool frame with z = approach: the wrist lies `metres` behind the TCP on its z axis."""
    return RigidTransform(translation=(0.0, 0.0, -metres))


# Franka Hand: franka_description `franka_hand.xacro` puts `<arm>_hand_tcp` at tcp_xyz="0 0 0.1034" from `<arm>_hand`,
# which sits on the flange `<arm>_link8` rotated rpy="0 0 -pi/4" (libfranka's default F_T_EE for the Franka Hand).
# We keep the hand frame's orientation (fingers along y) rather than the flange's bolt-pattern angle.
_FRANKA = (
    _back_along_z(0.1034),
    "Franka Hand flange->TCP 0.1034 m along the hand z axis (franka_description franka_hand.xacro tcp_xyz "
    "'0 0 0.1034', <arm>_hand -> <arm>_hand_tcp; the hand sits on <arm>_link8 at rpy 0 0 -pi/4, orientation kept)",
)

# WidowX 250 6DOF (interbotix_xsarm_descriptions wx250s.urdf.xacro): wrist_rotate joint -> gripper_link, then
# gripper_link -> ee_arm_link x 0.043, gripper_bar_link -> fingers_link x 0.023, fingers_link -> ee_gripper_link
# x 0.027575: 0.093575 m along x. The pose this applies to is the ee_gripper_link frame (x = approach, fingers slide
# along y): Bridge stores its orientation relative to a top-down default rotation, and the oxe adapter declares the
# frame itself (R_state · D, bridge's eef_reference_rotation in adapters/oxe/subsets.yaml). The offset also rotates
# +90 deg about y: wrist z = EEF x, wrist y = EEF y, wrist x = -EEF z. With rpy = 0 (gripper straight down) the wrist
# is 0.093575 m above the TCP, its z axis pointing down.
_WIDOWX = (
    RigidTransform(translation=(-0.093575, 0.0, 0.0), rotation_xyzw=(0.0, _H, 0.0, _H)),
    "WidowX 250 6DOF ee_gripper_link -> gripper_link (wrist_rotate joint) 0.093575 m back along x "
    "(interbotix wx250s.urdf.xacro: ee_arm 0.043 + ee_bar 0.023 + ee_gripper 0.027575), then +90 deg about y so "
    "z = approach",
)

# Everyday Robots (RT-1) arm: no public manufacturer model; SimplerEnv's URDF adds a dummy TCP 0.15 m along the
# gripper link's z axis and evaluates RT-1 policies on it.
_GOOGLE = (
    _back_along_z(0.15),
    "(estimate: SimplerEnv google_robot_meta_sim_fix_fingertip.urdf adds a dummy link_gripper_tcp at xyz '0 0 0.15' "
    "from link_gripper, joint gripper_tcp_joint; not an Everyday Robots number)",
)

_KUKA = (
    RigidTransform.identity(),
    "(unknown: the QT-Opt kuka subset does not document its gripper geometry or which point its pose measures; "
    "identity, no correction)",
)

# UR5 + Robotiq 2F-85: the same TCP length from two independent robot descriptions; the UR coupling plate (if any)
# adds a few millimetres not modelled here.
_UR5 = (
    _back_along_z(0.1493),
    "Robotiq 2F-85 flange->TCP ~0.149 m along tool0 z (utiasSTARS/pyb-sim-models UR5_2F85 URDF: gripper_base -> "
    "tool_center_point 0.14948 m; RobotControlStack GRIPPER_TCP_OFFSETS Robotiq2F85 (0, 0, 0.1493)); coupling "
    "plate not included (estimate +-0.01 m)",
)

# AgiBot G1 with the Omnipicker gripper (AgibotTech/genie_sim robot_cfg/G01/G01_omnipicker.urdf): arm_*_link7 ->
# gripper_*_base_link (idx51/idx91, rpy 0 0 pi/2) -> gripper_*_center_link (idx52/idx92, xyz 0 0 0.14308,
# rpy 0 0 -pi/2): the centre is 0.14308 m along link7's z with link7's orientation.
_AGIBOT_GRIPPER = (
    _back_along_z(0.14308),
    "AgiBot G1 Omnipicker flange->gripper centre 0.14308 m along z (genie_sim G01_omnipicker.urdf: "
    "idx52_gripper_l_center_joint xyz '0 0 0.14308' from gripper_l_base_link, which sits on arm_l_link7)",
)

_AGIBOT_DEXTEROUS = (
    RigidTransform.identity(),
    "AgiBot G1 dexterous hand base = arm end link (genie_sim G01_skillhands6.urdf: idx51_ee_l_joint "
    "arm_l_end_link -> hand_l_base_link, identity); fingertips come from the hand model, not an offset",
)

EEF_OFFSETS: dict[str, tuple[RigidTransform, str]] = {
    "franka": _FRANKA,
    "widowx": _WIDOWX,
    "google_robot": _GOOGLE,
    "kuka_iiwa": _KUKA,
    "ur5": _UR5,
    "agibot_gripper": _AGIBOT_GRIPPER,
    "agibot_dexterous": _AGIBOT_DEXTEROUS,
    "gr1": (
        RigidTransform.identity(),
        "(estimate: Fourier GR1 hand poses are taken at the hand base on the wrist; identity)",
    ),
    "human": (RigidTransform.identity(), "MANO joint 0 is the wrist: identity by definition"),
    "human_video": (RigidTransform.identity(), "no poses (actionless video): identity"),
    "unknown": (RigidTransform.identity(), "unknown robot: no pose is read, identity"),
}

# Which point a dataset's recorded EEF pose measures. Keys: OXE subset names, else adapter source names.
RECORDED_POINT: dict[str, tuple[RecordedPoint, str]] = {
    "bridge": (
        "tcp",
        "bridge_data_robot widowx_controller.get_cartesian_pose = FKinSpace(robot_des.M, ...); interbotix M for "
        "wx250s is (0.458325, 0, 0.36065) = the URDF chain to ee_gripper_link; state orientation relative to "
        "DEFAULT_ROTATION, undone by the adapter",
    ),
    "fractal20220817_data": (
        "tcp",
        "(unverified: inferred from SimplerEnv replaying RT-1 on link_gripper_tcp; base_pose_tool_reached is "
        "undocumented)",
    ),
    "kuka": ("unknown", "(unknown: clip_function_input/base_pose_tool_reached is undocumented)"),
    "taco_play": (
        "tcp",
        "CALVIN robot_obs 'tcp pos / tcp orn' (libfranka O_T_EE); the 0.1034 m length assumes Desk's default Franka "
        "Hand end-effector configuration (unverified for the TACO setup)",
    ),
    "droid": (
        "flange",
        "droid-dataset/droid issues #2 and #27: cartesian_position is the wrist / gripper attachment site (MuJoCo "
        "panda attachment_site), not the Robotiq 2F-85 TCP",
    ),
    "berkeley_autolab_ur5": ("unknown", "(unknown: robot_state EEF pose point not documented; UR TCP config unknown)"),
    "agibot": (
        "flange",
        "state/end is the arm end (flange) frame (adapters/agibot/; OpenDriveLab/AgiBot-World issue #77 "
        "'End-effector (flange) frame definition'; unverified by AgiBot documentation)",
    ),
    "egodex": ("wrist", "ARKit hand joint 'wrist' = MANO joint 0"),
}


# Names episodes carry -> the RECORDED_POINT key they stand for. OXE: the TFDS builder names of the same data
# (`OXESubset.aliases` in adapters/oxe/subsets.py: Octo/rail's `bridge_dataset`, OpenVLA's `bridge_orig`, `droid_100`,
# DROID's old name `r2d2`, `rt1` / `fractal`); AgiBot: the adapter's default source name (AgibotOptions.source).
DATASET_ALIASES: dict[str, str] = {
    "bridge_dataset": "bridge",
    "bridge_orig": "bridge",
    "fractal": "fractal20220817_data",
    "rt1": "fractal20220817_data",
    "droid_100": "droid",
    "r2d2": "droid",
    "agibot_world": "agibot",
}


def recorded_point(dataset: str, source: str | None = None) -> tuple[RecordedPoint, str]:
    """Which point `dataset` (an OXE subset name or alias; else its `source`) records; ('unknown', ...) if neither is
    listed."""
    for name in (dataset, source):
        key = DATASET_ALIASES.get(name, name) if name is not None else None
        if key is not None and key in RECORDED_POINT:
            return RECORDED_POINT[key]
    return "unknown", f"(unknown: {dataset!r} is not in schemas.robots.eef_offsets.RECORDED_POINT)"


def eef_offset_for(embodiment: str, dataset: str, source: str | None = None) -> tuple[RigidTransform, str]:
    """The eef_from_wrist offset to apply to `dataset`'s recorded EEF poses, with a sentence saying why.

    TCP recordings get the embodiment's tool offset; flange and wrist recordings, and unknown ones (no evidence, so no
    correction), get the identity. Raises KeyError for an embodiment without an entry in `EEF_OFFSETS`.
    """
    if embodiment not in EEF_OFFSETS:
        raise KeyError(f"no EEF offset for embodiment {embodiment!r}; known: {sorted(EEF_OFFSETS)}")
    point, why = recorded_point(dataset, source)
    if point == "tcp":
        offset, geometry = EEF_OFFSETS[embodiment]
        return offset, f"{dataset} records the TCP ({why}); {geometry}"
    return RigidTransform.identity(), f"{dataset} records point '{point}' ({why}); no offset applied"
