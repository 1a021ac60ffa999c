"""The camera a moving-camera episode's trajectory poses, as the judging step's hand projection check needs it
(`ingest.qa.geometry`): its lens in pixels of the stored frames, whichever model the source gave (a pinhole matrix,
Kannala-Brandt, FISHEYE624: `schemas.camera_model`), and how much of the raw episode's hand track lies outside its
video. Canonicalization measures this; it never judges it."""

from __future__ import annotations

import numpy as np

from adapters.base import CameraSource, HandSignals, RawEpisode, Stream
from ingest.episode import PosedCamera, ResampledCamera
from schemas.camera_model import CameraModel, PinholeCamera


def posed_camera(
    raw: RawEpisode,
    sig: HandSignals,
    wrists: dict[int, Stream],
    cameras: dict[str, ResampledCamera],
    trajectory: np.ndarray | None,
) -> PosedCamera | None:
    """The posed camera as stored (resized, padded or cropped like its frames) with `trajectory`, its (N, 9) poses
    over the episode's frames; None without a trajectory or a camera with a lens."""
    source = _posed_source(raw, sig)
    if source is None or trajectory is None:
        return None
    stored = next((c for c in cameras.values() if c.source is source), ResampledCamera(source, np.zeros(0, int)))
    lens = stored_lens(stored)
    assert lens is not None  # `_posed_source` picks a camera with a lens
    tracks = [s for hand, h in sig.hands.items() for s in (wrists.get(hand), h.keypoints) if s is not None]
    hand_times = [s.timestamps for s in tracks]
    return PosedCamera(lens, trajectory, hands_past_video(hand_times, source.timestamps))


def stored_lens(camera: ResampledCamera) -> CameraModel | None:
    """The camera's lens in pixels of its stored frames: the source's model, else its pinhole matrix as given."""
    if (lens := camera.camera_model) is not None:
        return lens
    K = camera.intrinsics
    return None if K is None else PinholeCamera.from_matrix(K, camera.shape)


def hands_past_video(hand_times: list[np.ndarray], frame_times: np.ndarray) -> float | None:
    """Fraction of the hand samples (the union of `hand_times`) more than one frame period (the video's median step)
    before its first frame or after its last: hands annotated on frames the video does not have (an annotation of a
    longer video, another frame rate). The episode's span stops at the video's ends, so these samples are the ones it
    leaves out. None without a hand sample or a frame."""
    t = np.unique(np.concatenate(hand_times)) if hand_times else np.zeros(0)
    frames = np.asarray(frame_times, np.float64)
    if not len(t) or not len(frames):
        return None
    slack = (float(np.median(np.diff(frames))) if len(frames) > 1 else 0.0) + 1e-6  # a period, and float noise
    return float(np.mean((t < frames[0] - slack) | (t > frames[-1] + slack)))


def _posed_source(raw: RawEpisode, sig: HandSignals) -> CameraSource | None:
    """The camera whose poses `sig.camera` are (the same stream in `raw.camera_poses`), when it has a lens."""
    for name, poses in raw.camera_poses.items():
        cam = raw.cameras.get(name)
        if poses is sig.camera and cam is not None and (cam.intrinsics is not None or cam.camera_model is not None):
            return cam
    return None
