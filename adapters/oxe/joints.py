"""Which OXE columns are a described robot's joints and gripper (a subset row's `joint_fk`): the joint-space options
that send them to forward kinematics (`ingest.canonical.joint_space`), and the hand declaration of a row whose state
holds joints but no end-effector pose.

- joints: the row's `joint_fk.joints` column, in the description's arm order (base to flange), each native name mapped
  to its URDF joint (`JointSpaceOptions.joint_map`, keyed as the resolver names columns: the stream's component names,
  else `<stream>.<index>`); radians the recorder default, the unit still settled per episode by the values against
  the description's joint limits (`ingest.canonical.joint_units`); a joint the recorder counts from another zero
  moved by the row's `joint_zero`;
- gripper: the row's `joint_fk.gripper` column (state or action: an action column is the command) mapped to the
  description's gripper joint and read in `joint_fk.gripper_unit`, or not read (`gripper_unread`, the row's reason).

A row that also records an end-effector pose keeps that pose as the canonical wrist; FK of the same episode's joints
is then compared with it (`ingest.canonical.eef_agreement`)."""

from __future__ import annotations

from adapters.base import HandSignals, Stream
from adapters.oxe.subsets import OXESubset
from schemas.robots.joint_space import JointSpaceOptions, column_names, load_joint_space


def joint_space_options(cfg: OXESubset, states: dict[str, Stream]) -> JointSpaceOptions | None:
    """The options that map the row's joint and gripper columns to its description, or None (no `joint_fk`, or the
    builder lacks the joint column: the FK step then names the joints it did not find)."""
    fk = cfg.joint_fk
    if fk is None or fk.joints not in states:
        return None
    [arm] = load_joint_space().robots[cfg.embodiment].arms  # one arm: OXESubset checks it
    s = states[fk.joints]
    names = column_names(fk.joints, s.names, None if s.values.ndim == 1 else s.values.shape[1])
    joint_map = {n: j.urdf for n, j in zip(names, arm.joints, strict=True)}
    if fk.gripper is not None and arm.gripper is not None:
        joint_map[fk.gripper] = arm.gripper.joint.urdf  # a one-value column answers to its stream key
    return JointSpaceOptions(
        joint_map=joint_map,
        recorder_units="rad",
        gripper_unit=fk.gripper_unit if fk.gripper is not None else None,
        gripper_unread=fk.gripper_unread or None,
        joint_zero=fk.joint_zero,
    )


def fk_hand_signals(cfg: OXESubset) -> HandSignals:
    """The declaration of a row whose wrist comes from forward kinematics: no hand (canonicalization builds it from
    the joints), the reason in the notes."""
    assert cfg.joint_fk is not None
    why = f"wrist by forward kinematics of {cfg.joint_fk.joints} ({cfg.embodiment}): {cfg.joint_fk.source}"
    return HandSignals(frame="robot_base", notes=[why])
