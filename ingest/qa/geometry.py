"""Geometry QA of one canonical episode: physical invariants measured on the arrays canonicalize just built.

Each invariant is a pure function of arrays; `measure` runs them all. Inputs follow the canonical layout
(`schemas.canonical`): state and action (N, 50) with the embodiment mask, keypoints (N, 2, 21, 3) MANO-21 in metres,
positions in a frame with z up and y left. The hands in view of the camera, through its own lens model, are
`ingest.qa.projection`'s (its docstring has the figures).
"""

from __future__ import annotations

import numpy as np

from ingest.frames import rot6d_to_matrix
from ingest.qa.projection import CameraView, view_fractions
from schemas.canonical import (
    BONES,
    CANONICAL_FPS,
    GRIPPER,
    MANO21_NAMES,
    WRIST_POS,
    WRIST_ROT6D,
    bone_lengths,
    hand_dims,
    present_hands,
)
from schemas.canonicalize import KinematicLimits
from schemas.qa import APPROACH_BIN_DEG, APPROACH_BINS, QAConfig, QARecord

MIDDLE_CHAIN = tuple(range(4 * 2, 4 * 3))  # the middle finger's bones: wrist -> middle1 -> ... -> middle_tip
assert MANO21_NAMES[BONES[MIDDLE_CHAIN[-1]][1]] == "middle_tip" and BONES[MIDDLE_CHAIN[0]][0] == 0


