"""Frames for the DINOv3 encoder: preprocessing against PIL's antialiased resize (an independent implementation) and
the processor's own defaults in transformers' source; frame selection at the latent rate; decoding from an mp4."""

from __future__ import annotations

import ast
import importlib.util
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from adapters.synthetic.video import synthetic_frame, write_mp4
from ingest.encoders.dinov3.frames import (
    LatentsInputError,
    PreprocessConfig,
    decode_resized,
    resize_frames,
)
from ingest.lerobot.video_read import decode_frames
from schemas.image_latents import latent_frame_indices
from tests.fixtures.dinov3 import decode_pixels, normalize_frames, preprocess


def _pil_reference(img: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """Per channel: rescale in float32, PIL resize of a float image (mode 'F'), normalize."""
    resample = {2: Image.BILINEAR, 3: Image.BICUBIC}[cfg.resample]
    out = []
    for c in range(3):
        ch = Image.fromarray(img[..., c].astype(np.float32) * np.float32(cfg.rescale_factor), mode="F")
        ch = ch.resize((cfg.size, cfg.size), resample)
        out.append((np.asarray(ch) - cfg.image_mean[c]) / cfg.image_std[c])
    return np.stack(out)


@pytest.mark.parametrize("shape", [(480, 640), (48, 64), (300, 200), (96, 128), (224, 224)])
def test_preprocess_matches_pil_antialiased_bilinear(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    noise = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    smooth = synthetic_frame(*shape, t=3)
    cfg = PreprocessConfig()
    ours = preprocess(np.stack([noise, smooth]), cfg)
    assert ours.shape == (2, 3, 224, 224) and ours.dtype == torch.float32
    for got, img in zip(ours, (noise, smooth), strict=True):
        # float32 resampling in two libraries: agreement to ~1e-5 of the normalized range (~4.5 wide)
        np.testing.assert_allclose(got.numpy(), _pil_reference(img, cfg), atol=2e-4, rtol=0)


def test_preprocess_bicubic_matches_pil() -> None:
    cfg = PreprocessConfig(resample=3)
    img = synthetic_frame(120, 160, t=1)
    np.testing.assert_allclose(preprocess(img[None], cfg)[0].numpy(), _pil_reference(img, cfg), atol=2e-3, rtol=0)


def test_resizing_before_rescaling_changes_only_float_rounding() -> None:
    frames = np.random.default_rng(5).integers(0, 256, (3, 240, 320, 3), dtype=np.uint8)
    cfg = PreprocessConfig()
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous() * cfg.rescale_factor  # the processor's order
    x = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False, antialias=True)
    ref = (x - torch.tensor(cfg.image_mean).view(-1, 1, 1)) / torch.tensor(cfg.image_std).view(-1, 1, 1)
    torch.testing.assert_close(preprocess(frames, cfg), ref, atol=2e-6, rtol=0)


def test_constant_frame_gives_known_values() -> None:
    img = np.full((37, 53, 3), (0, 128, 255), dtype=np.uint8)
    got = preprocess(img[None], PreprocessConfig())[0]
    want = [(0 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (1 - 0.406) / 0.225]
    for c in range(3):
        torch.testing.assert_close(got[c], torch.full((224, 224), want[c]), atol=1e-5, rtol=0)


def test_preprocess_rejects_non_uint8_or_bad_layout() -> None:
    with pytest.raises(ValueError, match="uint8 frames"):
        preprocess(np.zeros((1, 3, 8, 8), dtype=np.uint8), PreprocessConfig())
    with pytest.raises(ValueError, match="uint8 frames"):
        preprocess(np.zeros((1, 8, 8, 3), dtype=np.float32), PreprocessConfig())


def _processor_class_attrs() -> dict[str, str]:
    """Class attributes of transformers' DINOv3ViTImageProcessor, read from its source (importing it needs
    torchvision, which this project cannot install)."""
    spec = importlib.util.find_spec("transformers.models.dinov3_vit")
    assert spec is not None and spec.submodule_search_locations
    src = Path(next(iter(spec.submodule_search_locations))) / "image_processing_dinov3_vit.py"
    tree = ast.parse(src.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "DINOv3ViTImageProcessor")
    attrs = {
        t.id: ast.unparse(n.value)
        for n in cls.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    attrs["_preprocess"] = ast.unparse(
        next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "_preprocess")
    )
    return attrs


def test_defaults_are_the_dinov3_processors() -> None:
    from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

    attrs = _processor_class_attrs()
    cfg = PreprocessConfig()
    assert attrs["size"] == "{'height': 224, 'width': 224}" and cfg.size == 224
    assert attrs["resample"] == "PILImageResampling.BILINEAR" and cfg.resample == 2
    assert attrs["image_mean"] == "IMAGENET_DEFAULT_MEAN" and cfg.image_mean == tuple(IMAGENET_DEFAULT_MEAN)
    assert attrs["image_std"] == "IMAGENET_DEFAULT_STD" and cfg.image_std == tuple(IMAGENET_DEFAULT_STD)
    assert attrs["do_resize"] == attrs["do_rescale"] == attrs["do_normalize"] == "True"
    body = attrs["_preprocess"]  # rescale -> resize (antialias) -> normalize; `preprocess` resizes first (linear)
    assert body.index("self.rescale(") < body.index("self.resize(") < body.index("self.normalize(")
    assert "antialias=True" in body


def test_preprocessor_config_json_overrides_and_rejections(tmp_path: Path) -> None:
    assert PreprocessConfig.from_model_dir(tmp_path) == PreprocessConfig()  # no file: the processor's defaults
    conf = {"size": {"height": 256, "width": 256}, "resample": 3, "image_mean": [0.5, 0.5, 0.5],
            "image_std": [0.25, 0.25, 0.25], "rescale_factor": 0.00392156862745098, "do_center_crop": None}  # fmt: skip
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(conf))
    cfg = PreprocessConfig.from_model_dir(tmp_path)
    assert (cfg.size, cfg.resample, cfg.image_mean, cfg.image_std) == (256, 3, (0.5,) * 3, (0.25,) * 3)
    for bad, match in [
        ({"size": {"shortest_edge": 224}}, "square"),
        ({"do_center_crop": True}, "center_crop"),
        ({"resample": 1}, "resample"),
        ({"do_normalize": False}, "do_normalize"),
    ]:
        (tmp_path / "preprocessor_config.json").write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=match):
            PreprocessConfig.from_model_dir(tmp_path)


