"""MANO-21 keypoints of human episodes (and a robot hand's MANO-21-style keypoints) onto their video frames, for the
report's frame strips.

The keypoints (`observation.hand_keypoints`, (T,2,21,3)) are stored in the episode's reference frame, the first camera
pose gravity-aligned (`ingest.canonical.decouple`). Drawing them on frame t needs the camera's pose at t in that frame
and its intrinsics, both read from the dataset, never from raw source files: the trajectory `ref_from_camera` as the
`camera.{x,y,z,rot6d_*}` columns of `observation.state.native` in OpenCV axes (x right, y down, looking along +z),
stored when the source's camera moves; its lens from the camera feature's info, in pixels of the stored video, scaled
to the decoded frames: the lens model (`schemas.canonical.CAMERA_MODEL_KEY`: a fisheye's Kannala-Brandt or FISHEYE624,
projected as that model) or else the pinhole matrix (`schemas.canonical.INTRINSICS_KEY`). When a piece is missing,
or the keypoints are behind the camera, the strip draws them in a side panel instead, saying why. A slot the dataset's
keypoint slot mask marks unfilled becomes NaN (`drawable_keypoints`), so neither it nor a bone touching it is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import TypeAdapter, ValidationError

from ingest.frames import pos_rot6d_to_pose, se3_inverse, transform_points
from schemas import camera_model as lenses
from schemas.canonical import (
    BONES,
    CAMERA_MODEL_KEY,
    HAND_KEYPOINTS,
    INTRINSICS_KEY,
    MANO21_NAMES,
    STATE_NATIVE,
    feature_intrinsics,
    keypoint_slot_mask,
    scale_intrinsics,
)
from schemas.lerobot import InfoJson

_LENS: TypeAdapter[lenses.CameraModel] = TypeAdapter(lenses.CameraModel)

CAMERA_COLUMNS = tuple(f"camera.{c}" for c in ("x", "y", "z", *(f"rot6d_{i}" for i in range(6))))
assert len(MANO21_NAMES) == 21 and len(BONES) == 20  # MANO-21 bones, the geometry QA's (wrist -> each finger)


@dataclass(frozen=True)
class CameraModel:
    """One episode's camera: its lens in the decoded frames' pixels, ref_from_camera (T,4,4) per frame."""

    lens: lenses.CameraModel
    ref_from_camera: np.ndarray
    source: str  # where the lens came from, for the report's caption


def project(
    points_ref: np.ndarray, ref_from_camera: np.ndarray, lens: lenses.CameraModel
) -> tuple[np.ndarray, np.ndarray]:
    """(N,3) points of the reference frame into pixels of an OpenCV-convention camera posed `ref_from_camera`, through
    its lens model. Returns (uv (N,2), in_front (N,) bool); points at or behind the image plane get NaN uv."""
    cam = transform_points(se3_inverse(np.asarray(ref_from_camera, np.float64)), np.asarray(points_ref, np.float64))
    in_front = cam[:, 2] > 1e-6
    uv = lens.project(cam)
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
    return pos_rot6d_to_pose(np.asarray(native, np.float64)[:, [names.index(c) for c in CAMERA_COLUMNS]])


def stored_lens(info: InfoJson, video_key: str, frame_size: tuple[int, int]) -> tuple[lenses.CameraModel | None, str]:
    """The lens of `video_key` from `info.json` (its lens model, else its pinhole matrix), scaled to `frame_size`
    (width, height) of the decoded frames, or (None, why not)."""
    ft = info.features.get(video_key)
    given = (ft.info if ft is not None else None) or {}
    K = feature_intrinsics(given)
    if ft is None or (K is None and CAMERA_MODEL_KEY not in given):
        keys = f"{CAMERA_MODEL_KEY} or {INTRINSICS_KEY}"
        return None, f"the dataset stores no lens for {video_key} (info.json feature info {keys})"
    stored_hw, (w, h) = (int(ft.shape[0]), int(ft.shape[1])), frame_size
    resized = f" ({stored_hw[1]}x{stored_hw[0]} -> {w}x{h})" if stored_hw != (h, w) else ""
    if CAMERA_MODEL_KEY not in given:
        lens = lenses.PinholeCamera.from_matrix(scale_intrinsics(K, stored_hw, (h, w)), (h, w))
        return lens, f"{INTRINSICS_KEY} of {video_key} in info.json{resized}"
    try:
        model = _LENS.validate_python(given[CAMERA_MODEL_KEY])
        model = model.resized((h, w)) if resized else model
    except ValidationError as e:
        return None, f"{CAMERA_MODEL_KEY} of {video_key} in info.json is not a lens model: {e.errors()[0]['msg']}"
    return model, f"{CAMERA_MODEL_KEY} of {video_key} in info.json ({model.model}){resized}"


def camera_model(
    info: InfoJson, video_key: str, native: np.ndarray | None, frame_size: tuple[int, int]
) -> tuple[CameraModel | None, str]:
    """The episode's camera, or (None, the reason a faithful projection is impossible)."""
    trajectory = camera_trajectory(info, native)
    if trajectory is None:
        return None, "no camera trajectory (camera.* native columns) is stored for this dataset"
    lens, why = stored_lens(info, video_key, frame_size)
    if lens is None:
        return None, why
    return CameraModel(lens, trajectory, why), why
