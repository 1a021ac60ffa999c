"""MANO-21 keypoints of human episodes onto their video frames, for the report's frame strips.

A canonical dataset stores the keypoints (`observation.hand_keypoints`, (T,2,21,3)) in the episode's reference frame:
the first camera pose, gravity-aligned (`ingest.canonical.decouple`). Drawing them on frame t needs where the camera
was at t
in that frame and the camera's intrinsics:
- the camera trajectory `ref_from_camera` is stored when the source's camera moves, as the `camera.{x,y,z,rot6d_*}`
  columns of `observation.state.native` (canonicalize keeps it there);
- intrinsics are NOT stored in the dataset. EgoDex keeps them in its raw HDF5 (`camera/intrinsic`, pixels of its own
  mp4), which the episode's lineage `raw_path` names; the matrix is scaled to the stored video's size by the raw mp4's
  header. EgoDex poses are ARKit's: the camera looks along -z with +y up (OpenGL convention).
When any piece is missing (raw file moved, no camera trajectory, a source without intrinsics, keypoints behind the
camera) the projection is not faithful, and the strip draws the keypoints in a side panel instead, saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import h5py
import numpy as np

from ingest.canonical.frames import pos_rot6d_to_pose, se3_inverse, transform_points
from schemas.canonical import MANO21_NAMES, STATE_NATIVE
from schemas.corpus import EpisodeLineage
from schemas.lerobot import InfoJson

CAMERA_COLUMNS = tuple(f"camera.{c}" for c in ("x", "y", "z", *(f"rot6d_{i}" for i in range(6))))
INTRINSIC_KEY = "camera/intrinsic"  # EgoDex HDF5
OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0])  # x right, y up, looking -z  ->  x right, y down, looking +z
# MANO-21 bones in OpenPose order (schemas.canonical.MANO21_NAMES): wrist -> each finger's 4 joints
BONES: tuple[tuple[int, int], ...] = tuple(
    (0 if j == 0 else 1 + 4 * f + j - 1, 1 + 4 * f + j) for f in range(5) for j in range(4)
)
assert len(MANO21_NAMES) == 21 and len(BONES) == 20


@dataclass(frozen=True)
class CameraModel:
    """A pinhole camera for one episode: K (3,3) in the stored video's pixels, ref_from_camera (T,4,4) per frame."""

    K: np.ndarray
    ref_from_camera: np.ndarray
    source: str  # where K came from, for the report's caption


def project(points_ref: np.ndarray, ref_from_camera: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,3) points of the reference frame into pixels of an OpenGL-convention camera posed `ref_from_camera`.
    Returns (uv (N,2), in_front (N,) bool); points at or behind the image plane get NaN uv."""
    cam = transform_points(se3_inverse(np.asarray(ref_from_camera, np.float64)), np.asarray(points_ref, np.float64))
    cv = cam @ OPENGL_TO_OPENCV.T
    z = cv[:, 2]
    in_front = z > 1e-6
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = (cv[:, :2] / z[:, None]) @ np.asarray(K[:2, :2], np.float64).T + np.asarray(K[:2, 2], np.float64)
    uv[~in_front] = np.nan
    return uv, in_front


def camera_trajectory(info: InfoJson, native: np.ndarray | None) -> np.ndarray | None:
    """(T,4,4) ref_from_camera from the `camera.*` native columns, or None when the dataset has none."""
    ft = info.features.get(STATE_NATIVE)
    names = (ft.flat_names() or []) if ft is not None else []
    if native is None or not set(CAMERA_COLUMNS) <= set(names):
        return None
    cols = [names.index(c) for c in CAMERA_COLUMNS]
    return pos_rot6d_to_pose(np.asarray(native, np.float64)[:, cols])


def _video_size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as c:
        cc = c.streams.video[0].codec_context
        return cc.width, cc.height


def raw_intrinsics(lineage: EpisodeLineage, video_size: tuple[int, int]) -> tuple[np.ndarray | None, str]:
    """K scaled to `video_size` (width, height) from the episode's raw EgoDex HDF5, or (None, why not)."""
    raw = Path(lineage.raw_path or "")
    if raw.suffix != ".hdf5":
        return None, "intrinsics are not stored in the dataset and this source's raw files carry none"
    if not raw.is_file():
        return None, f"intrinsics live in the raw file, which is not reachable here ({raw.name})"
    try:
        with h5py.File(raw, "r") as f:
            if INTRINSIC_KEY not in f:
                return None, f"the raw file has no {INTRINSIC_KEY}"
            K = np.asarray(f[INTRINSIC_KEY][()], np.float64)
    except OSError as err:
        return None, f"the raw file cannot be read ({err})"
    mp4 = raw.with_suffix(".mp4")
    if not mp4.is_file():
        return None, "the raw mp4 (whose pixels the intrinsics are in) is not reachable"
    try:
        raw_w, raw_h = _video_size(mp4)
    except (OSError, av.FFmpegError, IndexError) as err:
        return None, f"the raw mp4 cannot be probed ({err})"
    scale = np.diag([video_size[0] / raw_w, video_size[1] / raw_h, 1.0])
    return scale @ K, f"{INTRINSIC_KEY} of {raw.name} ({raw_w}x{raw_h} -> {video_size[0]}x{video_size[1]})"


def camera_model(
    info: InfoJson, lineage: EpisodeLineage, native: np.ndarray | None, video_size: tuple[int, int]
) -> tuple[CameraModel | None, str]:
    """The episode's camera, or (None, the reason a faithful projection is impossible)."""
    trajectory = camera_trajectory(info, native)
    if trajectory is None:
        return None, "no camera trajectory (camera.* native columns) is stored for this dataset"
    K, why = raw_intrinsics(lineage, video_size)
    if K is None:
        return None, why
    return CameraModel(K, trajectory, why), why
