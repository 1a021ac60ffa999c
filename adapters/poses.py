"""A recorded end-effector pose as a canonical hand, for every adapter whose files hold one: which values are the
position (metres), which the rotation and in which form (quaternion x, y, z, w or w, x, y, z; axis-angle; Euler
x, y, z about the fixed axes, scipy's lowercase "xyz"), and which the gripper with its closed and open values. The
declaration is data (`PoseHand`, read from an adapter's layouts file or a source option); `hand_track` turns the values
it names into a `HandTrack` in the source's base frame. Array layouts (`adapters/arrays/layouts.yaml` `hands`) and
LeRobot pose layouts (`adapters/lerobot/poses.yaml`, the `poses` option) are declared in it; each adapter resolves a
`Pick` (a key and, within a vector, the elements by name or index) against its own streams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from pydantic import model_validator
from scipy.spatial.transform import Rotation

from adapters.base import HandTrack, Stream
from schemas.frozen import Frozen

RotationUnit = Literal["quat_xyzw", "quat_wxyz", "axis_angle", "euler_xyz"]
ROTATION_WIDTH = {"quat_xyzw": 4, "quat_wxyz": 4, "axis_angle": 3, "euler_xyz": 3}


class Pick(Frozen):
    """Values of one stream: the whole of `key`, or the elements `names` names (in that order), or `index`
    [start, end). A bare string is a whole key."""

    key: str
    names: tuple[str, ...] = ()
    index: tuple[int, int] | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, v: Any) -> Any:
        return {"key": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _one_way(self) -> Pick:
        if self.names and self.index is not None:
            raise ValueError("give names or index, not both")
        if self.index is not None and not 0 <= self.index[0] < self.index[1]:
            raise ValueError(f"index {list(self.index)} is not [start, end) with 0 <= start < end")
        return self

    def said(self) -> str:
        inner = ", ".join(self.names) if self.names else f"{self.index[0]}:{self.index[1]}" if self.index else ""
        return f"{self.key}[{inner}]" if inner else self.key

    def take(self, stream: Stream) -> np.ndarray:
        """(T, k) values of `stream` this pick names; ValueError saying which element is missing."""
        v = np.asarray(stream.values, dtype=np.float64).reshape(len(stream), -1)
        if self.names:
            have = list(stream.names or ())
            missing = [n for n in self.names if n not in have]
            if missing:
                raise ValueError(f"{self.key} has no element(s) {missing} (its names: {have or 'none'})")
            return v[:, [have.index(n) for n in self.names]]
        if self.index is not None:
            if self.index[1] > v.shape[1]:
                raise ValueError(f"{self.key} has {v.shape[1]} values, index {list(self.index)} reaches past them")
            return v[:, self.index[0] : self.index[1]]
        return v


class PoseHand(Frozen):
    """One hand's recorded end-effector pose and gripper: a `position` and a `rotation`, or one `pose` array holding
    both (x, y, z, then the rotation: a UR's TCP pose); `command`, a recorded target pose (x, y, z first) whose
    tracking of the motion goes to the notes."""

    position: Pick | None = None  # (T,3) metres
    rotation: Pick | None = None  # (T,4) quaternion in `rotation_unit`'s order, or (T,3) axis x angle / Euler, rad
    pose: str | None = None  # (T,3+k): the position (m) then the rotation, in one array
    rotation_unit: RotationUnit
    gripper: Pick | None = None
    gripper_signs: tuple[float, ...] = (1.0,)  # the gripper value = sum of sign x column (finger positions)
    gripper_closed: float = 0.0  # the gripper value of the closed gripper
    gripper_open: float | None = None  # ... and of the open one (metres of finger travel, a width, 1 for a 0..1)
    # the only values the maker's code writes (a gripper recorded as open/closed levels); a recording holding others
    # was not written by that code: its gripper is not read, and the hand's notes say so
    gripper_levels: tuple[float, ...] = ()
    command: Pick | None = None

    @model_validator(mode="after")
    def _one_way(self) -> PoseHand:
        split = self.position is not None and self.rotation is not None
        alone = self.pose is not None and self.position is None and self.rotation is None
        if split == alone:
            raise ValueError("a hand's pose is `position` and `rotation`, or `pose` alone")
        if self.gripper is not None and (self.gripper_open is None or self.gripper_open == self.gripper_closed):
            raise ValueError("a gripper needs gripper_open, a value other than gripper_closed")
        return self

    def parts(self) -> tuple[Pick, Pick]:
        """(position, rotation) picks: the two given, or the `pose` array cut after x, y, z."""
        if self.pose is None:
            assert self.position is not None and self.rotation is not None
            return self.position, self.rotation
        return Pick(key=self.pose, index=(0, 3)), Pick(key=self.pose, index=(3, 3 + ROTATION_WIDTH[self.rotation_unit]))

    def required(self) -> tuple[str, ...]:
        """The pose's keys (the gripper is read when the episode holds it)."""
        return tuple(dict.fromkeys(p.key for p in self.parts()))


def quat_xyzw(values: np.ndarray, unit: str) -> np.ndarray:
    """(T,4) x, y, z, w quaternions from a recorded rotation (`RotationUnit`)."""
    v = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    if unit not in ROTATION_WIDTH:
        raise ValueError(f"rotation unit {unit!r} is not one of {', '.join(ROTATION_WIDTH)}")
    if v.shape[1] != ROTATION_WIDTH[unit]:
        raise ValueError(f"a {unit} rotation has {ROTATION_WIDTH[unit]} values, not {v.shape[1]}")
    if unit == "quat_xyzw":
        return v
    if unit == "quat_wxyz":
        return v[:, [1, 2, 3, 0]]
    if unit == "axis_angle":
        return Rotation.from_rotvec(v).as_quat()  # scipy: x, y, z, w
    return Rotation.from_euler("xyz", v).as_quat()  # lowercase: extrinsic, about the fixed x, y, z axes


def gripper_opening(values: np.ndarray, hand: PoseHand) -> np.ndarray:
    """Gripper values (T,k) -> the opening 0 (closed) .. 1 (open): their signed sum between the closed and open
    values (either may be the larger), clipped."""
    q = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    signs = np.asarray(hand.gripper_signs, dtype=np.float64)
    if q.shape[1] != len(signs) or hand.gripper_open is None:
        raise ValueError(f"{hand.gripper}: {q.shape[1]} columns for gripper_signs {hand.gripper_signs}")
    return np.clip((q @ signs - hand.gripper_closed) / (hand.gripper_open - hand.gripper_closed), 0.0, 1.0)


def hand_track(
    hand: PoseHand,
    read: Callable[[Pick], tuple[np.ndarray, np.ndarray] | None],
    frame: str,
    notes: list[str] | None = None,
) -> HandTrack:
    """The hand `hand` declares, from `read(pick)` -> (timestamps, (T,k) values), or None where the episode lacks
    the pick (only the gripper may be absent). ValueError for values of the wrong width. A declared gripper the
    episode lacks, or whose values are not its `gripper_levels`, is left out, the reason appended to `notes`."""
    whole = read(Pick(key=hand.pose)) if hand.pose is not None else None
    if whole is not None and whole[1].shape[1] != 3 + ROTATION_WIDTH[hand.rotation_unit]:
        raise ValueError(f"{hand.pose}: {whole[1].shape[1]} columns, not x, y, z and a {hand.rotation_unit} rotation")
    at, by = hand.parts()
    pos, rot = read(at), read(by)
    if pos is None or rot is None:
        raise ValueError(f"no {at.said() if pos is None else by.said()} in this episode")
    if pos[1].shape[1] != 3:
        raise ValueError(f"{at.said()}: a position has 3 values, not {pos[1].shape[1]}")
    track = HandTrack(
        position=Stream(pos[0], pos[1], ("x", "y", "z"), "m", frame),
        rotation=Stream(rot[0], quat_xyzw(rot[1], hand.rotation_unit), ("qx", "qy", "qz", "qw"), "quat_xyzw", frame),
    )
    grip = read(hand.gripper) if hand.gripper is not None else None
    off = off_levels(grip[1], hand) if grip is not None else None
    if hand.gripper is not None and grip is None:
        off = f"no {hand.gripper.said()} in this episode: gripper opening not filled"
    if off is not None and notes is not None:
        notes.append(off)
    if grip is not None and off is None:
        track.gripper = Stream(grip[0], gripper_opening(grip[1], hand), unit="0..1")
    return track


def off_levels(values: np.ndarray, hand: PoseHand) -> str | None:
    """Why the gripper values are not the levels the maker's code writes (`PoseHand.gripper_levels`); None if they
    are, or if the hand declares no levels."""
    if not hand.gripper_levels:
        return None
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    off = ~np.isclose(v[:, None], np.asarray(hand.gripper_levels)[None, :], atol=1e-6).any(axis=1)
    if not off.any():
        return None
    return (
        f"{hand.gripper.said() if hand.gripper else 'gripper'}: {int(off.sum())} of {len(v)} values (e.g. "
        f"{v[off][0]:.4g}) are not the levels {list(hand.gripper_levels)} the maker's code writes for this robot: "
        "gripper not read"
    )


def command_tracking(
    side: str, hand: PoseHand, read: Callable[[Pick], tuple[np.ndarray, np.ndarray] | None], position: Stream
) -> str | None:
    """A note on how far each recorded target position (`hand.command`, x, y, z first) lies from the next recorded
    position, row by row; None when the episode holds no such command."""
    cmd = read(hand.command) if hand.command is not None else None
    if cmd is None or len(cmd[1]) != len(position) or len(cmd[1]) < 2:
        return None
    e = np.linalg.norm(cmd[1][:-1, :3] - position.values.reshape(len(position), 3)[1:], axis=1)
    return (
        f"{side} command_tracking median {np.median(e) * 1000:.1f} mm, p95 {np.percentile(e, 95) * 1000:.1f} mm "
        f"({hand.command.said()}, the recorded target, vs the next recorded position); canonical actions are the "
        "recorded poses' deltas"
    )


def never_moves(values: np.ndarray) -> bool:
    """A side a robot lacks is recorded as zeros throughout (RoboCOIN's one-armed rigs, a disabled arm)."""
    return not np.any(np.nan_to_num(np.asarray(values, dtype=np.float64)))


def image_up(world_from_camera: np.ndarray) -> np.ndarray:
    """The world's up axis as a head camera's image-up (OpenCV -y) averaged over the episode, for a world that declares
    none (a SLAM or reconstruction world: VITRA's, HOI4D's, OakInk2's); an assumption each such source states: the
    wearer's head rolls about level. Frames with a non-finite pose do not count."""
    up = -np.asarray(world_from_camera, np.float64)[:, :3, 1]
    up = up[np.isfinite(up).all(axis=1)].mean(axis=0)
    return up / np.linalg.norm(up)


def se3(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations and (..., 3) translations (broadcast together) -> (..., 4, 4) float64 poses `[R t; 0 1]`:
    the one builder of poses (adapters, the canonical frames in `ingest.frames`, the synthetic writers)."""
    rotation = np.asarray(rotation, dtype=np.float64)
    translation = np.asarray(translation, dtype=np.float64)
    if rotation.shape[-2:] != (3, 3) or translation.shape[-1:] != (3,):
        shapes = f"{rotation.shape} and {translation.shape}"
        raise ValueError(f"se3 takes rotations of shape (..., 3, 3) and translations of shape (..., 3), got {shapes}")
    out = np.zeros((*np.broadcast_shapes(rotation.shape[:-2], translation.shape[:-1]), 4, 4))
    out[..., :3, :3] = rotation
    out[..., :3, 3] = translation
    out[..., 3, 3] = 1.0
    return out


def rotvec_poses(rotvec: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """(T,4,4) rigid poses from (T,3) axis-angle rotations and (T,3) translations (MANO's global orientation and
    translation, an object's axis-angle pose)."""
    return se3(Rotation.from_rotvec(np.asarray(rotvec, np.float64)).as_matrix(), translation)
