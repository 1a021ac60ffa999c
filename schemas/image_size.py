"""The stored camera size: a job-spec option (`canonicalize.image`) and the geometry of fitting a frame to it.

`ImageSpec` says, per source and per camera, whether frames keep their native size (the default) or are stored at a
training size such as 224x224, and how a frame of another aspect ratio fits it:

- `pad`: scale the whole frame to fit inside, centre it on a canvas of `pad_color` (LLaVA's `expand2square`, which
  pastes at `(side - short) // 2` on a square filled with `int(255 * mean)` of the vision encoder's image mean:
  haotian-liu/LLaVA, llava/mm_utils.py `expand2square` / `process_images`, commit 0f2e215). Our vision encoder is
  DINOv3 with the ImageNet mean (`ingest/encoders/dinov3/frames.py`), so the default fill is (123, 116, 103): zero
  after the encoder's normalization. LDA's own `expand2square` is not in the offline mirror (only its README): that
  LDA passes the same fill is an assumption.
- `crop`: scale to cover, keep the centre.
- `squash`: scale each axis to the size, aspect ratio not kept.

`FrameFit` is the plan for one camera: the size libswscale scales to (`scaled_hw`), where that scaled image sits in the
stored one (`offset_yx`: the canvas position for pad, the crop start for crop) and the intrinsics of the stored frame.
Pixel centres are at integer coordinates (OpenCV's pinhole convention, the one `ingest.qa.geometry` projects with),
and a resize maps them as libswscale and `cv2.resize` do, centre to centre: u' = (u + 0.5) * s - 0.5 (measured to
0.15 px with sub-pixel spots through both, `tests/adapters/test_cameras.py`). A source whose K counts from pixel
corners instead (EgoDex's cx = 960 for 1920 columns may be one; not settled by Apple's code) is off by half a native
pixel either way: 0.06 px at 224 from 1080p.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

import numpy as np
from pydantic import AfterValidator, Field, field_validator

from schemas.canonical import Camera
from schemas.frozen import Frozen

NATIVE = "native"
_SIZE = re.compile(r"(\d+)x(\d+)")
# int(255 * x) of the ImageNet mean (0.485, 0.456, 0.406) that DINOv3's processor normalizes with, as LLaVA derives
# its pad colour from its vision encoder's `image_mean`.
DEFAULT_PAD_RGB = (123, 116, 103)


class Fit(StrEnum):
    pad = "pad"
    crop = "crop"
    squash = "squash"


Interpolation = Literal["area", "bilinear", "bicubic", "lanczos"]


def checked_size(v: str, words: tuple[str, ...]) -> str:
    """A size option's value: one of `words`, or WIDTHxHEIGHT with both even (yuv420p video); ValueError else."""
    v = v.strip().lower()
    if v in words:
        return v
    m = _SIZE.fullmatch(v)
    if m is None:
        said = " or ".join(repr(w) for w in words)
        raise ValueError(f"size must be {said} or WIDTHxHEIGHT such as 224x224, got {v!r}")
    w, h = int(m[1]), int(m[2])
    if w < 2 or h < 2 or w % 2 or h % 2:
        raise ValueError(f"size {v}: width and height must be even and >= 2 (yuv420p video), got {w}x{h}")
    return v


def checked_color(v: tuple[int, int, int]) -> tuple[int, int, int]:
    """An RGB fill, each component 0..255; ValueError else."""
    if any(not 0 <= c <= 255 for c in v):
        raise ValueError(f"pad_color components must be 0..255, got {list(v)}")
    return v


PadColor = Annotated[tuple[int, int, int], AfterValidator(checked_color)]


class ImageSize(Frozen):
    """One camera's stored size and how a frame fits it."""

    size: str = Field(
        NATIVE,
        description="'native' (keep the source's size) or WIDTHxHEIGHT in pixels, both even (yuv420p), e.g. 224x224",
    )
    fit: Fit = Field(Fit.pad, description="pad (letterbox, as expand2square) | crop (centre) | squash (plain resize)")
    pad_color: PadColor = Field(DEFAULT_PAD_RGB, description="RGB fill of the pad bars, 0..255")
    interpolation: Interpolation = Field(
        "area", description="libswscale scaler: area (default: fast, anti-aliased when shrinking) | bilinear | ..."
    )

    @field_validator("size")
    @classmethod
    def _size(cls, v: str) -> str:
        return checked_size(v, (NATIVE,))

    @property
    def hw(self) -> tuple[int, int] | None:
        """(height, width) of the stored frames; None for native."""
        if self.size == NATIVE:
            return None
        w, h = (int(x) for x in self.size.split("x"))
        return h, w

    def plan(self, in_hw: tuple[int, int]) -> FrameFit | None:
        """The fit of a (height, width) source frame; None when frames are stored as they are."""
        out = self.hw
        if out is None or tuple(in_hw) == out:
            return None
        return FrameFit.make(in_hw, out, self.fit, self.pad_color, self.interpolation)


