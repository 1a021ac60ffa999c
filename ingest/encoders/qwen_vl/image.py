"""Qwen2-VL / Qwen3-VL image preprocessing by hand, exactly as `Qwen2VLImageProcessorPil` does it.

The processors of transformers cannot all be built without torchvision, which eidata does not install (docker/README.md,
"Install traps"): in transformers 5.23 `Qwen3VLVideoProcessor` needs it and `Qwen3VLProcessor` then fails to build, so
frames become model inputs here: resize to a multiple of patch x merge within the pixel budget (`smart_resize`, PIL
bicubic on uint8), rescale in float64 then float32, normalize, and cut into `temporal_patch_size` copies of each patch,
flattened in the order the vision tower expects. The settings come from the model folder's `preprocessor_config.json`,
which must be there. Pure functions of arrays.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

PREPROCESSOR_CONFIG = "preprocessor_config.json"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # the processor's defaults (OPENAI_CLIP_MEAN / _STD)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class VLMError(RuntimeError):
    """The model folder cannot be used (missing files, another architecture, a tokenizer without Qwen's tokens)."""


class QwenImageConfig(BaseModel):
    """What `Qwen2VLImageProcessorPil` reads from `preprocessor_config.json`; defaults are the processor's own."""

    model_config = ConfigDict(frozen=True)

    patch_size: int = Field(14, gt=0)
    temporal_patch_size: int = Field(2, gt=0)
    merge_size: int = Field(2, gt=0)
    min_pixels: int = Field(56 * 56, gt=0, description="size.shortest_edge: the least pixels after resizing")
    max_pixels: int = Field(28 * 28 * 1280, gt=0, description="size.longest_edge: the most pixels after resizing")
    image_mean: tuple[float, float, float] = CLIP_MEAN
    image_std: tuple[float, float, float] = CLIP_STD
    rescale_factor: float = 1 / 255
    resample: int = Field(int(Image.Resampling.BICUBIC), description="PIL resampling filter")
    do_resize: bool = True
    do_rescale: bool = True
    do_normalize: bool = True

    @property
    def factor(self) -> int:
        return self.patch_size * self.merge_size

    @property
    def patch_dim(self) -> int:
        return 3 * self.temporal_patch_size * self.patch_size**2

    @classmethod
    def from_processor_json(cls, raw: dict[str, Any], **fallback: Any) -> QwenImageConfig:
        """From a preprocessor config's keys (`size` {shortest_edge, longest_edge} or the older `min_pixels` /
        `max_pixels`); `fallback` fills what the file leaves out (e.g. patch sizes from the model config)."""
        size = raw.get("size") or {}
        values: dict[str, Any] = dict(fallback)
        for key in cls.model_fields.keys() - {"min_pixels", "max_pixels"}:  # the file's own keys, read as they are
            if raw.get(key) is not None:
                values[key] = raw[key]
        for key, size_keys in (
            ("min_pixels", ("shortest_edge", "min_pixels")),
            ("max_pixels", ("longest_edge", "max_pixels")),
        ):
            found = next((v for v in [*(size.get(k) for k in size_keys), raw.get(key)] if v is not None), None)
            if found is not None:
                values[key] = found
        return cls.model_validate(values)

    @classmethod
    def from_model_dir(cls, path: Path, vision_config: Any = None) -> QwenImageConfig:
        """The folder's `preprocessor_config.json`; keys it leaves out are the processor's defaults, patch sizes the
        vision tower's. A folder without the file is an error, not the defaults: those are Qwen2-VL's CLIP mean/std,
        and Qwen3-VL's release normalizes with 0.5/0.5 (audit S14), so every frame would reach the model shifted."""
        v, fallback = vision_config, {}
        if v is not None:
            fallback = {"patch_size": v.patch_size, "temporal_patch_size": v.temporal_patch_size}
            fallback["merge_size"] = v.spatial_merge_size
        file = Path(path) / PREPROCESSOR_CONFIG
        if not file.is_file():
            raise VLMError(
                f"{Path(path)}: no {PREPROCESSOR_CONFIG}; the image mean/std and pixel budget come from it (without it "
                "the processor's defaults would be Qwen2-VL's CLIP mean/std, not Qwen3-VL's 0.5/0.5): copy "
                f"{PREPROCESSOR_CONFIG} from the model's release into the folder"
            )
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise VLMError(f"{file}: unreadable ({e})") from e
        return cls.from_processor_json(raw, **fallback)


def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """(height, width) divisible by `factor`, within [min_pixels, max_pixels], keeping the aspect ratio (the Qwen
    processors' rule, repeated here to the letter since the processor classes cannot be used)."""
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio must be below 200, got {height}x{width}")
    h_bar, w_bar = round(height / factor) * factor, round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def preprocess_image(rgb: np.ndarray, cfg: QwenImageConfig) -> tuple[np.ndarray, tuple[int, int, int]]:
    """One HxWx3 uint8 RGB frame -> (patches [gh*gw, 3*T*p*p] float32, grid (1, gh, gw)), as the processor's
    `pixel_values` and `image_grid_thw` rows."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB frame, got {rgb.dtype} {rgb.shape}")
    image = rgb
    if cfg.do_resize:
        h, w = smart_resize(rgb.shape[0], rgb.shape[1], cfg.factor, cfg.min_pixels, cfg.max_pixels)
        image = np.asarray(Image.fromarray(rgb).resize((w, h), resample=Image.Resampling(cfg.resample)))
    x = image.transpose(2, 0, 1)  # channel-first, as the processor works
    # the processor upcasts to float64 before rescaling, then stores float32
    x = (x.astype(np.float64) * cfg.rescale_factor).astype(np.float32) if cfg.do_rescale else x.astype(np.float32)
    if cfg.do_normalize:
        mean, std = np.array(cfg.image_mean, dtype=np.float32), np.array(cfg.image_std, dtype=np.float32)
        x = ((x.T - mean) / std).T
    return patchify(x, cfg)


def patchify(x: np.ndarray, cfg: QwenImageConfig) -> tuple[np.ndarray, tuple[int, int, int]]:
    """A normalized CxHxW image -> flat patches in (merge block, row, column) order, each patch repeated over the
    temporal patch (a still image is a clip of `temporal_patch_size` identical frames)."""
    c, h, w = x.shape
    p, m, t = cfg.patch_size, cfg.merge_size, cfg.temporal_patch_size
    if h % (p * m) or w % (p * m):
        raise ValueError(f"image {h}x{w} is not a multiple of patch x merge = {p * m}")
    gh, gw = h // p, w // p
    patches = x.reshape(c, gh // m, m, p, gw // m, m, p).transpose(1, 4, 2, 5, 0, 3, 6)  # (gh, gw, mh, mw, C, p, p)
    patches = np.broadcast_to(patches[:, :, :, :, :, None], (*patches.shape[:5], t, p, p))
    return np.ascontiguousarray(patches.reshape(gh * gw, c * t * p * p), dtype=np.float32), (1, gh, gw)


def preprocess_frames(frames: list[np.ndarray], cfg: QwenImageConfig) -> tuple[np.ndarray, np.ndarray]:
    """Several frames -> (pixel_values [sum of patches, patch_dim] float32, image_grid_thw [n, 3] int64)."""
    out = [preprocess_image(f, cfg) for f in frames]
    if not out:
        return np.zeros((0, cfg.patch_dim), np.float32), np.zeros((0, 3), np.int64)
    return np.concatenate([p for p, _ in out]), np.array([g for _, g in out], dtype=np.int64)
