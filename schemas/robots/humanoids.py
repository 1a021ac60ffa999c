"""Joint-space humanoids (`registry.JOINT_SPACE` registers them): Fourier GR1, Unitree G1, X-Humanoid Tien Kung.

Data only, as `schemas.robots.arms` (its docstring says how the wrist frames are chosen and checked).
"""

from __future__ import annotations

import math

from schemas.robots.joint_space import ArmMap, DexHandMap, JointMap, JointSpaceSpec
from schemas.transform import RigidTransform

_H = math.sqrt(0.5)


def _rot(x: float, y: float, z: float, w: float) -> RigidTransform:
    return RigidTransform(rotation_xyzw=(x, y, z, w))


# -- Fourier GR1 (GR00T robot_sim.PickNPlace) ------------------------------------------------------------------------
_GR1_ARM = ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow_pitch", "wrist_yaw", "wrist_roll", "wrist_pitch")


def _gr1_arm(side: str) -> ArmMap:
    # the hand's 6 slice values, their order and unit: hands.yaml gr1_fourier_hand_* (robosuite / robocasa)
    return ArmMap(
        side=side,  # type: ignore[arg-type]
        joints=tuple(JointMap(urdf=f"{side}_{j}_joint") for j in _GR1_ARM),
        link=f"{side}_hand_pitch_link",  # wrist pitch/roll axes cross here; the hand mounts here (all offsets 0)
        # z = -z_link (forearm -> fingers), y = palm normal: -y_link on the left, +y_link on the right (the fingers
        # flex that way in gr1_fourier_hand_*.urdf): Rx(180 deg) / Ry(180 deg)
        link_from_wrist=_rot(1.0, 0.0, 0.0, 0.0) if side == "left" else _rot(0.0, 1.0, 0.0, 0.0),
        prefixes=(side,),
        modality_arm=f"{side}_arm",
        modality_hand=f"{side}_hand",
        hand=DexHandMap(hand=f"gr1_fourier_hand_{side}"),
    )


GR1 = JointSpaceSpec(
    description="gr1_arms",
    base_link="base",  # the pelvis: +x forward, +y left, +z up (gr1_arms.urdf header)
    units="rad",
    arms=(_gr1_arm("left"), _gr1_arm("right")),
    source="gr1_arms.urdf (FFTAI/Wiki-MJCF gr1t1.xml, robosuite GR1 hand mounts) and gr1_fourier_hand_*.urdf "
    "(robosuite fourier hands); GR00T modality.json slices left_arm/left_hand/right_arm/right_hand",
)


# -- Unitree G1 (29-DoF) arms, Inspire RH56 or Dex3-1 hands ----------------------------------------------------------
def _g1_arm(side: str, hand: str | None) -> ArmMap:
    return ArmMap(
        side=side,  # type: ignore[arg-type]
        joints=tuple(JointMap(urdf=f"{side}_{j}_joint") for j in _G1_ARM),
        link=f"{side}_wrist_yaw_link",  # the last arm joint's link: the hands mount 0.0415 m along its +x
        # z = +x_link (wrist -> fingers), y = palm normal (-y_link left, +y_link right: where both hands' fingers
        # flex in inspire_hand_* / dex3_hand_*): left x = z_link, right x = -z_link
        link_from_wrist=_rot(_H, 0.0, _H, 0.0) if side == "left" else _rot(0.0, _H, 0.0, _H),
        prefixes=(side,),
        hand=DexHandMap(hand=f"{hand}_hand_{side}") if hand else None,
    )


# kLeftShoulderPitch .. kLeftWristYaw (Unitree's spelling, also `kLeftWristyaw` in its episode json) = URDF
# left_shoulder_pitch_joint .. left_wrist_yaw_joint; radians (unitree_lerobot records the arm's q as read from the SDK)
_G1_ARM = ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow", "wrist_roll", "wrist_pitch", "wrist_yaw")
_G1_SOURCE = (
    "g1_arms.urdf (unitreerobotics/unitree_ros g1_29dof_rev_1_0 and the hand-mount URDFs); unitreerobotics/"
    "unitree_lerobot utils/constants.py @ 529a0702 motor names and robot_types; hands: hands.yaml"
)


def _g1(hand: str | None) -> JointSpaceSpec:
    arms = (_g1_arm("left", hand), _g1_arm("right", hand))
    return JointSpaceSpec(description="g1_arms", base_link="pelvis", units="rad", arms=arms, source=_G1_SOURCE)


G1_DEX3, G1_INSPIRE, G1_ARMS = _g1("dex3"), _g1("inspire"), _g1(None)


# -- Tien Kung (X-Humanoid, first generation Pro; RoboMIND h5_tienkung_*) -------------------------------------------
# RoboMIND's own FK (RoboMIND-dataset-utils eepose/joint2pose.py @ ff94d938, _MODEL_FRAME_CONFIG["tiangong1pro"]):
# humanoid.urdf, L_hand_base_link / R_hand_base_link from pelvis, each arm's 7 values in this chain order (RoboMIND's
# "arm (7d): [base link, ..., end_effector link]"); tienkung_pro.urdf is TienKung_URDF's file of that name. The hand
# base is the wrist: the Inspire fingers extend along its -y and flex towards its -x on both sides (humanoid.urdf's
# finger origins and axes), so z = -y_link, y = -x_link (palm normal), x = +z_link
# (tests/ingest/kinematics/test_tienkung.py).
def _tienkung_arm(side: str) -> ArmMap:
    s = side[0]  # humanoid.urdf's names: left_joint1, shoulder_roll_l_joint, left_joint3, elbow_l_joint, left_joint5..7
    urdf = (
        f"{side}_joint1",
        f"shoulder_roll_{s}_joint",
        f"{side}_joint3",
        f"elbow_{s}_joint",
        *(f"{side}_joint{i}" for i in (5, 6, 7)),
    )
    return ArmMap(
        side=side,  # type: ignore[arg-type]
        # RoboMIND names no column: arm_joint1..7 are adapters/robomind/layouts.py's names, base to tip
        joints=tuple(JointMap(urdf=u, native=(f"arm_joint{i}",)) for i, u in enumerate(urdf, start=1)),
        link=f"{side[0].upper()}_hand_base_link",
        link_from_wrist=_rot(0.5, -0.5, 0.5, 0.5),
        prefixes=(side,),
    )


TIENKUNG = JointSpaceSpec(
    description="tienkung_pro",
    base_link="pelvis",  # x forward, y left, z up; no waist DoF (waist_joint is fixed)
    units="rad",
    arms=(_tienkung_arm("left"), _tienkung_arm("right")),
    source="x-humanoid-robomind/TienKung_URDF pro humanoid.urdf @ 7b1c56ad (via tienkung_pro.urdf), the frames and "
    "joints RoboMIND-dataset-utils eepose/joint2pose.py @ ff94d938 reads for tiangong1pro; hands: unit not established",
)
