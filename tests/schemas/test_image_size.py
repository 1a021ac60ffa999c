"""`schemas.image_size`: the stored-size option as a spec writes it, and the fit geometry (sizes, offsets, the pixel
map and intrinsics) checked against LLaVA's `expand2square` followed by a square resize, done by hand."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from schemas.image_size import DEFAULT_PAD_RGB, Fit, FrameFit, ImageSize, ImageSpec


def test_default_is_native_everywhere() -> None:
    spec = ImageSpec()
    assert spec.resolve("egodex", "head").plan((1080, 1920)) is None


@pytest.mark.parametrize("size", ["224", "224x", "223x224", "0x0", "224x224x3", "big"])
def test_bad_sizes_are_refused_with_the_reason(size: str) -> None:
    with pytest.raises(ValidationError, match="size"):
        ImageSize(size=size)


def test_the_most_specific_entry_wins() -> None:
    spec = ImageSpec.model_validate({
        "size": "224x224", "fit": "pad",
        "cameras": {"wrist_left": {"size": "native"}},
        "sources": {"ego4d": {"size": "256x256", "fit": "crop", "cameras": {"head": {"size": "128x128"}}}},
    })  # fmt: skip
    assert spec.resolve("egodex", "head").hw == (224, 224) and spec.resolve("egodex", "head").fit is Fit.pad
    assert spec.resolve("egodex", "wrist_left").hw is None
    assert spec.resolve("ego4d", "third_person").hw == (256, 256) and spec.resolve("ego4d", "wrist_left").fit == "crop"
    assert spec.resolve("ego4d", "head").hw == (128, 128)


def test_unknown_keys_and_cameras_are_refused() -> None:
    with pytest.raises(ValidationError):
        ImageSpec.model_validate({"size": "224x224", "fitt": "pad"})
    with pytest.raises(ValidationError):
        ImageSpec.model_validate({"cameras": {"belly": {"size": "224x224"}}})


def _expand2square_then_resize(h: int, w: int, side: int) -> np.ndarray:
    """Pixel map of LLaVA's recipe done by hand: paste on a max(h, w) square at (long - short) // 2, then resize the
    square to side x side (centre to centre)."""
    long = max(h, w)
    oy, ox = ((long - h) // 2, 0) if w > h else (0, (long - w) // 2)
    s = side / long
    return np.array([[s, 0, (ox + 0.5) * s - 0.5], [0, s, (oy + 0.5) * s - 0.5], [0, 0, 1]])


@pytest.mark.parametrize("hw", [(1080, 1920), (480, 640), (640, 480)])
def test_pad_matches_expand2square_then_resize(hw: tuple[int, int]) -> None:
    fit = FrameFit.make(hw, (224, 224), "pad")
    assert fit.pad_rgb == DEFAULT_PAD_RGB == tuple(int(255 * m) for m in (0.485, 0.456, 0.406))
    assert max(fit.scaled_hw) == 224
    # rounding the scaled size moves the image by well under a pixel against the exact square recipe
    corners = np.array([[0, 0, 1], [hw[1] - 1, hw[0] - 1, 1]], float).T
    np.testing.assert_allclose(fit.pixel_map @ corners, _expand2square_then_resize(*hw, 224) @ corners, atol=0.5)


def test_1080p_sizes_and_offsets() -> None:
    pad = FrameFit.make((1080, 1920), (224, 224), "pad")
    assert pad.scaled_hw == (126, 224) and pad.offset_yx == (49, 0)
    crop = FrameFit.make((1080, 1920), (224, 224), "crop")
    assert crop.scaled_hw == (224, 398) and crop.offset_yx == (0, 87)
    squash = FrameFit.make((1080, 1920), (224, 224), "squash")
    assert squash.scaled_hw == (224, 224) and squash.offset_yx == (0, 0)


@pytest.mark.parametrize("fit", list(Fit))
def test_intrinsics_follow_the_pixel_map(fit: Fit) -> None:
    """Projecting with the stored K lands where the source pixel lands after the fit (a point, any depth)."""
    K = np.array([[736.6339, 0, 960], [0, 736.6339, 540], [0, 0, 1]])
    plan = FrameFit.make((1080, 1920), (224, 224), fit)
    pts = np.array([[0.1, -0.2, 0.5], [-0.3, 0.1, 1.2], [0.0, 0.0, 2.0]])
    uv = (K @ pts.T).T
    uv /= uv[:, 2:]
    uv2 = (plan.intrinsics(K) @ pts.T).T
    uv2 /= uv2[:, 2:]
    np.testing.assert_allclose(uv2, (plan.pixel_map @ uv.T).T, atol=1e-9)
    Ks = plan.intrinsics(K)
    assert Ks[0, 1] == 0 and Ks[2].tolist() == [0, 0, 1]
    if fit is not Fit.squash:  # aspect kept: the same focal length on both axes, within the size rounding
        assert abs(Ks[0, 0] / Ks[1, 1] - 1) < 2e-3


def test_place_pads_with_the_fill_and_crops_the_centre() -> None:
    pad = FrameFit.make((1080, 1920), (224, 224), "pad", pad_rgb=(1, 2, 3))
    out = pad.place(np.full((126, 224, 3), 200, np.uint8))
    assert out.shape == (224, 224, 3)
    assert (out[:49] == (1, 2, 3)).all() and (out[49 + 126 :] == (1, 2, 3)).all() and (out[49:175] == 200).all()
    crop = FrameFit.make((1080, 1920), (224, 224), "crop")
    scaled = np.arange(224 * 398 * 3, dtype=np.uint32).reshape(224, 398, 3)
    got = crop.place(scaled)
    assert got.flags.c_contiguous and (got == scaled[:, 87 : 87 + 224]).all()
    with pytest.raises(ValueError, match="scaled frame"):
        crop.place(scaled[:, :300])
