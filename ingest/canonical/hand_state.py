"""The canonical 25 dims of each hand on the grid (wrist position and 6D rotation, gripper, fingertips in the wrist
frame) with its keypoints, from the signals an adapter declared in `HandSignals`; the action as their deltas.

Validity is per hand and frame: a hand the source has untracked at a frame (NaN there: HoloAssist's psi sentinel,
VITRA outside `kept_frames`) is NaN on the grid and invalid there (`hand_block`'s validity), while the other hand keeps
its values; the episode writes that hand's dims as 0 with `schemas.canonical.HAND_VALID` False (`untracked_zero`)."""

from __future__ import annotations

import numpy as np

from adapters.base import HandSignals, HandTrack, Stream
from adapters.poses import se3
from ingest.canonical import resample as rs
from ingest.canonical.hands import fingertips_in_wrist, wrist_frames_from_keypoints
from ingest.frames import (
    apply_eef_offset,
    compose,
    pose_deltas,
    pose_from_pos_euler,
    pose_from_pos_quat,
    pose_to_pos_rot6d,
    se3_inverse,
    transform_points,
)
from schemas.canonical import FINGERTIPS_XYZ, GRIPPER, HANDS, NUM_KEYPOINTS, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.transform import RigidTransform


def _flat(s: Stream) -> np.ndarray:
    return s.values.reshape(len(s), -1).astype(np.float64)


def position_only(track: HandTrack) -> bool:
    """A wrist position with no orientation (`HandTrack`): its position is the canonical wrist's, no rotation."""
    return track.position is not None and track.rotation is None


def wrist_poses(track: HandTrack) -> Stream | None:
    """The declared wrist as (T,4,4) poses on the position stream's clock (None: the track has no wrist). A
    position-only wrist has the identity for rotation: it moves its position with the frame, and `hand_block` never
    marks its rotation dims available (they stay out of the mask, written 0)."""
    if not track.has_wrist:
        return None
    if position_only(track):
        assert track.position is not None
        poses = se3(np.eye(3), _flat(track.position))
        return Stream(track.position.timestamps, poses, unit="se3_4x4", frame=track.position.frame)
    rot = track.rotation
    assert rot is not None
    if rot.unit == "se3_4x4":
        return rot
    assert track.position is not None
    pos = _flat(track.position)
    if rot.unit == "quat_xyzw":
        poses = pose_from_pos_quat(pos, _flat(rot))
    else:  # euler_xyz: roll, pitch, yaw about fixed axes
        poses = pose_from_pos_euler(pos, _flat(rot), seq="xyz")
    return Stream(track.position.timestamps, poses, unit="se3_4x4", frame=track.position.frame)


def hand_streams(sig: HandSignals, wrists: dict[int, Stream]) -> dict[int, list[Stream]]:
    """Per hand, the streams its state is built from (wrist, gripper, keypoints); none for a given canonical state."""
    if sig.canonical:
        return {}
    return {
        hand: [s for s in (wrists.get(hand), h.gripper, h.gripper_command, h.keypoints) if s is not None]
        for hand, h in sig.hands.items()
    }


# A hand's own window on the source's clock: the common span of its streams and their gaps over `max_gap_s`.
HandWindow = tuple[float, float, list[tuple[float, float]]]


def hand_windows(sig: HandSignals, wrists: dict[int, Stream], max_gap_s: float) -> dict[int, HandWindow]:
    """Each declared hand's window: where it has samples (HOT3D annotates a hand only on the lines it was seen)."""
    out: dict[int, HandWindow] = {}
    for hand, streams in hand_streams(sig, wrists).items():
        if streams:
            ts = [s.timestamps for s in streams]
            out[hand] = (*rs.common_span(ts), sorted({g for t in ts for g in rs.find_gaps(t, max_gap_s)}))
    return out


def tracking_said(sig: HandSignals, wrists: dict[int, Stream], recording: list[np.ndarray]) -> str:
    """Where each declared hand is tracked against the whole recording (`recording`: its other streams' times), for a
    span rejected as too short: a hand seen in a few rows makes a short episode of a long recording (issue 79: Aria
    said "episode too short: 5 frames" for 12 s of video, its right hand tracked in 6 of 122 rows, the left never)."""
    ends = [(float(t[0]), float(t[-1])) for t in recording if len(t)]
    said = []
    for hand, streams in sorted(hand_streams(sig, wrists).items()):
        n = max((len(s) for s in streams), default=0)
        if n == 0:
            said.append(f"{HANDS[hand]} hand never tracked")
            continue
        a, b = rs.common_span([s.timestamps for s in streams if len(s)])
        said.append(f"{HANDS[hand]} hand tracked in {n} samples over [{a:.2f}, {b:.2f}] s")
    whole = f" of a recording of [{min(e[0] for e in ends):.2f}, {max(e[1] for e in ends):.2f}] s" if ends else ""
    return f"the episode is where the hands are tracked: {', '.join(said)}{whole} (the source's hand tracking is short)"


