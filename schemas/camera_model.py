"""A camera's lens model as its source gives it: a pinhole, a Kannala-Brandt fisheye with its 4 coefficients, or
Aria's FISHEYE624 (6 radial, 2 tangential, 4 thin-prism coefficients); each projects camera-frame points to pixels
(`project`, pure numpy), so a consumer projects with whichever model a camera has, never by source.

A fisheye is never turned into a pinhole here: its focal lengths describe the equidistant projection, not a
perspective one. With Egocentric-10K's example lens a point 60 degrees off axis lands at u = 435 px, inside the
456 px frame; a pinhole with the same fx and cx puts it at 471 px, outside. Consumers read `model` and project with
the model named.

Kannala-Brandt as OpenCV's `cv::fisheye::projectPoints` computes it
(opencv/opencv@5dc21e8:modules/calib3d/src/fisheye.cpp:126-150, skew alpha 0): for a point (x, y, z) in camera axes
(OpenCV: x right, y down, z forward), a = x/z, b = y/z, r = hypot(a, b), theta = atan(r), theta_d = theta * (1 +
k1 theta^2 + k2 theta^4 + k3 theta^6 + k4 theta^8), u = fx * theta_d / r * a + cx, v = fy * theta_d / r * b + cy.
FISHEYE624 as projectaria_tools' `FisheyeRadTanThinPrism<6, true, true, ...>` projects (facebookresearch/
projectaria_tools@70636df:core/calibration/camera_projections/FisheyeRadTanThinPrism.h:104-145, 234-240): the same
a, b, r, theta; xr = theta * (1 + k0 theta^2 + ... + k5 theta^12) / r * (a, b), rd2 = |xr|^2; then the tangential
term 2 (xr . p) xr + rd2 p and the thin prism (s0 rd2 + s1 rd2^2, s2 rd2 + s3 rd2^2) added; u, v = f * that + c.
Its parameter vector is `[f_u {f_v} c_u c_v k_0..k_5 p_0 p_1 s_0..s_3]` (same file, line 94): Aria's calibration
files (MPS `online_calibration.jsonl` `Projection.Params`, name FisheyeRadTanThinPrism) carry one focal length (15
values, `Fisheye624 = FisheyeRadTanThinPrism<6, true, true, true>`, line 453), Quest 3's `camera_models.json` two
(16 values); `Fisheye624Camera.from_params` reads both.

Pixels of a `width` x `height` image, pixel centres at integer coordinates. Resizing an image scales fx, cx with the
width and fy, cy with the height; the coefficients act on angles and stay as they are (`resized`). projectaria_tools
scales a principal point as s (c + 0.5) - 0.5 (`scaleParams`, same file, lines 255-256): half a pixel times (1 - s)
from ours, under 0.4 px for any downscale, below what the hand projection check (`ingest.qa.geometry`) resolves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, ValidationInfo, field_validator

_Finite = Annotated[float, Field(allow_inf_nan=False)]


class _Lens(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    width: PositiveInt = Field(description="image width in pixels these values are for")
    height: PositiveInt = Field(description="image height in pixels these values are for")
    fx: PositiveFloat = Field(description="focal length along x, pixels")
    fy: PositiveFloat = Field(description="focal length along y, pixels")
    cx: _Finite = Field(description="principal point x, pixels")
    cy: _Finite = Field(description="principal point y, pixels")

    @field_validator("cx", "cy")
    @classmethod
    def _inside(cls, v: float, info: ValidationInfo) -> float:
        size = info.data.get("width" if info.field_name == "cx" else "height")
        if size is not None and not 0 <= v <= size:
            raise ValueError(f"principal point {v} is outside the image (0 to {size} px)")
        return v

    def K(self) -> np.ndarray:
        """The 3x3 matrix of fx, fy, cx, cy (for a fisheye: the affine part after its angle mapping)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def resized(self, to_hw: tuple[int, int]) -> _Lens:
        """The same lens for the image resized to (height, width) `to_hw`: fx, cx with the width, fy, cy with the
        height (distortion coefficients unchanged: they act on angles)."""
        sy, sx = to_hw[0] / self.height, to_hw[1] / self.width
        return self.with_K(np.diag([sx, sy, 1.0]) @ self.K(), to_hw)

    def with_K(self, K: np.ndarray, hw: tuple[int, int]) -> _Lens:
        """This lens with the affine part `K` for an image of (height, width) `hw` (a resize, crop or pad)."""
        K = np.asarray(K, dtype=np.float64)
        vals = {"fx": float(K[0, 0]), "fy": float(K[1, 1]), "cx": float(K[0, 2]), "cy": float(K[1, 2])}
        return type(self).model_validate({**self.model_dump(), **vals, "height": int(hw[0]), "width": int(hw[1])})

    def _pixels(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) normalised image coordinates -> pixels."""
        return xy * np.array([self.fx, self.fy]) + np.array([self.cx, self.cy])


def _ab(points: np.ndarray) -> np.ndarray:
    """(..., 3) camera-frame points (OpenCV axes) -> (..., 2) a = x/z, b = y/z (inf or NaN where z is 0)."""
    p = np.asarray(points, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return p[..., :2] / p[..., 2:3]


def _equidistant(ab: np.ndarray, ks: tuple[float, ...]) -> np.ndarray:
    """theta_d / r * (a, b) with theta = atan(r), theta_d = theta (1 + ks[0] theta^2 + ks[1] theta^4 + ...); the
    limit (a, b) itself at the axis (r below 1e-8, OpenCV's cut; projectaria_tools cuts at machine epsilon,
    FisheyeRadTanThinPrism.h:123, the same pixel there to 1e-12 px)."""
    r = np.hypot(ab[..., 0], ab[..., 1])
    theta = np.arctan(r)
    poly = np.polyval([*reversed(ks), 1.0], theta * theta)  # 1 + ks[0] theta^2 + ks[1] theta^4 + ...
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(r > 1e-8, theta * poly / np.where(r > 1e-8, r, 1.0), 1.0)
    return scale[..., None] * ab


class PinholeCamera(_Lens):
    model: Literal["pinhole"] = "pinhole"

    @classmethod
    def from_matrix(cls, K: np.ndarray, hw: tuple[int, int]) -> PinholeCamera:
        """A source's 3x3 matrix for (height, width) `hw` frames, taken as given, not validated: a principal point
        outside the image (intrinsics of another resolution) is what the hand projection check measures, not a
        reason to fail the episode here. Its skew K[0, 1] is not a field: every adapter writes 0 there."""
        K = np.asarray(K, dtype=np.float64)
        vals = {"fx": float(K[0, 0]), "fy": float(K[1, 1]), "cx": float(K[0, 2]), "cy": float(K[1, 2])}
        return cls.model_construct(width=int(hw[1]), height=int(hw[0]), **vals)

    def project(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) camera-frame points (OpenCV axes) -> (..., 2) pixels, u = fx x / z + cx, v = fy y / z + cy."""
        return self._pixels(_ab(points))


