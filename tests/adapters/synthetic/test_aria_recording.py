"""The Aria recording writer (`adapters/synthetic/aria_recording.py`) checked by the maker's own reader:
projectaria_tools 2.3.0 opens the written `.vrs` and finds one `camera-rgb` stream with its configuration, every frame
in order with its device timestamp and frame number, the TIME_CODE mapping interpolated between the written pairs, and
time queries."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adapters.synthetic.aria_recording import write_aria_rgb
from tests.needs import tool_missing

try:
    from projectaria_tools.core import data_provider as pat
    from projectaria_tools.core.sensor_data import TimeDomain, TimeQueryOptions
    from projectaria_tools.core.stream_id import StreamId
except ImportError:
    pat = None

RGB = "214-1"  # the stream id of camera-rgb in an Aria recording


def _pattern(k: int, h: int = 48, w: int = 80) -> np.ndarray:
    """A frame that tells its number (a bar 8 (k + 1) px wide) and its orientation (red rises to the right)."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    img[:8, : 8 * (k + 1), 1] = 255
    return img


def test_projectaria_tools_reads_the_written_recording(tmp_path: Path) -> None:
    if pat is None:
        tool_missing("projectaria-tools", "make venv installs it (pip install --no-deps projectaria-tools==2.3.0)")
    frames = [_pattern(k) for k in range(6)]
    device = [113_585_000_000_000 + round(k * 1e9 / 30) + 17 * k for k in range(6)]
    # time code runs 1 % slower, paired every 50 ms: mapping is the maker's linear interpolation between pairs
    pairs = [(113_584_900_000_000 + j * 50_000_000, 56_752_000_000_000 + j * 49_500_000) for j in range(10)]
    write_aria_rgb(tmp_path / "r.vrs", frames, device, pairs)
    provider, stream = pat.create_vrs_data_provider(str(tmp_path / "r.vrs")), StreamId(RGB)
    assert provider is not None and provider.get_all_streams() == [stream]
    assert provider.get_label_from_stream_id(stream) == "camera-rgb" and provider.get_num_data(stream) == 6
    config = provider.get_configuration(stream).image_configuration()
    assert (config.image_width, config.image_height, config.nominal_rate_hz) == (80, 48, 30.0)
    codes = provider.get_timestamps_ns(stream, TimeDomain.TIME_CODE)
    for k, frame in enumerate(frames):
        image, record = provider.get_image_data_by_index(stream, k)
        assert record.capture_timestamp_ns == device[k] and record.frame_number == k
        assert np.abs(image.to_numpy_array().astype(int) - frame).mean() < 2.0  # JPEG q95
        j = (device[k] - pairs[0][0]) // 50_000_000
        (d0, c0), (d1, c1) = pairs[j], pairs[j + 1]
        expected = c0 + (device[k] - d0) * (c1 - c0) / (d1 - d0)
        assert (
            abs(codes[k] - expected) <= 1
            and abs(provider.convert_from_timecode_to_device_time_ns(codes[k]) - device[k]) <= 1
        )
        near, _ = provider.get_image_data_by_time_ns(
            stream, codes[k] + 5_000_000, TimeDomain.TIME_CODE, TimeQueryOptions.CLOSEST
        )
        assert np.abs(near.to_numpy_array().astype(int) - frame).mean() < 2.0
    assert provider.get_image_data_by_index(stream, 5)[0].to_numpy_array()[2, 8 * 6 - 2, 1] > 200  # frame 5's bar
