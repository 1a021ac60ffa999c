"""Which OXE columns are a described robot's joints and gripper (a subset row's `joint_fk`): the joint-space options
that send them to forward kinematics (`ingest.canonical.joint_space`), and the hand declaration of a row whose state
holds joints but no end-effector pose.

- joints: the row's `joint_fk.joints` column per arm (the description's arm order), each in the description's joint
  order (base to flange); a one-armed robot's native names mapped to its URDF joints (`JointSpaceOptions.joint_map`,
  keyed as the resolver names columns: the stream's component names, else `<stream>.<index>`), a two-armed robot's
  (ALOHA) found by their sided names (`left_waist`), which the row must give; radians the recorder default, the unit
  still settled per episode by the values against the description's joint limits (`ingest.canonical.joint_units`);
  a joint the recorder counts from another zero moved by the row's `joint_zero`;
- gripper: the row's `joint_fk.gripper` column per arm (state or action: an action column is the command), the
  description's gripper joint, read in `joint_fk.gripper_unit`, or not read (`gripper_unread`, the row's reason).

A row that also records an end-effector pose keeps that pose as the canonical wrist; FK of the same episode's joints
is then compared with it (`ingest.canonical.eef_agreement`)."""

from __future__ import annotations

from adapters.base import HandSignals, Stream
from adapters.oxe.reference import reference_poses
from adapters.oxe.subsets import OXESubset
from schemas.robots.joint_space import JointSpaceOptions, column_names, load_joint_space


def joint_space_options(cfg: OXESubset, states: dict[str, Stream]) -> JointSpaceOptions | None:
    """The options that map the row's joint and gripper columns to its description, or None (no `joint_fk`, or the
    builder lacks a joint column: the FK step then names the joints it did not find). A two-armed robot's columns
    are found by their sided names (`OXESubset` checks the table names them so): no map, whose URDF names the two
    arms share."""
    fk = cfg.joint_fk
    if fk is None or any(c not in states for c in fk.joints):
        return None
    arms = load_joint_space().robots[cfg.embodiment].arms  # one per joints column: OXESubset checks it
    joint_map: dict[str, str] = {}
    if len(arms) == 1:
        [arm], [key] = arms, fk.joints
        s = states[key]
        names = column_names(key, s.names, None if s.values.ndim == 1 else s.values.shape[1])
        joint_map = {n: j.urdf for n, j in zip(names, arm.joints, strict=True)}
        if fk.gripper and arm.gripper is not None:
            joint_map[fk.gripper[0]] = arm.gripper.joint.urdf  # a one-value column answers to its stream key
    return JointSpaceOptions(
        joint_map=joint_map,
        recorder_units="rad",
        gripper_unit=fk.gripper_unit if fk.gripper else None,
        gripper_unread=fk.gripper_unread or None,
        joint_zero=fk.joint_zero,
    )


def fk_hand_signals(cfg: OXESubset, states: dict[str, Stream]) -> HandSignals:
    """The declaration of a row whose wrist comes from forward kinematics: no hand (canonicalization builds it from
    the joints), the reason in the notes, the row's recorded pose as references to compare (`oxe.reference`)."""
    assert cfg.joint_fk is not None
    columns = ", ".join(cfg.joint_fk.joints)
    why = f"wrist by forward kinematics of {columns} ({cfg.embodiment}): {cfg.joint_fk.source}"
    ref = cfg.joint_fk.recorded_pose
    refs = reference_poses(ref, states) if ref is not None else {}
    return HandSignals(frame="robot_base", notes=[why], references=refs)