class KannalaBrandtCamera(_Lens):
    """OpenCV's fisheye model (equidistant projection with an odd polynomial in theta), 4 coefficients."""

    model: Literal["kannala_brandt"] = "kannala_brandt"
    k1: _Finite
    k2: _Finite
    k3: _Finite
    k4: _Finite

    def project(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) camera-frame points -> (..., 2) pixels, as `cv::fisheye::projectPoints` (module docstring)."""
        return self._pixels(_equidistant(_ab(points), (self.k1, self.k2, self.k3, self.k4)))


class Fisheye624Camera(_Lens):
    """Aria's FISHEYE624 (projectaria_tools `FisheyeRadTanThinPrism`): the equidistant projection with 6 radial
    coefficients, then 2 tangential and 4 thin-prism terms, named as the maker's parameter vector names them."""

    model: Literal["fisheye624"] = "fisheye624"
    k0: _Finite
    k1: _Finite
    k2: _Finite
    k3: _Finite
    k4: _Finite
    k5: _Finite
    p0: _Finite
    p1: _Finite
    s0: _Finite
    s1: _Finite
    s2: _Finite
    s3: _Finite

    DISTORTION: ClassVar[tuple[str, ...]] = ("k0", "k1", "k2", "k3", "k4", "k5", "p0", "p1", "s0", "s1", "s2", "s3")

    @classmethod
    def from_params(cls, params: Sequence[float], width: int, height: int) -> Fisheye624Camera:
        """The maker's parameter vector `[f_u {f_v} c_u c_v k_0..k_5 p_0 p_1 s_0..s_3]`: 15 values (one focal
        length, Aria's MPS calibration) or 16 (Quest 3's `camera_models.json`), for a `width` x `height` image."""
        vals = [float(v) for v in params]
        if len(vals) not in (15, 16):
            raise ValueError(f"{len(vals)} FISHEYE624 parameters, expected 15 (one focal length) or 16 (fx, fy)")
        focal = vals[:1] * 2 if len(vals) == 15 else vals[:2]
        head = dict(zip(("fx", "fy", "cx", "cy"), [*focal, *vals[len(vals) - 14 : len(vals) - 12]], strict=True))
        return cls(width=width, height=height, **head, **dict(zip(cls.DISTORTION, vals[-12:], strict=True)))

    def params(self) -> list[float]:
        """The maker's 16-value vector (two focal lengths), fx fy cx cy k0..k5 p0 p1 s0..s3."""
        return [self.fx, self.fy, self.cx, self.cy, *(getattr(self, k) for k in self.DISTORTION)]

    def project(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) camera-frame points -> (..., 2) pixels, as `FisheyeRadTanThinPrism::project` (module docstring)."""
        xr = _equidistant(_ab(points), (self.k0, self.k1, self.k2, self.k3, self.k4, self.k5))
        rd2 = np.sum(xr * xr, axis=-1, keepdims=True)
        p, s = np.array([self.p0, self.p1]), np.array([[self.s0, self.s2], [self.s1, self.s3]])
        uv = xr + 2.0 * np.sum(xr * p, axis=-1, keepdims=True) * xr + rd2 * p
        return self._pixels(uv + rd2 * s[0] + rd2 * rd2 * s[1])


class OmnidirCamera(_Lens):
    """Mei's unified omnidirectional model as OpenCV's `cv::omnidir::projectPoints` computes it (opencv/opencv_contrib
    @4.x:modules/ccalib/src/omnidir.cpp `projectPoints`, skew 0): the point put on the unit sphere, (xs, ys, zs), seen
    from `xi` behind its centre, a = xs / (zs + xi), b = ys / (zs + xi); then radial k1, k2 and tangential p1, p2 as
    OpenCV's pinhole distortion; u = fx x + cx, v = fy y + cy. VITRA's Ego4D intrinsics (DroidCalib's estimate) are
    this model: `K`, `D` = (k1, k2, p1, p2), `xi` (microsoft/VITRA@c68b65e:data/preprocessing/undistort_video.py)."""

    model: Literal["omnidir"] = "omnidir"
    xi: _Finite
    k1: _Finite
    k2: _Finite
    p1: _Finite
    p2: _Finite

    def project(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) camera-frame points -> (..., 2) pixels, as `cv::omnidir::projectPoints`."""
        p = np.asarray(points, dtype=np.float64)
        s = p / np.linalg.norm(p, axis=-1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            a, b = s[..., 0] / (s[..., 2] + self.xi), s[..., 1] / (s[..., 2] + self.xi)
        r2 = a * a + b * b
        radial = 1.0 + self.k1 * r2 + self.k2 * r2 * r2
        x = a * radial + 2.0 * self.p1 * a * b + self.p2 * (r2 + 2.0 * a * a)
        y = b * radial + self.p1 * (r2 + 2.0 * b * b) + 2.0 * self.p2 * a * b
        return self._pixels(np.stack([x, y], axis=-1))


CameraModel = Annotated[
    PinholeCamera | KannalaBrandtCamera | Fisheye624Camera | OmnidirCamera, Field(discriminator="model")
]
