"""Which OXE state slices are the hand: the wrist pose and the gripper opening, from the slice names of
`adapters.oxe.subsets` (robot base frame, the right hand of a one-armed robot, a fixed camera).

- wrist: `*:eef_xyz` / `*:tcp_xyz` (m) with `*:eef_quat` (xyzw), `*:eef_axis_angle` (a rotation vector, rad),
  `*:eef_euler_zxy` (angles about fixed axes z, x, y in that order: scipy `Rotation.as_euler("zxy")`, as DLR's
  builders write them) or `*:eef_rpy` / `*:eef_euler` / `*:tcp_euler` (roll, pitch, yaw about fixed axes,
  R = Rz·Ry·Rx); or `*:eef_matrix`,
  a flattened 4x4 homogeneous matrix in the element order its values show (`matrix_pose`). When the subset
  declares `eef_reference_rotation` D (Bridge: the state stores R_ee·Dᵀ), the declared rotation is R_state·D, the
  end-effector frame itself, as a quaternion (xyzw).
- gripper opening 0 (closed) .. 1 (open), matched on whole component or key names, first rule first:
  a width in metres (`gripper_width`, `gripper_opening_width`, unit "m") over the Franka Hand's 0.08 m stroke;
  `gripper_open` as is; `gripper_closed` and droid's `gripper_position` inverted.

Which OXE columns are a described robot's joints and gripper (a subset row's `joint_fk`): the joint-space options
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
is then compared with it (`ingest.canonical.eef_agreement`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.base import HandSignals, HandTrack, Stream
from adapters.oxe.reference import reference_poses
from adapters.oxe.subsets import OXESubset
from schemas.robots.joint_space import JointSpaceOptions, column_names, load_joint_space

FRANKA_MAX_WIDTH_M = 0.08  # Franka Hand maximum opening (datasheet); octo's taco transform also divides by 0.08
_WIDTH_NAMES = {"gripper_width", "gripper_opening_width"}
_OPEN_NAMES = {"gripper_open"}
_CLOSED_NAMES = {"gripper_closed", "gripper_position"}


def _find(streams: dict[str, Stream], *suffixes: str) -> Stream | None:
    for suffix in suffixes:
        for key, s in streams.items():
            if key.endswith(suffix):
                return s
    return None


def _names(key: str, s: Stream) -> set[str]:
    """Whole names a stream answers to: its components and the last word of its key ('observation/x:part')."""
    return set(s.names or ()) | {key.rsplit("/", 1)[-1].rsplit(":", 1)[-1]}


def gripper_opening(states: dict[str, Stream]) -> Stream | None:
    """The canonical opening 0..1 from the first state stream that is a gripper, else None.

    Whole-name matches only: a substring test took taco_play's `gripper_opening_width` (metres) for an opening, and
    fractal's `gripper_closedness_commanded` (a command) for the measured `gripper_closed`."""
    for key, s in states.items():
        names = _names(key, s)
        v = s.values.reshape(len(s), -1).astype(np.float64)[:, 0] if len(s) else np.empty(0)
        if names & _WIDTH_NAMES and s.unit in ("m", ""):
            return Stream(s.timestamps, np.clip(v / FRANKA_MAX_WIDTH_M, 0, 1))
        if names & _OPEN_NAMES:
            return Stream(s.timestamps, np.clip(v, 0, 1))
        if names & _CLOSED_NAMES:
            return Stream(s.timestamps, np.clip(1.0 - v, 0, 1))
    return None


def _referenced(rotation: Stream, reference: np.ndarray) -> Stream:
    """R_state · D as quaternions (xyzw): the end-effector frame of a state stored relative to D."""
    values = rotation.values.reshape(len(rotation), -1).astype(np.float64)
    # roll, pitch, yaw about fixed axes (R = Rz·Ry·Rx) is scipy's extrinsic "xyz"
    r = Rotation.from_quat(values) if rotation.unit == "quat_xyzw" else Rotation.from_euler("xyz", values)
    quat = (r * Rotation.from_matrix(reference)).as_quat()  # scipy composes p * q as the matrix P @ Q
    return Stream(rotation.timestamps, quat, ("qx", "qy", "qz", "qw"), "quat_xyzw", rotation.frame)


