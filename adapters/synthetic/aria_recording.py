"""Aria recordings (`recording.vrs`) with the streams `projectaria_tools` reads: the RGB camera and the time-code
stream, written through `vrs_file.VrsWriter` with the maker's record layouts.

- RGB camera, stream 214-1 (`RgbCameraRecordableClass`; projectaria_tools `core/data_provider/AriaStreamIds.h`:
  "camera-rgb"): a configuration record `ImageSensorConfigRecordMetadata` and per frame a data record
  `ImageSensorDataRecordMetadata` + one JPEG image block (`core/data_provider/data_layout/ImageSensorMetadata.h`;
  `image_*` names are VRS's `DataLayoutConventions.h`). The record timestamp is the frame's `capture_timestamp_ns` in
  seconds: the device clock.
- Time code, stream 285-1 (`TimeRecordableClass`): configuration `TimeSyncConfigRecordMetadata` with `mode`
  "TIMECODE" (the only mode `VrsDataProviderFactory::tryAddTimeSyncPlayer` keeps), and data records
  `TimeSyncDataRecordMetadata` pairing `monotonic_timestamp_ns` (device clock) with `real_timestamp_ns` (the time
  code); `TimeCodeMapper` interpolates linearly between pairs (`core/data_provider/TimeCodeMapper.cpp`).
No `calib_json` file tag (the provider then only warns): HOT3D's calibration comes from MPS.

The RGB recording of a synthetic HOT3D Aria sequence (`recording.vrs`, written as above), consistent
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

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from adapters.synthetic.video import encode_image
from adapters.synthetic.vrs_file import DataLayout, RecordKind, RecordType, VrsWriter
from schemas.camera_model import Fisheye624Camera

RGB_TYPE_ID, TIME_TYPE_ID = 214, 285
IMAGE_VERSION, TIME_VERSION = 2, 1  # the layouts' kVersion
PIXEL_RGB8 = 4  # vrs::PixelFormat::RGB8 (`vrs/RecordFormat.cpp` pixel format names, in enum order)
IMAGE_CONFIG = DataLayout((
    ("device_type", "string"), ("device_version", "string"), ("device_serial", "string"), ("camera_id", "uint32_t"),
    ("sensor_model", "string"), ("sensor_serial", "string"), ("nominal_rate", "double"),
    ("image_width", "uint32_t"), ("image_height", "uint32_t"), ("image_stride", "uint32_t"),
    ("image_pixel_format", "uint32_t"), ("exposure_duration.min", "double"), ("exposure_duration.max", "double"),
    ("gain.min", "double"), ("gain.max", "double"), ("gamma_factor", "double"), ("factory_calibration", "string"),
    ("online_calibration", "string"), ("description", "string"),
))  # fmt: skip
IMAGE_DATA = DataLayout((
    ("group_id", "uint64_t"), ("group_mask", "uint64_t"), ("frame_number", "uint64_t"),
    ("exposure_duration_s", "double"), ("gain", "double"), ("capture_timestamp_ns", "int64_t"),
    ("arrival_timestamp_ns", "int64_t"), ("temperature_deg_c", "double"),
))  # fmt: skip
TIME_CONFIG = DataLayout((("stream_id", "uint32_t"), ("sample_rate_hz", "double"), ("mode", "string")))
TIME_DATA = DataLayout((("monotonic_timestamp_ns", "int64_t"), ("real_timestamp_ns", "int64_t")))


def write_aria_rgb(
    path: Path,
    frames: Sequence[np.ndarray],
    device_ns: Sequence[int],
    time_pairs: Sequence[tuple[int, int]],
    *,
    fps: float = 30.0,
) -> None:
    """`frames` (HxWx3 uint8 RGB, the sensor's orientation) captured at `device_ns`; `time_pairs` (device ns, time
    code ns) for the time-code stream (none: a recording without one)."""
    h, w = frames[0].shape[:2]
    vrs = VrsWriter({"device_type": "Aria"})
    vrs.add_stream(
        RGB_TYPE_ID,
        1,
        [
            RecordKind(RecordType.CONFIGURATION, IMAGE_VERSION, "data_layout", {0: IMAGE_CONFIG}),
            RecordKind(
                RecordType.DATA, IMAGE_VERSION, f"data_layout/size={IMAGE_DATA.fixed_size}+image/jpg", {0: IMAGE_DATA}
            ),
        ],
    )
    start = min([int(device_ns[0])] + [int(d) for d, _ in time_pairs[:1]]) / 1e9
    config = {
        "device_type": "Aria",
        "device_version": "Gen1",
        "camera_id": 0,
        "sensor_model": "synthetic",
        "nominal_rate": fps,
        "image_width": w,
        "image_height": h,
        "image_stride": 3 * w,
        "image_pixel_format": PIXEL_RGB8,
        "gamma_factor": 1.0,
        "description": "camera-rgb",
    }
    vrs.add_record(RGB_TYPE_ID, 1, RecordType.CONFIGURATION, start, IMAGE_CONFIG.pack(config))
    if time_pairs:
        vrs.add_stream(
            TIME_TYPE_ID,
            1,
            [
                RecordKind(RecordType.CONFIGURATION, TIME_VERSION, "data_layout", {0: TIME_CONFIG}),
                RecordKind(RecordType.DATA, TIME_VERSION, f"data_layout/size={TIME_DATA.fixed_size}", {0: TIME_DATA}),
            ],
        )
        time_config = TIME_CONFIG.pack({"stream_id": 0, "sample_rate_hz": fps, "mode": "TIMECODE"})
        vrs.add_record(TIME_TYPE_ID, 1, RecordType.CONFIGURATION, start, time_config)
    for k, (rgb, t_ns) in enumerate(zip(frames, device_ns, strict=True)):
        meta = {
            "group_id": k,
            "frame_number": k,
            "exposure_duration_s": 0.005,
            "gain": 1.0,
            "capture_timestamp_ns": int(t_ns),
            "arrival_timestamp_ns": int(t_ns) + 2_000_000,
            "temperature_deg_c": float("nan"),
        }
        vrs.add_record(RGB_TYPE_ID, 1, RecordType.DATA, int(t_ns) / 1e9, IMAGE_DATA.pack(meta) + encode_image(rgb))
    for device, code in time_pairs:
        payload = TIME_DATA.pack({"monotonic_timestamp_ns": int(device), "real_timestamp_ns": int(code)})
        vrs.add_record(TIME_TYPE_ID, 1, RecordType.DATA, int(device) / 1e9, payload)
    vrs.write(path)


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
) -> None:
    """Write `path`, the wrists drawn at their pixels in ground-truth frames 0..T-1."""
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
