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
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from adapters.synthetic.video import encode_image
from adapters.synthetic.vrs_file import DataLayout, RecordKind, RecordType, VrsWriter

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