def matrix_pose(pose: Stream) -> tuple[Stream, Stream] | None:
    """A pose stored as a flattened 4x4 homogeneous matrix (16 values: VIOLA's `ee_states`, BUDS' and MUTEX's
    `state[8:24]`, SIRIUS' `state_ee`) as (position, quaternion xyzw), or None when it is no rigid transform. The
    element order is read from the values themselves: libfranka's `O_T_EE`, which UT Austin's deoxys records, is
    column-major (translation at 12..14, deoxys `FrankaInterface.last_eef_pose` reshapes it (4, 4) then transposes);
    a row-major copy has it at 3, 7, 11. Whichever reading has the bottom row [0, 0, 0, 1] and an orthonormal
    rotation in every frame is the one (a translation of exactly 0 reads the same either way)."""
    flat = pose.values.reshape(len(pose), 16).astype(np.float64)
    for mats in (flat.reshape(-1, 4, 4).transpose(0, 2, 1), flat.reshape(-1, 4, 4)):  # column-major, row-major
        rot = mats[:, :3, :3]
        rigid = np.allclose(mats[:, 3, :], [0.0, 0.0, 0.0, 1.0], atol=1e-4) and np.allclose(
            rot @ rot.transpose(0, 2, 1), np.eye(3), atol=1e-3
        )
        if rigid and np.allclose(np.linalg.det(rot), 1.0, atol=1e-3):
            quat = Rotation.from_matrix(rot).as_quat()
            xyz = Stream(pose.timestamps, mats[:, :3, 3], ("x", "y", "z"), "m", pose.frame)
            return xyz, Stream(pose.timestamps, quat, ("qx", "qy", "qz", "qw"), "quat_xyzw", pose.frame)
    return None


# Orientations stored as three numbers that are no roll/pitch/yaw about x, y, z: how each reads as a rotation
_AS_ROTATION = {
    # a rotation vector, axis times angle in rad (bc_z's `present/axis_angle`)
    ":eef_axis_angle": Rotation.from_rotvec,
    # scipy's extrinsic "zxy": the angles about fixed z, then x, then y, in that order (DLR-RM/rlds_dataset_builder
    # @0b8a29b dlr_sara_pour_dataset/dlr_sara_pour_dataset_dataset_builder.py: 'yaw/pitch/roll calculated with scipy
    # Rotation.as_euler(="zxy")'; @338175a dlr_sara_grid_clamp_dataset/README.md, @00f298a dlr_edan_sharedcontrol/
    # README.md the same, "in the Robot base frame")
    ":eef_euler_zxy": lambda v: Rotation.from_euler("zxy", v),
}


def _as_quat(states: dict[str, Stream]) -> Stream | None:
    """The first orientation of `_AS_ROTATION` the states hold, as quaternions (xyzw), else None."""
    for suffix, read in _AS_ROTATION.items():
        if (s := _find(states, suffix)) is not None:
            quat = read(s.values.reshape(len(s), 3).astype(np.float64)).as_quat()
            return Stream(s.timestamps, quat, ("qx", "qy", "qz", "qw"), "quat_xyzw", s.frame)
    return None


def hand_signals(
    states: dict[str, Stream], eef_reference_rotation: np.ndarray | None = None, natives_reason: str = ""
) -> HandSignals:
    """The hand declaration of one OXE episode; `eef_reference_rotation` is the subset's D (None: the state stores
    the end-effector orientation itself); `natives_reason`, the subset table's, goes to the notes."""
    xyz = _find(states, ":eef_xyz", ":tcp_xyz")
    quat = _find(states, ":eef_quat")
    quat = quat if quat is not None else _as_quat(states)
    euler = _find(states, ":eef_rpy", ":eef_euler", ":tcp_euler")
    sig = HandSignals(frame="robot_base")
    if xyz is None and (matrix := _find(states, ":eef_matrix")) is not None:
        read = matrix_pose(matrix)
        if read is None:
            sig.notes.append("eef_matrix is no rigid transform in either element order: no canonical wrist")
        else:
            xyz, quat = read
    track = HandTrack(gripper=gripper_opening(states))
    if xyz is not None and (quat is not None or euler is not None):
        track.position = xyz
        track.rotation = replace(quat, unit="quat_xyzw") if quat is not None else replace(euler, unit="euler_xyz")
        if eef_reference_rotation is not None:
            track.rotation = _referenced(track.rotation, np.asarray(eef_reference_rotation, dtype=np.float64))
            sig.notes.append("wrist rotation = state rotation · the reference rotation the state is stored relative to")
    else:
        why = f": {natives_reason}" if natives_reason else ""
        sig.notes.append(f"no end-effector pose stream: canonical wrist dims unavailable{why}")
    sig.hands[1] = track  # one-armed robots fill the right hand
    return sig


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
