"""Hand-made Qwen-VL image inputs equal `Qwen2VLImageProcessorPil`'s (the reference transformers ships) to the bit."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.encoders.qwen_vl.image import QwenImageConfig, VLMError, patchify, preprocess_frames, smart_resize

SETTINGS: list[tuple[tuple[int, int], dict[str, Any]]] = [
    ((96, 128), {"patch_size": 16, "merge_size": 2, "min_pixels": 64 * 64, "max_pixels": 160 * 160}),  # upscale
    (
        (480, 640),
        {
            "patch_size": 16,
            "image_mean": [0.5] * 3,
            "image_std": [0.5] * 3,
            "size": {"shortest_edge": 65536, "longest_edge": 448 * 448},
        },
    ),  # downscale, Qwen3-VL's mean/std
    ((50, 300), {}),  # the processor's defaults: patch 14, CLIP mean/std
    ((224, 224), {"patch_size": 16, "min_pixels": 224 * 224, "max_pixels": 224 * 224}),  # no resize
]


def _reference(images: list[np.ndarray], kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "torchvision is not available, falling back to the PIL processor"
        from transformers import Qwen2VLImageProcessorPil

        proc = Qwen2VLImageProcessorPil(**kwargs)
        return proc(images=images, return_tensors="np"), proc.to_dict()


@pytest.mark.parametrize(("shape", "kwargs"), SETTINGS)
def test_inputs_equal_the_processors(shape: tuple[int, int], kwargs: dict[str, Any]) -> None:
    rng = np.random.default_rng(shape[0])
    images = [rng.integers(0, 256, (*shape, 3), dtype=np.uint8) for _ in range(3)]
    ref, saved = _reference(images, kwargs)
    cfg = QwenImageConfig.from_processor_json(json.loads(json.dumps(saved, default=int)))  # as read from disk
    pixels, grids = preprocess_frames(images, cfg)
    assert grids.tolist() == ref["image_grid_thw"].tolist()
    assert pixels.dtype == np.float32 and pixels.shape == ref["pixel_values"].shape
    assert np.array_equal(pixels, ref["pixel_values"])


def test_smart_resize_keeps_budget_and_factor() -> None:
    for h, w in [(96, 128), (480, 640), (1080, 1920), (50, 300), (33, 33)]:
        rh, rw = smart_resize(h, w, 32, 64 * 64, 448 * 448)
        assert rh % 32 == 0 and rw % 32 == 0 and 64 * 64 <= rh * rw <= 448 * 448
        assert abs(rh / rw - h / w) < 0.35 * h / w
    with pytest.raises(ValueError, match="aspect ratio"):
        smart_resize(10, 3000, 28, 56 * 56, 1 << 20)


def test_patch_layout_is_merge_block_major() -> None:
    """Patches of one 2x2 merge block are adjacent rows (what the vision tower's merger expects)."""
    cfg = QwenImageConfig(patch_size=2, merge_size=2, temporal_patch_size=2)
    x = np.arange(4 * 8, dtype=np.float32).reshape(1, 4, 8).repeat(3, axis=0)  # patch value = its top-left pixel
    patches, grid = patchify(x, cfg)
    assert grid == (1, 2, 4)
    top_left = patches[:, 0]  # channel 0, t 0, pixel (0, 0) of each patch
    assert top_left.tolist() == [0, 2, 16, 18, 4, 6, 20, 22]
    per_t = patches.reshape(8, 3, 2, 4)
    assert np.array_equal(per_t[:, :, 0], per_t[:, :, 1])  # a still image repeats over the temporal patch


def test_config_from_model_folder(tmp_path: Path) -> None:
    class Vision:
        patch_size, temporal_patch_size, spatial_merge_size = 16, 2, 2

    # no preprocessor_config.json: an error naming the folder and the file, never the processor's CLIP mean/std
    with pytest.raises(VLMError, match=rf"{tmp_path}: no preprocessor_config\.json.*CLIP"):
        QwenImageConfig.from_model_dir(tmp_path, Vision())
    (tmp_path / "preprocessor_config.json").write_text("{not json")
    with pytest.raises(VLMError, match="unreadable"):
        QwenImageConfig.from_model_dir(tmp_path, Vision())
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({}))
    fallback = QwenImageConfig.from_model_dir(tmp_path, Vision())  # keys the file leaves out: the processor's own
    assert (fallback.patch_size, fallback.merge_size, fallback.min_pixels) == (16, 2, 56 * 56)
    (tmp_path / "preprocessor_config.json").write_text(
        json.dumps({"min_pixels": 1024, "max_pixels": 4096, "image_mean": [0.5] * 3})
    )
    old_style = QwenImageConfig.from_model_dir(tmp_path, Vision())  # Qwen2-VL's top-level min/max_pixels
    assert (old_style.patch_size, old_style.min_pixels, old_style.max_pixels) == (16, 1024, 4096)
    assert old_style.image_mean == (0.5, 0.5, 0.5) and old_style.image_std == fallback.image_std
    with pytest.raises(ValueError, match="uint8"):
        preprocess_frames([np.zeros((8, 8, 3), np.float32)], fallback)