def uncovered(windows: dict[int, HandWindow], start: float, end: float) -> list[tuple[float, float]]:
    """The intervals of [start, end] that no hand covers: outside every hand's window or inside its gaps."""
    common: list[tuple[float, float]] | None = None
    for a, b, gaps in windows.values():
        out = ([(start, a)] if a > start else []) + list(gaps) + ([(b, end)] if b < end else [])
        if common is not None:
            out = [(max(x, u), min(y, v)) for x, y in common for u, v in out if max(x, u) < min(y, v)]
        common = out
    return sorted(common or [])


def in_window(window: HandWindow, grid_abs: np.ndarray, tolerance_s: float = 1e-6) -> np.ndarray:
    """(N,) bool: grid times inside the hand's window and outside its gaps (the hand has samples around them)."""
    a, b, gaps = window
    return (grid_abs >= a - tolerance_s) & (grid_abs <= b + tolerance_s) & ~rs.gap_mask(grid_abs, gaps)


def streams_used(sig: HandSignals, wrists: dict[int, Stream]) -> list[Stream]:
    """The streams that set the canonical span, its gaps and which grid frames are interpolated."""
    if sig.canonical:
        return [s for s in sig.canonical if s is not None]
    out = [s for streams in hand_streams(sig, wrists).values() for s in streams]
    return out + ([sig.camera] if sig.camera is not None else [])