class SourceImageSize(ImageSize):
    """A source's stored size, with per-camera exceptions."""

    cameras: dict[Camera, ImageSize] = Field(default_factory=dict, description="per canonical camera, overrides")


class ImageSpec(SourceImageSize):
    """The job's stored camera size: the top level for every camera, `cameras` per canonical camera, `sources` per
    source name (each with its own `cameras`). The most specific entry wins: sources.<name>.cameras.<camera>, then
    sources.<name>, then cameras.<camera>, then the top level. Default: every camera native."""

    sources: dict[str, SourceImageSize] = Field(default_factory=dict, description="per job source name, overrides")

    def resolve(self, source: str | None, camera: Camera | str | None) -> ImageSize:
        src = (self.sources.get(source) if source is not None else None) or self
        own = src.cameras.get(Camera(camera)) if camera in set(Camera) else None
        return own or ImageSize(**src.model_dump(exclude={"cameras", "sources"}))


@dataclass(frozen=True)
class FrameFit:
    """How one camera's (height, width) `in_hw` frames become `out_hw` ones (see the module docstring)."""

    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    fit: Fit
    scaled_hw: tuple[int, int]  # what the scaler produces
    offset_yx: tuple[int, int]  # pad: the scaled image's corner in the output; crop: the output's corner in it
    pad_rgb: tuple[int, int, int] = DEFAULT_PAD_RGB
    interpolation: Interpolation = "area"

    @classmethod
    def make(
        cls,
        in_hw: tuple[int, int],
        out_hw: tuple[int, int],
        fit: Fit | str,
        pad_rgb: tuple[int, int, int] = DEFAULT_PAD_RGB,
        interpolation: Interpolation = "area",
    ) -> FrameFit:
        (h, w), (oh, ow), fit = (int(in_hw[0]), int(in_hw[1])), (int(out_hw[0]), int(out_hw[1])), Fit(fit)
        if min(h, w, oh, ow) < 1:
            raise ValueError(f"cannot fit a {w}x{h} frame to {ow}x{oh}")
        if fit is Fit.squash:
            scaled, offset = (oh, ow), (0, 0)
        elif fit is Fit.pad:
            s = min(oh / h, ow / w)
            scaled = (max(1, min(oh, round(h * s))), max(1, min(ow, round(w * s))))
            offset = ((oh - scaled[0]) // 2, (ow - scaled[1]) // 2)
        else:
            s = max(oh / h, ow / w)
            scaled = (max(oh, round(h * s)), max(ow, round(w * s)))
            offset = ((scaled[0] - oh) // 2, (scaled[1] - ow) // 2)
        return cls((h, w), (oh, ow), fit, scaled, offset, tuple(pad_rgb), interpolation)  # type: ignore[arg-type]

    @property
    def pixel_map(self) -> np.ndarray:
        """3x3 A with [u', v', 1] = A [u, v, 1]: source pixel coordinates to stored ones (centres at integers)."""
        sy, sx = self.scaled_hw[0] / self.in_hw[0], self.scaled_hw[1] / self.in_hw[1]
        sign = 1 if self.fit is Fit.pad else -1  # pad shifts the image into the canvas, crop shifts the window
        ty, tx = 0.5 * sy - 0.5 + sign * self.offset_yx[0], 0.5 * sx - 0.5 + sign * self.offset_yx[1]
        return np.array([[sx, 0.0, tx], [0.0, sy, ty], [0.0, 0.0, 1.0]])

    def intrinsics(self, K: np.ndarray) -> np.ndarray:
        """The pinhole matrix of the stored frames: fx, fy (and skew) scaled, cx, cy scaled and shifted."""
        return self.pixel_map @ np.asarray(K, dtype=np.float64)

    def place(self, scaled: np.ndarray) -> np.ndarray:
        """The stored HxWx3 frame from the scaler's `scaled_hw` output: padded onto the canvas, or its centre."""
        if scaled.shape[:2] != self.scaled_hw:
            raise ValueError(f"expected a scaled frame of {self.scaled_hw}, got {scaled.shape[:2]}")
        (oh, ow), (y, x), (sh, sw) = self.out_hw, self.offset_yx, self.scaled_hw
        if self.fit is Fit.squash:
            return scaled
        if self.fit is Fit.crop:
            return np.ascontiguousarray(scaled[y : y + oh, x : x + ow])
        out = np.empty((oh, ow, scaled.shape[2]), dtype=scaled.dtype)
        # only the bars get the fill: the image area is written once
        out[:y], out[y + sh :], out[y : y + sh, :x], out[y : y + sh, x + sw :] = (self.pad_rgb,) * 4
        out[y : y + sh, x : x + sw] = scaled
        return out
