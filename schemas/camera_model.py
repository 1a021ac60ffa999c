"""A camera's lens model as its source gives it: a pinhole, or a Kannala-Brandt fisheye with its 4 coefficients.

A fisheye is never turned into a pinhole here: its focal lengths describe the equidistant projection, not a
perspective one. With Egocentric-10K's example lens a point 60 degrees off axis lands at u = 435 px, inside the
456 px frame; a pinhole with the same fx and cx puts it at 471 px, outside. Consumers read `model` and project with
the model named.

Kannala-Brandt as OpenCV's `cv::fisheye::projectPoints` computes it
(opencv/opencv@5dc21e8:modules/calib3d/src/fisheye.cpp:126-150, skew alpha 0): for a point (x, y, z) in camera axes
(OpenCV: x right, y down, z forward), a = x/z, b = y/z, r = hypot(a, b), theta = atan(r), theta_d = theta * (1 +
k1 theta^2 + k2 theta^4 + k3 theta^6 + k4 theta^8), u = fx * theta_d / r * a + cx, v = fy * theta_d / r * b + cy.
Pixels of a `width` x `height` image. Resizing an image scales fx, cx with the width and fy, cy with the height; the
coefficients act on angles and stay as they are (`resized`).
"""

from __future__ import annotations

from typing import Annotated, Literal

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


class PinholeCamera(_Lens):
    model: Literal["pinhole"] = "pinhole"


class KannalaBrandtCamera(_Lens):
    """OpenCV's fisheye model (equidistant projection with an odd polynomial in theta), 4 coefficients."""

    model: Literal["kannala_brandt"] = "kannala_brandt"
    k1: _Finite
    k2: _Finite
    k3: _Finite
    k4: _Finite


CameraModel = Annotated[PinholeCamera | KannalaBrandtCamera, Field(discriminator="model")]