# -- frame selection ----------------------------------------------------------------------------------------------
def test_frame_indices_known_values() -> None:
    assert latent_frame_indices(11, 10, 3).tolist() == [0, 3, 7, 10]
    assert latent_frame_indices(40, 10, 3).tolist() == [0, 3, 7, 10, 13, 17, 20, 23, 27, 30, 33, 37]
    assert latent_frame_indices(10, 10, 2.5).tolist() == [0, 4, 8]
    assert latent_frame_indices(5, 10, 10).tolist() == [0, 1, 2, 3, 4]
    assert latent_frame_indices(20, 10, 4).tolist() == [0, 3, 5, 8, 10, 13, 15, 18]  # ties (2.5, 7.5...) round up
    assert latent_frame_indices(1, 10, 3).tolist() == [0]
    assert latent_frame_indices(0, 10, 3).tolist() == []


@settings(max_examples=300, deadline=None)
@given(
    length=st.integers(1, 3000),
    fps=st.sampled_from([10, 15, 29.97, 30, 5]),
    rate=st.sampled_from([0.5, 1, 2, 2.5, 3, 4, 5, 7.5, 10]),
)
def test_frame_indices_are_the_nearest_frames(length: int, fps: float, rate: float) -> None:
    if rate > fps:
        with pytest.raises(ValueError, match="above"):
            latent_frame_indices(length, fps, rate)
        return
    idx = latent_frame_indices(length, fps, rate)
    assert idx.dtype == np.int64 and idx[0] == 0
    assert np.all(np.diff(idx) > 0) and idx[-1] <= length - 1
    step = Fraction(fps).limit_denominator(10**6) / Fraction(rate).limit_denominator(10**6)
    for k, i in enumerate(idx.tolist()):
        t = k * step  # the sample time, in frames
        assert abs(i - t) <= Fraction(1, 2) and (abs(i - t) < Fraction(1, 2) or i > t)  # nearest, ties up
    assert (len(idx)) * step > length - 1  # the next sample time would fall past the last frame
    np.testing.assert_array_equal(latent_frame_indices(length, fps, rate), idx)  # deterministic


