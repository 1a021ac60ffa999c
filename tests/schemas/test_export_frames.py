"""The export's frame-size option: each camera's size from the sizes its episodes hold (auto by default: the most
common unless it shrinks a source below its 224x224 fit; most common, ties to the larger; the largest; a given one),
the fit of a frame of another size, and field-level refusals."""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import ValidationError

from schemas.export_frames import ExportFrames, shrink, size_text
from schemas.image_size import Fit


def test_most_common_is_the_size_most_episodes_have_ties_to_the_larger() -> None:
    frames = ExportFrames(size="most-common")
    assert frames.fit is Fit.pad and frames.pad_color == (0, 0, 0)
    assert frames.target(Counter({(64, 64): 3, (256, 256): 2, (480, 640): 1})) == (64, 64)
    assert frames.target(Counter({(64, 64): 2, (256, 256): 2})) == (256, 256)
    assert ExportFrames(size="largest").target(Counter({(64, 64): 3, (480, 640): 1, (256, 256): 2})) == (480, 640)
    assert ExportFrames(size=" 224X160 ").target(Counter({(64, 64): 1})) == (160, 224)  # WIDTHxHEIGHT
    with pytest.raises(ValueError, match="no episode holds the camera"):
        frames.target(Counter())


def test_auto_keeps_the_most_common_size_unless_it_shrinks_a_source_below_224x224() -> None:
    """Issue 86 item 2: by default (auto) a 640x480 and a 256x256 camera are no longer shrunk to the 64x64 most of
    the episodes (Bridge's) have: the most common size is kept only when it shrinks no source below its 224x224 fit
    (aspect kept by padding); else 224x224. Shrinking more than 2x in a side is for an explicit --frame-size."""
    frames = ExportFrames()
    assert frames.size == "auto" and frames.fit is Fit.pad
    assert frames.target(Counter({(64, 64): 25, (256, 256): 5, (480, 640): 6})) == (224, 224)
    assert frames.target(Counter({(64, 64): 3, (256, 256): 2})) == (224, 224)  # 256 -> 64 is below its 224 fit
    assert frames.target(Counter({(32, 48): 5, (16, 24): 1})) == (32, 48)  # enlarging the small one shrinks nothing
    assert frames.target(Counter({(256, 256): 3, (224, 224): 2})) == (256, 256)  # 224 enlarged, none shrunk
    assert frames.target(Counter({(240, 320): 3, (256, 256): 2})) == (240, 320)  # 256 -> 240: above its 224 fit
    assert frames.refused_shrink((480, 640), (224, 224)) and not frames.refused_shrink((448, 448), (224, 224))
    assert not ExportFrames(size="224x224").refused_shrink((480, 640), (224, 224))  # the user said so
    assert shrink((480, 640), (224, 224)) == pytest.approx(640 / 224) and shrink((64, 64), (224, 224)) < 1


def test_a_frame_fits_the_size_with_its_aspect_ratio_kept_on_black() -> None:
    frames = ExportFrames()
    assert frames.fit_for((64, 64), (64, 64)) is None  # already at the size: copied as it is
    fit = frames.fit_for((480, 640), (64, 64))
    assert fit is not None and fit.fit is Fit.pad and fit.scaled_hw == (48, 64) and fit.offset_yx == (8, 0)
    assert fit.pad_rgb == (0, 0, 0)
    crop = ExportFrames(fit="crop").fit_for((480, 640), (64, 64))
    assert crop is not None and crop.scaled_hw == (64, 85) and crop.offset_yx == (0, 10)
    assert ExportFrames(fit="squash").fit_for((480, 640), (64, 64)).scaled_hw == (64, 64)  # type: ignore[union-attr]
    assert size_text((480, 640)) == "640x480"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("size", "223x224", "width and height must be even"),
        ("size", "big", "'auto' or 'most-common' or 'largest' or WIDTHxHEIGHT"),
        ("fit", "stretch", "'pad', 'crop' or 'squash'"),
        ("pad_color", (0, 0, 300), "0..255"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as e:
        ExportFrames(**{field: value})
    assert e.value.errors()[0]["loc"] == (field,)
