"""MANO-21 keypoints of human episodes (and a robot hand's MANO-21-style keypoints) onto their video frames, for the
report's frame strips.

The keypoints (`observation.hand_keypoints`, (T,2,21,3)) are stored in the episode's reference frame, the first camera
pose gravity-aligned (`ingest.canonical.decouple`). Drawing them on frame t needs the camera's pose at t in that frame
and its intrinsics, both read from the dataset, never from raw source files: the trajectory `ref_from_camera` as the
`camera.{x,y,z,rot6d_*}` columns of `observation.state.native` in OpenCV axes (x right, y down, looking along +z),
stored when the source's camera moves; the intrinsics in the camera feature's info (`schemas.canonical.INTRINSICS_KEY`,
pixels of the stored video), scaled to the decoded frames. When a piece is missing, or the keypoints are behind the
camera, the strip draws them in a side panel instead, saying why. A slot the dataset's keypoint slot mask marks
unfilled becomes NaN (`drawable_keypoints`), so neither it nor a bone touching it is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.frames import pos_rot6d_to_pose, se3_inverse, transform_points
from schemas.canonical import (
    BONES,
    HAND_KEYPOINTS,
    INTRINSICS_KEY,
    MANO21_NAMES,
    STATE_NATIVE,
    feature_intrinsics,
    keypoint_slot_mask,
    scale_intrinsics,
)
from schemas.lerobot import InfoJson

CAMERA_COLUMNS = tuple(f"camera.{c}" for c in ("x", "y", "z", *(f"rot6d_{i}" for i in range(6))))
assert len(MANO21_NAMES) == 21 and len(BONES) == 20  # MANO-21 bones, the geometry QA's (wrist -> each finger)


@dataclass(frozen=True)
class CameraModel:
    """A pinhole camera for one episode: K (3,3) in the decoded frames' pixels, ref_from_camera (T,4,4) per frame."""

    K: np.ndarray
    ref_from_camera: np.ndarray
    source: str  # where K came from, for the report's caption


def project(points_ref: np.ndarray, ref_from_camera: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,3) points of the reference frame into pixels of an OpenCV-convention camera posed `ref_from_camera`.
    Returns (uv (N,2), in_front (N,) bool); points at or behind the image plane get NaN uv."""
    cam = transform_points(se3_inverse(np.asarray(ref_from_camera, np.float64)), np.asarray(points_ref, np.float64))
    z = cam[:, 2]
    in_front = z > 1e-6
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = (cam[:, :2] / z[:, None]) @ np.asarray(K[:2, :2], np.float64).T + np.asarray(K[:2, 2], np.float64)
    uv[~in_front] = np.nan
    return uv, in_front


def drawable_keypoints(info: InfoJson, keypoints: np.ndarray, hand_valid: np.ndarray | None = None) -> np.ndarray:
    """(..., 2, 21, 3) stored keypoints with the slots the dataset declares unfilled set to NaN (the drawing skips NaN
    points and every bone with a NaN end), and each hand's frames `hand_valid` (..., 2) says untracked (stored as 0:
    `schemas.canonical.HAND_VALID`), so no hand is drawn at the origin."""
    ft = info.features.get(HAND_KEYPOINTS)
    slots = keypoint_slot_mask(ft.info if ft is not None else None)
    out = np.array(keypoints, dtype=np.float64)
    if hand_valid is not None:
        out[~np.asarray(hand_valid, dtype=bool)] = np.nan
    if not slots.any():  # nothing declared (a foreign dataset): draw what is there
        return out
    out[..., ~slots, :] = np.nan
    return out


def camera_trajectory(info: InfoJson, native: np.ndarray | None) -> np.ndarray | None:
    """(T,4,4) ref_from_camera from the `camera.*` native columns, or None when the dataset has none."""
    ft = info.features.get(STATE_NATIVE)
    names = (ft.flat_names() or []) if ft is not None else []
    if native is None or not set(CAMERA_COLUMNS) <= set(names):
        return None
    cols = [names.index(c) for c in CAMERA_COLUMNS]
    return pos_rot6d_to_pose(np.asarray(native, np.float64)[:, cols])


def stored_intrinsics(info: InfoJson, video_key: str, frame_size: tuple[int, int]) -> tuple[np.ndarray | None, str]:
    """K of `video_key` from `info.json`, scaled to `frame_size` (width, height) of the decoded frames, or
    (None, why not)."""
    ft = info.features.get(video_key)
    K = feature_intrinsics(ft.info if ft is not None else None)
    if ft is None or K is None:
        return None, f"the dataset stores no intrinsics for {video_key} (info.json feature info {INTRINSICS_KEY})"
    stored_hw = (int(ft.shape[0]), int(ft.shape[1]))
    w, h = frame_size
    where = f"{INTRINSICS_KEY} of {video_key} in info.json"
    if stored_hw != (h, w):
        where += f" ({stored_hw[1]}x{stored_hw[0]} -> {w}x{h})"
    return scale_intrinsics(K, stored_hw, (h, w)), where


def camera_model(
    info: InfoJson, video_key: str, native: np.ndarray | None, frame_size: tuple[int, int]
) -> tuple[CameraModel | None, str]:
    """The episode's camera, or (None, the reason a faithful projection is impossible)."""
    trajectory = camera_trajectory(info, native)
    if trajectory is None:
        return None, "no camera trajectory (camera.* native columns) is stored for this dataset"
    K, why = stored_intrinsics(info, video_key, frame_size)
    if K is None:
        return None, why
    return CameraModel(K, trajectory, why), why
