"""The RGB recording of a synthetic HOT3D Aria sequence (`recording.vrs`, `synthetic/aria_recording.py`), consistent
with its ground truth:

- Clocks: the ground truth is in TIME_CODE (the real sample's ~56752 s), the VRS records in the device clock (the
  sample's MPS clock, ~113585 s), running 20 ppm fast against the time code; the time-code stream pairs the two every
  100 ms from 1 s before the first frame to 1 s after the last. RGB frame k (30 Hz) has the TIME_CODE of ground-truth
  frame k; the recording starts `LEAD` frames before the ground truth and ends `LEAD` frames after it.
- Pixels (`frame_image`): the sensor's orientation (no rotation), `SIDE` x `SIDE` (the 1408 px RGB sensor binned by 4,
  its MPS calibration scaled as projectaria_tools' `FisheyeRadTanThinPrism::scaleParams` does: f x s, c -> s (c + 0.5)
  - 0.5); the wrists projected through the Aria RGB fisheye model (`schemas.camera_model.Fisheye624Camera`:
  projectaria_tools' `FisheyeRadTanThinPrism`, one focal length).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from adapters.synthetic.aria_recording import write_aria_rgb
from schemas.camera_model import Fisheye624Camera

SENSOR, SIDE = 1408, 352
LEAD = 5
DEVICE_T0_NS = 113_585_202_412_000  # the sample's online_calibration tracking_timestamp_us, in ns
DRIFT = 20e-6
DISC_PX = 7


def scale_params(params: tuple[float, ...], scale: float) -> tuple[float, ...]:
    f, cx, cy, *rest = params
    return (f * scale, scale * (cx + 0.5) - 0.5, scale * (cy + 0.5) - 0.5, *rest)


def device_ns(timecode_ns: int, t0_ns: int) -> int:
    return DEVICE_T0_NS + round((timecode_ns - t0_ns) * (1 + DRIFT))


def frame_image(k: int, wrist_px: dict[int, np.ndarray] | None) -> np.ndarray:
    """Frame k: the gradient background, blue 40 + (3 k mod 210), the wrist discs (left white, right black)."""
    u = np.linspace(30, 220, SIDE, dtype=np.float32)
    img = np.empty((SIDE, SIDE, 3), np.uint8)
    img[..., 0] = u[None, :]
    img[..., 1] = u[:, None]
    img[..., 2] = 40 + (3 * k) % 210
    for hand, px in (wrist_px or {}).items():
        colour = (255, 255, 255) if hand == 0 else (0, 0, 0)
        cv2.circle(img, (round(px[0]), round(px[1])), DISC_PX, colour, thickness=-1, lineType=cv2.LINE_AA)
    return img


def write_recording(
    path: Path, world_from_camera: np.ndarray, wrists: dict[int, np.ndarray], params: tuple[float, ...], t0_ns: int
) -> dict[int, np.ndarray]:
    """Write `path`; return hand -> (T,2) wrist pixels of ground-truth frames 0..T-1."""
    n = len(world_from_camera)
    R, t = world_from_camera[:, :3, :3], world_from_camera[:, :3, 3]
    lens = Fisheye624Camera.from_params(params, SIDE, SIDE)
    pixels = {hand: lens.project(np.einsum("tji,tj->ti", R, wrist[:, :3, 3] - t)) for hand, wrist in wrists.items()}
    codes = [t0_ns + round(k * 1e9 / 30) for k in range(-LEAD, n + LEAD)]
    images = [
        frame_image(k, {h: px[k] for h, px in pixels.items()} if 0 <= k < n else None) for k in range(-LEAD, n + LEAD)
    ]
    pair_codes = range(codes[0] - 1_000_000_000, codes[-1] + 1_000_000_001, 100_000_000)
    write_aria_rgb(path, images, [device_ns(c, t0_ns) for c in codes], [(device_ns(c, t0_ns), c) for c in pair_codes])
    return pixels
