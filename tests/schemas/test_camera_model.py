"""Lens models (`schemas/camera_model.py`): field-level validation, a Kannala-Brandt fisheye keeps its 4
coefficients through a resize, crop or pad, and only its focal lengths and principal point move; each model projects
as its maker's code does (OpenCV's cv2.fisheye.projectPoints; projectaria_tools 2.3.0's FISHEYE624 on the parameters
of its own test and of a real Aria MPS calibration), and a wrong coefficient moves the pixels."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from schemas.camera_model import CameraModel, Fisheye624Camera, KannalaBrandtCamera, PinholeCamera
from schemas.image_size import Fit, FrameFit
from tests.needs import tool_missing
from tests.realdata import realdata

try:
    from projectaria_tools.core.calibration import FISHEYE624, CameraCalibration
    from projectaria_tools.core.sophus import SE3
except ImportError:
    CameraCalibration = None

FISHEYE = {"width": 456, "height": 256, "fx": 137.98, "fy": 138.23, "cx": 232.17, "cy": 125.37}
COEFFS = {"k1": 0.3948, "k2": 0.1798, "k3": -0.2753, "k4": 0.0793}
LENS = TypeAdapter(CameraModel)


def test_the_model_name_picks_the_type_and_a_fisheye_needs_all_four_coefficients() -> None:
    fish = LENS.validate_python({"model": "kannala_brandt", **FISHEYE, **COEFFS})
    assert isinstance(fish, KannalaBrandtCamera) and fish.k3 == COEFFS["k3"]
    assert isinstance(LENS.validate_python({"model": "pinhole", **FISHEYE}), PinholeCamera)
    with pytest.raises(ValidationError) as e:
        LENS.validate_python({"model": "kannala_brandt", **FISHEYE, **{k: COEFFS[k] for k in ("k1", "k2", "k3")}})
    assert e.value.errors()[0]["loc"][-1] == "k4"
    with pytest.raises(ValidationError) as e:  # a pinhole takes no coefficients: never half a fisheye
        LENS.validate_python({"model": "pinhole", **FISHEYE, **COEFFS})
    with pytest.raises(ValidationError):
        LENS.validate_python({"model": "fisheye624", **FISHEYE, **COEFFS})


@pytest.mark.parametrize(
    ("field", "value"), [("fx", 0.0), ("fy", float("inf")), ("cx", -3.0), ("cy", 300.0), ("width", 0), ("k2", "x")]
)
def test_each_bad_field_is_named(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as e:
        KannalaBrandtCamera.model_validate({**FISHEYE, **COEFFS, field: value})
    assert [err["loc"][-1] for err in e.value.errors()] == [field]


def test_a_resize_scales_focal_lengths_and_keeps_coefficients() -> None:
    fish = KannalaBrandtCamera(**FISHEYE, **COEFFS)
    half = fish.resized((128, 228))
    assert (half.width, half.height) == (228, 128)
    assert (half.fx, half.fy, half.cx, half.cy) == pytest.approx((68.99, 69.115, 116.085, 62.685))
    assert (half.k1, half.k2, half.k3, half.k4) == tuple(COEFFS.values())
    assert half.resized((256, 456)).model_dump() == pytest.approx(fish.model_dump())


def test_a_padded_frame_moves_the_principal_point_by_the_bars() -> None:
    """456x256 padded to 256x256: scaled by 256/456 and centred, so the principal point stays on the same scene
    point (its offset from the image centre scales, the bars shift it), coefficients untouched."""
    fish = KannalaBrandtCamera(**FISHEYE, **COEFFS)
    fit = FrameFit.make((256, 456), (256, 256), Fit.pad)
    stored = fish.with_K(fit.intrinsics(fish.K()), fit.out_hw)
    s = 256 / 456
    assert stored.fx == pytest.approx(FISHEYE["fx"] * s, rel=1e-3)
    assert stored.cx - 128 == pytest.approx((FISHEYE["cx"] - 228) * s, abs=0.5)
    assert stored.cy - 128 == pytest.approx((FISHEYE["cy"] - 128) * s, abs=0.5)
    assert (stored.k1, stored.k4) == (COEFFS["k1"], COEFFS["k4"])


def test_a_resized_or_padded_lens_sees_each_ray_where_the_resized_picture_shows_it() -> None:
    """OpenCV's own fisheye projection (cv2.fisheye.projectPoints) of rays up to 80 degrees off axis: with the lens
    `resized` to half size every pixel halves, and with the lens of the 256x256 padded frame every pixel is the
    native one scaled and shifted by the bars, so the stored lens matches the stored picture."""
    fish = KannalaBrandtCamera(**FISHEYE, **COEFFS)
    angles = np.radians([0.0, 20.0, 45.0, 60.0, 80.0])
    az = np.radians([0.0, 90.0, 200.0, 300.0, 45.0])
    rays = np.stack([np.sin(angles) * np.cos(az), np.sin(angles) * np.sin(az), np.cos(angles)], axis=1)

    def project(lens: KannalaBrandtCamera) -> np.ndarray:
        D = np.array([lens.k1, lens.k2, lens.k3, lens.k4])
        uv, _ = cv2.fisheye.projectPoints(rays.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), lens.K(), D)
        return uv.reshape(-1, 2)

    native = project(fish)
    assert native[3, 0] < FISHEYE["width"]  # 60 degrees right stays in the picture
    assert np.allclose(project(fish.resized((128, 228))), native * 0.5)
    fit = FrameFit.make((256, 456), (256, 256), Fit.pad)
    padded = fish.with_K(fit.intrinsics(fish.K()), fit.out_hw)
    expected = native @ fit.pixel_map[:2, :2].T + fit.pixel_map[:2, 2]
    assert np.allclose(project(padded), expected)


# projectaria_tools' own test parameters for FISHEYE624 (a 640x480 SLAM camera; one focal length):
# facebookresearch/projectaria_tools@aa71945:core/calibration/camera_projections/test/CameraProjectionTest.cpp:43-60
MAKER_TEST = (242.0503165415735, 319.8053191211108, 240.9679064324467, -0.02689165420917155, 0.1019919163316408,
              -0.07180862612716554, 0.01245898233008245, 0.001242086400994195, -0.0004149914187376608,
              0.0005499786009926172, 0.0005819661606400815, -0.001232007804086031, -0.0003868334860997226,
              -0.0005963449586486949, 1.071922498768078e-05)  # fmt: skip
# the real MPS calibration's camera sizes (Aria Gen1: SLAM 640x480, RGB at full resolution 2880x2880; the maker's
# AriaCalibRescaleAndCrop.cpp:33-40 rescales the RGB one from 2880x2880)
ARIA_SIZES = {"camera-slam-left": (640, 480), "camera-slam-right": (640, 480), "camera-rgb": (2880, 2880)}


def _rays(max_deg: float = 80.0) -> np.ndarray:
    """Unit rays from the axis to `max_deg` off it, all around, and one at 2 m straight ahead."""
    angles = np.radians(np.linspace(0.0, max_deg, 9))
    az = np.radians(np.arange(0.0, 360.0, 30.0))
    a, b = np.meshgrid(angles, az)
    rays = np.stack([np.sin(a) * np.cos(b), np.sin(a) * np.sin(b), np.cos(a)], axis=-1).reshape(-1, 3)
    return np.vstack([rays, [[0.0, 0.0, 2.0]]])


def _makers(params: tuple[float, ...], width: int, height: int):
    if CameraCalibration is None:
        tool_missing("projectaria-tools", "make venv installs it (pip install --no-deps projectaria-tools==2.3.0)")
    args = ("cam", FISHEYE624, np.array(params), SE3.from_matrix(np.eye(4)), width, height, None, np.pi, "")
    return CameraCalibration(*args)


def test_fisheye624_reads_the_makers_vectors_of_one_or_two_focal_lengths() -> None:
    one = Fisheye624Camera.from_params(MAKER_TEST, 640, 480)
    assert one.fx == one.fy == MAKER_TEST[0] and (one.cx, one.cy) == MAKER_TEST[1:3]
    assert (one.k0, one.k5, one.p0, one.p1, one.s0, one.s3) == tuple(MAKER_TEST[i] for i in (3, 8, 9, 10, 11, 14))
    two = Fisheye624Camera.from_params((MAKER_TEST[0], 250.0, *MAKER_TEST[1:]), 640, 480)
    assert (two.fx, two.fy, two.cx, two.k0, two.s3) == (MAKER_TEST[0], 250.0, *(MAKER_TEST[i] for i in (1, 3, 14)))
    assert two.params() == [MAKER_TEST[0], 250.0, *MAKER_TEST[1:]]
    assert LENS.validate_python(two.model_dump()) == two  # the lineage's dump reads back
    with pytest.raises(ValueError, match="14 FISHEYE624 parameters"):
        Fisheye624Camera.from_params(MAKER_TEST[:-1], 640, 480)
    with pytest.raises(ValidationError):  # a principal point outside the picture: parameters for another size
        Fisheye624Camera.from_params(MAKER_TEST, 320, 240)


def test_fisheye624_projects_as_projectaria_tools() -> None:
    """The maker's own test parameters, rays 0-80 degrees off axis all around: our pixels are projectaria_tools'
    to 1e-6 px; with fy doubled, v - cy doubles (the two-focal-length form of Quest 3's files)."""
    rays = _rays()
    ours = Fisheye624Camera.from_params(MAKER_TEST, 640, 480).project(rays)
    theirs = _makers(MAKER_TEST, 640, 480)
    np.testing.assert_allclose(ours, [theirs.project_no_checks(r) for r in rays], atol=1e-6)
    two = Fisheye624Camera.from_params((MAKER_TEST[0], 2 * MAKER_TEST[0], *MAKER_TEST[1:]), 640, 480).project(rays)
    np.testing.assert_allclose(two[:, 0], ours[:, 0])
    np.testing.assert_allclose(two[:, 1] - MAKER_TEST[2], 2 * (ours[:, 1] - MAKER_TEST[2]), atol=1e-9)


def test_a_real_aria_calibration_projects_as_projectaria_tools() -> None:
    """A real Aria MPS `online_calibration.jsonl` (its first line: both SLAM cameras and the RGB camera, model
    FisheyeRadTanThinPrism): every camera's rays to 80 degrees land where projectaria_tools puts them (1e-6 px);
    the axis at the principal point; a ray 45 degrees off axis inside the picture."""
    path = realdata("aria_mps_online_calibration/online_calibration.jsonl")
    with path.open() as f:
        cams = json.loads(f.readline())["CameraCalibrations"]
    assert {c["Label"] for c in cams} == set(ARIA_SIZES)
    rays = _rays()
    for cam in cams:
        assert cam["Projection"]["Name"] == "FisheyeRadTanThinPrism"
        params, (w, h) = tuple(cam["Projection"]["Params"]), ARIA_SIZES[cam["Label"]]
        lens = Fisheye624Camera.from_params(params, w, h)
        ours = lens.project(rays)
        np.testing.assert_allclose(ours[-1], (lens.cx, lens.cy))
        off = lens.project(np.array([[np.sin(np.pi / 4), 0.0, np.cos(np.pi / 4)]]))[0]
        assert 0 <= off[0] < w and off[1] == pytest.approx(lens.cy, abs=0.05 * h), cam["Label"]
        theirs = _makers(params, w, h)
        np.testing.assert_allclose(ours, [theirs.project_no_checks(r) for r in rays], atol=1e-6, err_msg=cam["Label"])


def test_a_wrong_fisheye_coefficient_moves_the_pixels() -> None:
    """Planted: the first radial coefficient's sign flipped moves a ray 60 degrees off axis by tens of pixels, and
    the same lens read as a pinhole (its coefficients dropped) puts it outside the picture."""
    lens = Fisheye624Camera.from_params(MAKER_TEST, 640, 480)
    ray = np.array([[np.sin(np.pi / 3), 0.0, np.cos(np.pi / 3)]])
    flipped = lens.model_copy(update={"k0": -lens.k0})
    assert np.abs(flipped.project(ray) - lens.project(ray)).max() > 10
    assert lens.project(ray)[0, 0] < 640 <= PinholeCamera.from_matrix(lens.K(), (480, 640)).project(ray)[0, 0]


def test_kannala_brandt_and_pinhole_project_as_opencv() -> None:
    """Our Kannala-Brandt pixels are cv2.fisheye.projectPoints' (rays 0-80 degrees, 1e-6 px); a pinhole's are K p / z,
    as cv2.projectPoints without distortion gives them."""
    rays = _rays()
    fish = KannalaBrandtCamera(**FISHEYE, **COEFFS)
    D = np.array([fish.k1, fish.k2, fish.k3, fish.k4])
    cv_uv, _ = cv2.fisheye.projectPoints(rays.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), fish.K(), D)
    np.testing.assert_allclose(fish.project(rays), cv_uv.reshape(-1, 2), atol=1e-6)
    pin = PinholeCamera(**FISHEYE)
    front = rays[rays[:, 2] > 0.2]
    cv_pin, _ = cv2.projectPoints(front, np.zeros(3), np.zeros(3), pin.K(), None)
    np.testing.assert_allclose(pin.project(front), cv_pin.reshape(-1, 2), atol=1e-6)
    assert PinholeCamera.from_matrix(pin.K(), (256, 456)) == pin
