"""Geometry QA of one canonical episode: physical invariants measured on the arrays canonicalize just built.

Each invariant is a pure function of arrays; `measure` runs them all. Inputs follow the canonical layout
(`schemas.canonical`): state and action (N, 50) with the embodiment mask, keypoints (N, 2, 21, 3) MANO-21 in metres,
positions in a frame with z up and y left. The hands in view of the camera, through its own lens model, are the
projection check's (below, with its figures).

The hand projection check: each episode's hand keypoints projected into its frames through the camera's own lens
model, and how much of its hand track lies outside its video.

The lens is the typed model the source gave (`schemas.camera_model`: a pinhole, Kannala-Brandt, FISHEYE624), in
pixels of the stored frames; `CameraView.project` calls that model's `project`, so no source and no lens needs a
branch here. Camera convention: OpenCV axes (x right, y down, +z the viewing direction), the one canonicalization
stores a moving camera's trajectory in (`ingest.canonical.decouple.as_opencv`); pixel centres at integer coordinates.

Measured per episode (`ingest.qa.geometry.measure` -> `schemas.qa.QARecord`): `hands_in_front`, `hands_in_image`
(frames with a tracked hand whose keypoints mostly lie in front of the camera / project inside the picture) and
`hands_past_video` (the raw episode's hand samples more than a frame period outside the video:
`ingest.canonical.posed.hands_past_video`). Two of them also judge each episode (`ingest.qa.bounds.toml`, `tier`): hands
in the image in fewer than `min_in_image_fraction` (0.5) of its hand frames, or any hand sample past the video
(`max_past_video_fraction` 0), lower it to low, the reason naming the value and the bound.

Figures (tests/ingest/qa/test_geometry.py): false positives on real data, none: the real VITRA Ego4D episode (its
pinhole K for 1440x1080 scaled to the 480x368 mp4) has its right hand in front of the camera and in the picture in 9
of 9 frames, no hand sample past the video; the real HOT3D sequences (awaited sample hot3d_data_sample: UmeTrack
hands, no video), Aria P0003_c701bd11 through its camera-rgb FISHEYE624 calibration (15 values, 1408 px) and Quest 3
P0002_273c2819 through camera-slam-left's (16 values, 1280x1024), have both hands in the picture in 68 of 68 and 30
of 30 frames, every frame's projected keypoints inside the maker's own 2D hand box of that frame (box2d_hands.csv;
IoU 0.6 at least, the maker's box being the hand mesh's); the HOT3D Aria fixture with its video: not flagged. Recall
on planted defects, each flagged (in the image 0.0 or past the video > 0): VITRA's hands shifted 1 m sideways (0.0),
VITRA's 1440x1080 intrinsics left unscaled on its 480x368 mp4 (0.0), the mp4 cut to 18 of its 25 frames (6 of 25
hand samples past the video: 0.24), HOT3D's 1408 px sensor calibration on the fixture's 352 px stream (0.0), a hand
60 degrees off axis seen through a Kannala-Brandt or FISHEYE624 lens read as a pinhole of the same matrix (0.0).
Missed, said: a wrong distortion coefficient that keeps the hands in the picture. On the real HOT3D sequence k0 of
the wrong sign moves the hands 45 px out of the maker's boxes (IoU 0.05) and the pinhole reading 56 px, both still
inside the 1408 px picture; near the axis (the fixture's hands, 12-21 degrees off it) k0 flipped moves them 2.8 px
in the median. The lens tests (tests/schemas/test_camera_model.py) hold each model to its maker's code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adapters.poses import se3
from ingest.frames import rot6d_to_matrix, se3_inverse
from schemas.camera_model import CameraModel
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


@dataclass(frozen=True)
class CameraView:
    """The camera that filmed the hands: its lens (pixels of the stored frames), its pose per frame in the keypoints'
    frame, and the fraction of the raw episode's hand samples outside its video (None: not measured)."""

    lens: CameraModel
    ref_from_camera: np.ndarray  # (N,4,4) in OpenCV axes
    hands_past_video: float | None = None

    @classmethod
    def from_trajectory(
        cls, lens: CameraModel, trajectory: np.ndarray, hands_past_video: float | None = None
    ) -> CameraView:
        """From a stored (N, 9) camera trajectory (position + 6D rotation, OpenCV axes) and the camera's lens."""
        traj = np.asarray(trajectory, np.float64)
        # a degenerate rotation is a NaN pose: that frame is skipped
        poses = se3(rot6d_to_matrix(traj[:, 3:], bad_as_nan=True), traj[:, :3])
        return cls(lens, poses, hands_past_video)

    def points_in_camera(self, points_ref: np.ndarray) -> np.ndarray:
        """(N, ..., 3) points of the reference frame -> the same points in the OpenCV camera frame of each frame."""
        cam_from_ref = se3_inverse(self.ref_from_camera)
        pts = np.asarray(points_ref, np.float64).reshape(len(cam_from_ref), -1, 3)
        cam = pts @ np.swapaxes(cam_from_ref[:, :3, :3], 1, 2) + cam_from_ref[:, None, :3, 3]  # batched, no einsum
        return cam.reshape(np.shape(points_ref))


def view_fractions(
    points_cam: np.ndarray, valid: np.ndarray, lens: CameraModel, min_depth: float = 0.01
) -> tuple[float | None, float | None]:
    """(fraction of frames whose valid points are mostly in front of the camera, fraction whose valid points mostly
    project inside the image through `lens`) for (N, P, 3) OpenCV camera-frame points; frames without a valid point do
    not count. None when no frame has one."""
    counted = valid.any(axis=1)
    if not counted.any():
        return None, None
    front = valid & (points_cam[..., 2] > min_depth)
    uv = lens.project(points_cam)
    u, v = uv[..., 0], uv[..., 1]
    with np.errstate(invalid="ignore"):
        inside = front & (u >= -0.5) & (u < lens.width - 0.5) & (v >= -0.5) & (v < lens.height - 0.5)
    n_valid = valid.sum(axis=1)[counted]
    in_front = 2 * front.sum(axis=1)[counted] > n_valid
    in_image = 2 * inside.sum(axis=1)[counted] > n_valid
    return float(in_front.mean()), float(in_image.mean())


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
