"""The Aria recording writer (`adapters/synthetic/aria_recording.py`) checked by the maker's own reader:
projectaria_tools 2.3.0 opens the written `.vrs` and finds one `camera-rgb` stream with its configuration, every frame
in order with its device timestamp and frame number, the TIME_CODE mapping interpolated between the written pairs, and
time queries.

The HOT3D RGB recording's geometry and clocks (`adapters/synthetic/aria_recording.py`) against the maker's own code,
projectaria_tools 2.3.0: its FISHEYE624 projection (`FisheyeRadTanThinPrism`, one focal length) of points in front of
the real sample's RGB camera (P0003_c701bd11 online_calibration params) is the one the writer draws with
(`schemas.camera_model.Fisheye624Camera`) to 1e-6 px, before and after binning the 1408 px sensor to 352 px as
`CameraCalibration.rescale` scales it; the device clock runs 20 ppm fast from the sample's MPS start; the frame's number
and the wrists' discs are in the pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.synthetic.aria_recording import (
    DEVICE_T0_NS,
    SENSOR,
    SIDE,
    device_ns,
    frame_image,
    scale_params,
    write_aria_rgb,
)
from adapters.synthetic.hot3d import SAMPLE
from schemas.camera_model import Fisheye624Camera
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


try:
    from projectaria_tools.core.calibration import FISHEYE624, CameraCalibration
    from projectaria_tools.core.sophus import SE3
except ImportError:
    CameraCalibration = None


def _model(params: tuple[float, ...], side: int):
    if CameraCalibration is None:
        tool_missing("projectaria-tools", "make venv installs it (pip install --no-deps projectaria-tools==2.3.0)")
    return CameraCalibration(
        "camera-rgb", FISHEYE624, np.array(params), SE3.from_matrix(np.eye(4)), side, side, None, np.pi, ""
    )


@pytest.fixture(scope="module")
def points() -> np.ndarray:
    rng = np.random.default_rng(0)
    p = rng.uniform([-0.4, -0.4, 0.2], [0.4, 0.4, 0.8], (50, 3))  # in front of the camera, up to ~60 degrees off axis
    return p


def test_projection_is_projectaria_tools(points: np.ndarray) -> None:
    model = _model(SAMPLE.aria_rgb_params, SENSOR)
    ours = Fisheye624Camera.from_params(SAMPLE.aria_rgb_params, SENSOR, SENSOR).project(points)
    theirs = np.array([model.project_no_checks(p) for p in points])
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_binning_scales_as_projectaria_tools_rescales(points: np.ndarray) -> None:
    scale = SIDE / SENSOR
    theirs = _model(SAMPLE.aria_rgb_params, SENSOR).rescale(np.array([SIDE, SIDE]), scale)
    np.testing.assert_allclose(scale_params(SAMPLE.aria_rgb_params, scale), theirs.get_projection_params(), rtol=1e-6)
    ours = Fisheye624Camera.from_params(scale_params(SAMPLE.aria_rgb_params, scale), SIDE, SIDE).project(points)
    np.testing.assert_allclose(ours, [theirs.project_no_checks(p) for p in points], atol=1e-6)


def test_device_clock_and_pixels() -> None:
    t0 = 56_752_108_188_860  # the sample's first ground-truth time code
    assert device_ns(t0, t0) == DEVICE_T0_NS
    assert device_ns(t0 + 10**9, t0) - DEVICE_T0_NS == 10**9 + 20_000  # 20 ppm fast
    img = frame_image(5, {0: np.array([100.0, 120.0]), 1: np.array([250.0, 200.0])})
    assert img.shape == (SIDE, SIDE, 3) and (img[0, :, 2] == 40 + 15).all()  # blue tells the frame number
    assert img[120, 100].min() > 240 and img[200, 250].max() < 15  # the left wrist white, the right black
    assert img[300, 300, 0] > img[300, 10, 0] and img[300, 10, 1] > img[10, 10, 1]  # red rightwards, green down
