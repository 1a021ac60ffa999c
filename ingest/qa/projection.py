"""The hand projection check: each episode's hand keypoints projected into its frames through the camera's own lens
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

Figures (tests/ingest/qa/test_projection.py): false positives on real data, none: the real VITRA Ego4D episode (its
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
