"""Lens models (`schemas/camera_model.py`): field-level validation, a Kannala-Brandt fisheye keeps its 4
coefficients through a resize, crop or pad, and only its focal lengths and principal point move."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from schemas.camera_model import CameraModel, KannalaBrandtCamera, PinholeCamera
from schemas.image_size import Fit, FrameFit

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
        LENS.validate_python({"model": "fisheye624", **FISHEYE})


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
