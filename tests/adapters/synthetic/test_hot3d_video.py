"""The HOT3D RGB recording's geometry and clocks (`adapters/synthetic/hot3d_video.py`) against the maker's own code,
projectaria_tools 2.3.0: its FISHEYE624 projection (`FisheyeRadTanThinPrism`, one focal length) of points in front of
the real sample's RGB camera (P0003_c701bd11 online_calibration params) is the one the writer draws with
(`schemas.camera_model.Fisheye624Camera`) to 1e-6 px, before and after binning the 1408 px sensor to 352 px as
`CameraCalibration.rescale` scales it; the device clock runs 20 ppm fast from the sample's MPS start; the frame's number
and the wrists' discs are in the pixels."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.synthetic.hot3d import SAMPLE
from adapters.synthetic.hot3d_video import DEVICE_T0_NS, SENSOR, SIDE, device_ns, frame_image, scale_params
from schemas.camera_model import Fisheye624Camera
from tests.needs import tool_missing

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