def hand_block(
    sig: HandSignals,
    wrists: dict[int, Stream],
    hand: int,
    grid_abs: np.ndarray,
    offset: RigidTransform,
    ref: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Canonical state dims of one hand (N,25), their availability mask (25,), keypoints (N,21,3), poses, and the
    frames where the hand is tracked (N,) bool: its available dims, keypoints and pose finite there (a hand without
    one available dim is tracked nowhere)."""
    n = len(grid_abs)
    out = np.zeros((n, 25))
    avail = np.zeros(25, dtype=bool)
    kp = np.zeros((n, NUM_KEYPOINTS, 3))
    track = sig.hands.get(hand)
    if track is None:
        return out, avail, kp, None, np.zeros(n, dtype=bool)
    poses = None
    wrist = wrists.get(hand)
    if wrist is not None:
        poses = rs.resample_poses(wrist.timestamps, wrist.values.astype(np.float64), grid_abs)
        if sig.apply_offset and position_only(track) and any(offset.translation):
            msg = f"hand {hand}: a position-only wrist cannot take an EEF offset's translation (it needs the rotation)"
            raise ValueError(msg)
        if sig.apply_offset:
            poses = apply_eef_offset(poses, offset)
    robot_kp = track.keypoints is not None and track.keypoints.frame == "wrist"  # a robot hand's, by FK
    kp_values = None if track.keypoints is None or robot_kp else track.keypoints.values.astype(np.float64)
    if kp_values is not None and not np.any(np.nan_to_num(kp_values)):
        kp_values = None  # a hand that was never tracked (all zero / NaN) is absent, not invalid
    if kp_values is not None:
        kp = rs.resample_linear(track.keypoints.timestamps, kp_values, grid_abs)
        if poses is None:
            poses = wrist_frames_from_keypoints(kp, "left" if hand == 0 else "right")
    if robot_kp and poses is not None:  # wrist-frame points resampled like the fingertips, then posed on the grid
        kp = robot_keypoints(track.keypoints, poses, grid_abs)  # type: ignore[arg-type]
    if ref is not None:  # express in the decoupled reference frame (world_from_ref given)
        ref_inv = se3_inverse(ref)
        if poses is not None:
            poses = compose(ref_inv, poses)
        if kp_values is not None or robot_kp:  # no keypoints (a wrist-only hand): 0, never the frame's origin
            kp = transform_points(ref_inv, kp)
    if poses is not None:
        p9 = pose_to_pos_rot6d(poses)
        out[:, WRIST_POS], out[:, WRIST_ROT6D] = p9[:, :3], p9[:, 3:]
        avail[WRIST_POS] = True
        avail[WRIST_ROT6D] = not position_only(track)
    if track.gripper is not None:
        g = rs.resample_hold(track.gripper.timestamps, track.gripper.values.reshape(-1), grid_abs)
        out[:, GRIPPER.start] = g
        avail[GRIPPER] = True
    elif track.gripper_command is not None:
        out[:, GRIPPER.start] = last_command(track.gripper_command, grid_abs)
        avail[GRIPPER] = True
    if kp_values is not None and poses is not None:
        out[:, FINGERTIPS_XYZ] = fingertips_in_wrist(kp, poses)
        avail[FINGERTIPS_XYZ] = True
    elif track.fingertips is not None:  # a robot hand's tips, already in the wrist frame; absent fingers are NaN
        tips = track.fingertips.values.reshape(len(track.fingertips), -1).astype(np.float64)
        present = np.repeat(np.isfinite(tips).reshape(len(tips), 5, 3).all(axis=(0, 2)), 3)
        out[:, FINGERTIPS_XYZ] = rs.resample_linear(track.fingertips.timestamps, np.where(present, tips, 0.0), grid_abs)
        avail[FINGERTIPS_XYZ] = present
    tracked = np.isfinite(out[:, avail]).all(axis=1) & np.isfinite(kp).all(axis=(1, 2)) & avail.any()
    if poses is not None:
        tracked &= np.isfinite(poses).all(axis=(1, 2))
    return out, avail, kp, poses, tracked


def robot_keypoints(keypoints: Stream, poses: np.ndarray, grid_abs: np.ndarray) -> np.ndarray:
    """A robot hand's (T, 21, 3) wrist-frame keypoints (NaN where the hand has no link) -> (N, 21, 3) in the frame of
    the wrist `poses`, where human keypoints are stored; a slot the hand lacks holds 0 (the feature's slot mask says
    which). Resampled in the wrist frame exactly as `hand_block` resamples the fingertips, so a tip slot is the
    state's fingertip moved by the state's wrist pose."""
    v = keypoints.values.reshape(len(keypoints), -1).astype(np.float64)
    present = np.isfinite(v).all(axis=0)
    kp = rs.resample_linear(keypoints.timestamps, np.where(present, v, 0.0), grid_abs).reshape(len(grid_abs), -1, 3)
    out = transform_points(poses[:, None], kp)
    out[:, ~present.reshape(-1, 3).all(axis=1)] = 0.0
    return out


def action_from_state(state: np.ndarray, poses: dict[int, np.ndarray], tracked: np.ndarray | None = None) -> np.ndarray:
    """Deltas recomputed on the grid: wrist delta (in the canonical frame), gripper and fingertips at t+1.

    With `tracked` (N,2), a hand's action at its last tracked frame before it goes untracked is that of an episode's
    last frame (no motion, gripper and fingertips held), as no next pose of it was measured."""
    n = len(state)
    action = np.zeros_like(state)
    for hand in (0, 1):
        nxt = np.minimum(np.arange(n) + 1, n - 1)
        if tracked is not None:
            nxt = np.where(tracked[nxt, hand], nxt, np.arange(n))
        if (p := poses.get(hand)) is not None:
            action[:, hand_dims(hand, slice(WRIST_POS.start, WRIST_ROT6D.stop))] = pose_deltas(p, nxt)
        action[:, hand_dims(hand, GRIPPER)] = state[nxt, hand_dims(hand, GRIPPER)]
        action[:, hand_dims(hand, FINGERTIPS_XYZ)] = state[nxt, hand_dims(hand, FINGERTIPS_XYZ)]
    return action


def last_command(command: Stream, grid_abs: np.ndarray) -> np.ndarray:
    """(N,) the opening last commanded strictly before each grid time (the first command at or before the first
    sample): the state of a gripper the source records only as its command. With `commanded_grippers` the action at
    frame k is the command at k, and the state at k+1 is that same command at the source's own rate."""
    t, v = command.timestamps, command.values.reshape(-1).astype(np.float64)
    before = np.searchsorted(t, np.asarray(grid_abs) - 1e-6, side="left") - 1  # a sample at the grid time is not before
    return v[np.clip(before, 0, len(v) - 1)]


def commanded_grippers(action: np.ndarray, sig: HandSignals, grid_abs: np.ndarray) -> np.ndarray:
    """`action` with each hand's gripper the opening its action commands at each grid time (held: the command at or
    before it), where the source records the command and no measured opening (`HandTrack.gripper_command`)."""
    out = np.array(action, copy=True)
    for hand, track in sig.hands.items():
        if track.gripper is None and (c := track.gripper_command) is not None:
            out[:, hand_dims(hand, GRIPPER).start] = rs.resample_hold(c.timestamps, c.values.reshape(-1), grid_abs)
    return out


def untracked_zero(values: np.ndarray, tracked: np.ndarray) -> np.ndarray:
    """(N,50) state or action, or (N,2,21,3) keypoints, with each hand's untracked frames (`tracked` (N,2) False) set
    to 0, as written (`schemas.canonical.HAND_VALID`)."""
    out = np.array(values, copy=True)
    for hand in (0, 1):
        rows = ~tracked[:, hand]
        if out.ndim == 2:
            out[rows, hand_dims(hand, slice(0, 25))] = 0.0
        else:
            out[rows, hand] = 0.0
    return out


def untracked_held(state: np.ndarray, tracked: np.ndarray) -> np.ndarray:
    """(N,50) state with each hand's untracked frames holding its last tracked values (its first before any): what
    the motion measures (idle, quality, behaviour) see, so a hand leaving the view is no jump to the origin. Never
    written: the written state holds 0 there (`untracked_zero`)."""
    out = np.array(state, copy=True)
    idx = np.arange(len(out))
    for hand in (0, 1):
        ok = tracked[:, hand]
        if ok.all() or not ok.any():
            continue
        last = np.maximum.accumulate(np.where(ok, idx, -1))
        last[last < 0] = np.flatnonzero(ok)[0]
        cols = hand_dims(hand, slice(0, 25))
        out[:, cols] = out[last, cols]
    return out
