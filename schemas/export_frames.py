"""The frame size of an export (`eidata export --frame-size`, `--frame-fit`): one size per exported camera, so that a
manifest across sources whose cameras differ in size becomes one dataset without ingesting again.

- `size`: `auto` (the default), `most-common`, `largest`, or WIDTHxHEIGHT. `most-common` is the size most of the
  exported episodes already have for that camera (ties: the larger): the fewest episodes are decoded and encoded
  again, the others keep their video byte for byte (a stream copy), and an export whose cameras agree is exactly what
  it was before this option. `auto` is `most-common` unless that shrinks some source's camera below what the stated
  default size, 224x224 (`DEFAULT_HW`) with the aspect ratio kept by padding, gives it: then 224x224 (issue 86: in a
  manifest with 25 Bridge episodes, a G1's 640x480 and a GR1's 256x256 cameras were exported at Bridge's 64x64).
  Under `auto`, a camera shrunk more than 2x in either side (`MAX_AUTO_SHRINK`) is refused: that takes an explicit
  `--frame-size`, so nobody trains on a thumbnail of a humanoid's camera by accident.
  `largest` keeps every pixel a source has but enlarges the small ones (a 64x64 Bridge frame
  into 480x640 is 75 times the pixels, nothing seen gained); a policy resizes its input to its own size anyway.
- `fit`: how a frame of another aspect ratio fits (`schemas.image_size.Fit`): `pad` (the default) scales the whole
  frame inside the size and centres it on black bars. That is what LeRobot's users get from LeRobot's own policies:
  lerobot 0.6.1 `policies/common/vla_utils.py` letterboxes a frame into a policy's input size, aspect ratio kept,
  black where there is no image: `resize_with_pad_torch` (pi0 / pi0.5, openpi's, centred) and `resize_with_pad`
  (SmolVLA, X-VLA: the bars left and top); we centre, as openpi. Padding drops no part of the scene, where `crop`
  (centre) would cut off a gripper at the edge and `squash` would change the shapes a policy learns. Black (0, 0, 0)
  is lerobot's fill (-1 after pi0's [-1, 1] scaling), unlike the ingest option's DINOv3-mean fill
  (`schemas.image_size.DEFAULT_PAD_RGB`), chosen for our own encoder.
"""

from __future__ import annotations

from collections import Counter

from pydantic import Field, field_validator

from schemas.frozen import Frozen
from schemas.image_size import Fit, FrameFit, Interpolation, PadColor, checked_size

AUTO = "auto"
MOST_COMMON = "most-common"
LARGEST = "largest"
BLACK = (0, 0, 0)

HW = tuple[int, int]  # (height, width), as a video feature's shape starts
DEFAULT_HW: HW = (224, 224)  # `auto`'s floor: the input size of the ViT policies a mixed export most often feeds
MAX_AUTO_SHRINK = 2.0  # `auto` shrinks no camera more than this in either side; past it, --frame-size must say so


def shrink(from_hw: HW, to_hw: HW) -> float:
    """How many times the frame shrinks in its most shrunk side fitted into `to_hw` (aspect kept: the content's scale
    is the smaller side ratio; <= 1 when it is enlarged)."""
    return max(from_hw[0] / to_hw[0], from_hw[1] / to_hw[1])


def size_text(hw: HW) -> str:
    """WIDTHxHEIGHT, as sizes are written on the command line."""
    return f"{hw[1]}x{hw[0]}"


class ExportFrames(Frozen):
    """The size every exported camera's frames have, and how a frame of another size fits it (module docstring)."""

    size: str = Field(
        AUTO,
        description="frame size of every exported camera: auto (the default: the size most exported episodes have, "
        "or 224x224, aspect kept by padding, where that would shrink a source's camera below its 224x224 fit; a "
        "camera shrunk more than 2x in either side is refused: give a size to accept it), most-common (the size most "
        "exported episodes have; the others are resized), largest, or WIDTHxHEIGHT (both even), e.g. 224x224",
    )
    fit: Fit = Field(
        Fit.pad,
        description="a frame of another aspect ratio: pad (letterbox on black, centred, as lerobot's "
        "resize_with_pad_torch) | crop (centre) | squash (stretched)",
    )
    pad_color: PadColor = Field(BLACK, description="RGB fill of the pad bars, 0..255")
    interpolation: Interpolation = Field("area", description="libswscale scaler: area | bilinear | bicubic | lanczos")

    @field_validator("size")
    @classmethod
    def _size(cls, v: str) -> str:
        return checked_size(v, (AUTO, MOST_COMMON, LARGEST))

    def target(self, sizes: Counter[HW]) -> HW:
        """The (height, width) of one camera given how many episodes hold it at each size."""
        if self.size not in (AUTO, MOST_COMMON, LARGEST):
            w, h = (int(x) for x in self.size.split("x"))
            return h, w
        if not sizes:
            raise ValueError(f"--frame-size {self.size}: no episode holds the camera")

        def area(hw: HW) -> int:
            return hw[0] * hw[1]

        if self.size == LARGEST:
            return max(sorted(sizes), key=lambda hw: (area(hw), sizes[hw]))
        common = max(sorted(sizes), key=lambda hw: (sizes[hw], area(hw)))
        if self.size == AUTO and any(shrink(hw, common) > max(1.0, shrink(hw, DEFAULT_HW)) for hw in sizes):
            return DEFAULT_HW  # the most common size would shrink a source below its default fit
        return common

    def refused_shrink(self, from_hw: HW, to_hw: HW) -> bool:
        """A camera `auto` may not shrink this much (`MAX_AUTO_SHRINK`); a size given is the user's choice."""
        return self.size == AUTO and shrink(from_hw, to_hw) > MAX_AUTO_SHRINK

    def fit_for(self, in_hw: HW, out_hw: HW) -> FrameFit | None:
        """How a frame of `in_hw` becomes `out_hw`; None when it is that size already."""
        if tuple(in_hw) == tuple(out_hw):
            return None
        return FrameFit.make(in_hw, out_hw, self.fit, self.pad_color, self.interpolation)