def test_frame_indices_reject_bad_rates() -> None:
    with pytest.raises(ValueError, match="above"):
        latent_frame_indices(10, 10, 12)
    with pytest.raises(ValueError, match="positive"):
        latent_frame_indices(10, 10, 0)


# -- the latents job's wire: uint8 frames resized on the CPU, normalized on the encoder's device ----------------------
@pytest.mark.parametrize("resample", [2, 3])
def test_uint8_resize_is_the_processors_rounded(resample: int) -> None:
    """Resized to uint8 (DINOv3's reference transform resizes the uint8 image): at most one level (bilinear, torch's
    fixed-point kernel) or half a level (bicubic, float then rounded) from the processor's float resize, clipped to
    [0, 255]."""
    cfg = PreprocessConfig(resample=resample)
    rng = np.random.default_rng(resample)
    frames = np.stack([rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), synthetic_frame(120, 160, t=2)])
    got = resize_frames(frames, cfg)
    assert got.dtype == torch.uint8 and got.shape == (2, 3, 224, 224) and got.is_contiguous()
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    mode = {2: "bilinear", 3: "bicubic"}[resample]
    ref = torch.nn.functional.interpolate(x, size=(224, 224), mode=mode, align_corners=False, antialias=True)
    step = (got.float() - ref.clamp(0, 255)).abs().max().item()
    assert step <= (1.0 if resample == 2 else 0.5) + 1e-3
    if resample == 2:  # bilinear never overshoots [0, 255]: at most one level, rescale / std (0.0175 at most)
        pixel = (normalize_frames(got, cfg) - preprocess(frames, cfg)).abs().amax(dim=(0, 2, 3))
        levels = torch.tensor([cfg.rescale_factor / s for s in cfg.image_std])
        assert (pixel <= levels + 1e-4).all() and pixel.max() > 0
    else:  # bicubic overshoots at edges; a uint8 image (the reference transform's too) clips there
        assert (ref < 0).any() or (ref > 255).any()


def test_frames_at_the_model_size_pass_through_exactly() -> None:
    """No resize, so the device normalization gives the processor's float32 values bit for bit."""
    frames = np.random.default_rng(5).integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    cfg = PreprocessConfig()
    got = resize_frames(frames, cfg)
    assert torch.equal(got, torch.from_numpy(frames).permute(0, 3, 1, 2))
    assert torch.equal(normalize_frames(got, cfg), preprocess(frames, cfg))


# -- decoding -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("wire", ["float32", "uint8"])
def test_decoding_equals_decode_then_convert(tmp_path: Path, wire: str) -> None:
    """`decode_pixels` (the processor's float32 values) and `decode_resized` (the latents job's uint8 frames, a quarter
    of the bytes) convert in chunks what converting one frame at a time gives."""
    video = tmp_path / "ep.mp4"
    write_mp4(video, (synthetic_frame(72, 96, t) for t in range(40)), fps=10)
    idx = latent_frame_indices(40, 10, 3)
    cfg = PreprocessConfig()
    decode, convert = (decode_pixels, preprocess) if wire == "float32" else (decode_resized, resize_frames)
    got = decode(video, idx, cfg)
    frames = dict(decode_frames(video, idx.tolist()))
    assert str(got.dtype) == f"torch.{wire}" and got.nbytes == len(idx) * 3 * 224 * 224 * got.element_size()
    assert torch.equal(got, torch.cat([convert(frames[i][None], cfg) for i in idx.tolist()]))
    with pytest.raises(LatentsInputError, match=r"missing\.mp4"):
        decode(tmp_path / "missing.mp4", [0], cfg)


def test_decode_pixels_names_the_file_when_the_video_is_short_or_broken(tmp_path: Path) -> None:
    video = tmp_path / "short.mp4"
    write_mp4(video, (synthetic_frame(48, 64, t) for t in range(5)), fps=10)
    with pytest.raises(LatentsInputError, match=r"short\.mp4: has 2 of the 3 frames"):
        decode_pixels(video, [0, 3, 7], PreprocessConfig())
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not an mp4 at all" * 10)
    with pytest.raises(LatentsInputError, match=r"broken\.mp4: cannot decode"):
        decode_pixels(broken, [0], PreprocessConfig())
    with pytest.raises(LatentsInputError, match=r"missing\.mp4"):
        decode_pixels(tmp_path / "missing.mp4", [0], PreprocessConfig())