def approach_stats(axes: np.ndarray, top_down_max_deg: float) -> tuple[float, float, float, list[int]] | None:
    """(down, side, up fractions, histogram of the angle from straight down in `APPROACH_BIN_DEG` bins) of (N, 3)
    approach axes in a z-up frame; None without a finite axis."""
    axes = axes[np.isfinite(axes).all(axis=1)]
    if not len(axes):
        return None
    angle = np.degrees(np.arccos(np.clip(-axes[:, 2], -1.0, 1.0)))  # 0 = straight down
    hist = np.bincount(np.minimum((angle // APPROACH_BIN_DEG).astype(int), APPROACH_BINS - 1), minlength=APPROACH_BINS)
    down = float(np.mean(angle <= top_down_max_deg))
    up = float(np.mean(angle >= 180.0 - top_down_max_deg))
    return down, 1.0 - down - up, up, hist.tolist()


def speeds_and_accelerations(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Finite-difference speeds (N-1,) and accelerations (N-2,) of an (N, 3) track on a uniform grid; steps that
    touch a non-finite position are dropped."""
    vel = np.diff(positions.astype(np.float64), axis=0) * CANONICAL_FPS
    acc = np.diff(vel, axis=0) * CANONICAL_FPS
    speed, accel = np.linalg.norm(vel, axis=1), np.linalg.norm(acc, axis=1)
    return speed[np.isfinite(speed)], accel[np.isfinite(accel)]


def hand_size(keypoints: np.ndarray, tracked: np.ndarray) -> tuple[float, float] | None:
    """(median wrist -> middle fingertip chain length, median over bones of length std / mean) of (N, 2, 21, 3)
    keypoints over the (N, 2) tracked hand-frames; None when no hand is tracked. The chain sums its bones, so finger
    flexion does not shorten it."""
    if not tracked.any():
        return None
    cvs, chains = [], []
    for h in range(keypoints.shape[1]):
        kp = keypoints[tracked[:, h], h].astype(np.float64)
        if not len(kp):
            continue
        bones = bone_lengths(kp)
        chains.append(bones[:, list(MIDDLE_CHAIN)].sum(axis=1))
        mean = bones.mean(axis=0)
        cvs.append(np.where(mean > 0, bones.std(axis=0) / np.where(mean > 0, mean, 1.0), np.inf))
    return float(np.median(np.concatenate(chains))), float(np.median(np.concatenate(cvs)))


def robot_bone_cv(keypoints: np.ndarray, tracked: np.ndarray, slots: np.ndarray) -> float | None:
    """Median over a robot hand's bones (both ends real slots) of length std / mean over the tracked frames; None
    when no such bone is tracked."""
    cvs = []
    for h in range(keypoints.shape[1]):
        bones = [k for k, (a, b) in enumerate(BONES) if slots[h, a] and slots[h, b]]
        kp = keypoints[tracked[:, h], h].astype(np.float64)
        if not bones or not len(kp):
            continue
        lengths = bone_lengths(kp)[:, bones]
        mean = lengths.mean(axis=0)
        cvs.append(np.where(mean > 0, lengths.std(axis=0) / np.where(mean > 0, mean, 1.0), np.inf))
    return float(np.median(np.concatenate(cvs))) if cvs else None


def action_errors(state: np.ndarray, action: np.ndarray, hands: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per step and hand, the position error (m) and rotation angle (deg) between the wrist of state t with the delta
    action t applied and the wrist of state t+1. The delta is applied as `frames.apply_delta` inverts
    `frames.pose_deltas`: position + dp in the canonical frame, R_t @ dR in the wrist frame. Steps with a non-finite
    or degenerate pose are dropped."""
    pos = np.stack([state[:, hand_dims(h, WRIST_POS)] for h in hands], axis=1).astype(np.float64)  # (N, H, 3)
    rows = np.stack([state[:, hand_dims(h, WRIST_ROT6D)] for h in hands], axis=1)
    R = rot6d_to_matrix(rows, bad_as_nan=True)  # (N, H, 3, 3)
    dp = np.stack([action[:-1, hand_dims(h, WRIST_POS)] for h in hands], axis=1).astype(np.float64)
    dR = rot6d_to_matrix(np.stack([action[:-1, hand_dims(h, WRIST_ROT6D)] for h in hands], axis=1), bad_as_nan=True)
    pos_err = np.linalg.norm(pos[:-1] + dp - pos[1:], axis=-1).ravel()
    # angle of pred^T @ actual from its trace, sum(pred * actual) over both matrix axes
    cos = (np.sum((R[:-1] @ dR) * R[1:], axis=(-2, -1)).ravel() - 1.0) / 2.0
    ok = np.isfinite(pos_err) & np.isfinite(cos)
    return pos_err[ok], np.degrees(np.arccos(np.clip(cos[ok], -1.0, 1.0)))


def left_of_right(state: np.ndarray) -> float | None:
    """Fraction of frames whose left wrist lies to the left (+y) of the right wrist; None without a finite pair."""
    dy = state[:, hand_dims(0, WRIST_POS)][:, 1] - state[:, hand_dims(1, WRIST_POS)][:, 1]
    dy = dy[np.isfinite(dy)]
    return float(np.mean(dy > 0)) if len(dy) else None


def _percentiles(x: np.ndarray, qs: tuple[int, ...]) -> list[float]:
    return [float(v) for v in np.percentile(x, qs)]


def measure(
    state: np.ndarray,
    action: np.ndarray,
    keypoints: np.ndarray,
    mask: np.ndarray,
    *,
    limits: KinematicLimits,
    config: QAConfig,
    camera: CameraView | None = None,
    keypoint_slots: np.ndarray | None = None,
    hand_valid: np.ndarray | None = None,
) -> QARecord:
    """Every invariant of one canonical episode (arrays as `CanonicalEpisode` holds them). Costs one pass over arrays
    already in memory: no I/O, no per-frame Python loop.

    `keypoint_slots` (2, 21) bool marks a robot hand's keypoints (`Embodiment.keypoint_slots`; None: human hands,
    every slot real). A robot hand is not held to the human hand-length band (`hand_length` stays None: its size is
    the maker's, not ours to judge), and its bone rigidity is measured over the bones whose two ends are real slots:
    forward kinematics makes a bone between a link and its parent's origin exactly rigid, so a non-zero CV there is a
    wrong link table or a broken FK.

    `hand_valid` (N, 2) bool: where each hand is tracked (`CanonicalEpisode.hand_valid`); a hand's other frames are
    left out of every measure, so a hand leaving the view is no jump, no held pose counted twice."""
    n = len(state)
    if hand_valid is not None:
        state = np.array(state, dtype=np.float64)
        for h in range(2):
            state[~hand_valid[:, h], hand_dims(h, slice(0, 25))] = np.nan
    out: dict[str, object] = {"frames": n}
    hands = present_hands(mask)
    rot_hands = [h for h in hands if mask[hand_dims(h, WRIST_ROT6D)].all()]

    kp = np.asarray(keypoints)
    tracked = np.isfinite(kp).all(axis=(2, 3)) & (np.abs(np.nan_to_num(kp)).sum(axis=(2, 3)) > 0)  # (N, 2)
    if camera is not None and tracked.any():
        pts = camera.points_in_camera(kp.astype(np.float64)).reshape(n, -1, 3)
        valid = np.repeat(tracked, kp.shape[2], axis=1) & np.isfinite(pts).all(axis=2)  # no camera pose: skipped
        front, image = view_fractions(pts, valid, camera.lens, config.min_depth_m)
        out.update(hands_in_front=front, hands_in_image=image)
        # the reference frame is the wearer's at t0 (gravity-aligned: x heading, z up), origin at the eyes
        wrists = kp[:, :, 0][tracked]
        out.update(hands_ahead=float(np.mean(wrists[:, 0] > 0)), hands_below_eyes=float(np.mean(wrists[:, 2] < 0)))

    if camera is not None:
        out["hands_past_video"] = camera.hands_past_video

    if rot_hands:
        # approach axes: the wrist frame's z column (NaN for a non-finite or degenerate rotation)
        rows = np.concatenate([state[:, hand_dims(h, WRIST_ROT6D)] for h in rot_hands])
        axes = rot6d_to_matrix(rows, bad_as_nan=True)[..., 2]
        stats = approach_stats(axes, config.top_down_max_deg)
        if stats is not None:
            out.update(zip(("approach_down", "approach_side", "approach_up", "approach_hist"), stats, strict=True))

    if hands and n >= 3:
        tracks = [speeds_and_accelerations(state[:, hand_dims(h, WRIST_POS)]) for h in hands]
        speed, acc = np.concatenate([s for s, _ in tracks]), np.concatenate([a for _, a in tracks])
        if len(acc):
            out.update(zip(("speed_p50", "speed_p95", "speed_p99"), _percentiles(speed, (50, 95, 99)), strict=True))
            out.update(zip(("acc_p50", "acc_p95", "acc_p99"), _percentiles(acc, (50, 95, 99)), strict=True))
            out.update(speed_limit=limits.max_wrist_speed_m_s, acc_limit=limits.max_wrist_acc_m_s2)

    if keypoint_slots is None:
        size = hand_size(kp, tracked)
        if size is not None:
            out.update(hand_length=size[0], bone_length_cv=size[1])
    else:
        out["bone_length_cv"] = robot_bone_cv(kp, tracked, np.asarray(keypoint_slots, dtype=bool))

    grip_hands = [h for h in range(2) if mask[hand_dims(h, GRIPPER)].all()]
    if grip_hands:
        g = state[:, [hand_dims(h, GRIPPER).start for h in grip_hands]].astype(np.float64).ravel()
        g = g[np.isfinite(g)]
        if len(g):
            lo, p5, p95, hi = _percentiles(g, (0, 5, 95, 100))
            out.update(gripper_min=lo, gripper_p5=p5, gripper_p95=p95, gripper_max=hi)

    if rot_hands and n >= 2:
        pos_err, rot_err = action_errors(state, action, rot_hands)
        if len(pos_err):
            out.update(action_pos_err=_percentiles(pos_err, (95,))[0], action_rot_err=_percentiles(rot_err, (95,))[0])

    if hands == [0, 1]:
        out["left_of_right"] = left_of_right(state)
    return QARecord(**{k: v for k, v in out.items() if v is not None})
