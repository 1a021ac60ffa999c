"""Frames for the image encoder: which frames of an episode are encoded, and how a frame becomes pixel values.

Preprocessing reproduces `transformers.DINOv3ViTImageProcessor` (5.23), which needs torchvision and so cannot run here.
Its `_preprocess` does, per image: rescale (uint8 CHW times 1/255, float32); resize to 224x224 with torchvision's
`resize(..., BILINEAR, antialias=True)`, for a float32 tensor `interpolate(mode="bilinear", align_corners=False,
antialias=True)`; normalize `(x - mean) / std` with the ImageNet mean/std. There is no center crop. A model folder's
`preprocessor_config.json`, when present, overrides these defaults. The tests' float32 reference of the processor
(`tests/fixtures/dinov3.py`, `preprocess`) resizes before rescaling: the resize is linear with weights summing to 1, so
the result is the same up to float32 rounding (below 2e-6 after normalization), and converting channels-last uint8
frames to float without a layout copy makes it 1.5x faster.

The latents job splits that work: the decode tasks resize to uint8 frames (`resize_frames`), the encoder normalizes them
on its device (`dinov3.stream.PixelEncoder`), so a frame travels as 150 KB at 224 (a quarter of fp32 pixel values). The
uint8 resize is what DINOv3's own reference transform does (facebookresearch/dinov3 README, `make_transform`:
`v2.ToImage()`, then `v2.Resize(..., antialias=True)` on the uint8 image, then `ToDtype(float32, scale=True)` and
`Normalize`); torch's uint8 antialiased bilinear kernel is 13x faster than the float one on one core here (698 vs 54
img/s, 480x640 -> 224), and the decode CPUs are what bounds the job. It differs from the processor's float resize by at
most 1/255 per pixel before normalization (bicubic resizes in float and rounds: at most 0.5/255); a frame already at the
model's size is passed through, so its values are exactly the processor's.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from ingest.lerobot.video_read import decode_frames
from schemas.frozen import Frozen

PREPROCESSOR_CONFIG = "preprocessor_config.json"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# PIL resample codes (what processor configs store) -> interpolate modes with an antialiased kernel
RESAMPLE_MODES = {2: "bilinear", 3: "bicubic"}
DECODE_CHUNK = 16  # frames converted to float at once: bounds memory for long, large-frame episodes


class LatentsInputError(ValueError):
    """An episode's video cannot give the frames its latents need (unreadable, shorter than the episode)."""


class PreprocessConfig(Frozen):
    """What `DINOv3ViTImageProcessor` does to a frame; defaults are that class's."""

    size: int = Field(224, gt=0, description="output side; the processor resizes to size x size (no crop)")
    resample: int = Field(2, description="PIL resample code: 2 bilinear (default), 3 bicubic; antialiased")
    rescale_factor: float = Field(1 / 255, gt=0)
    image_mean: tuple[float, float, float] = IMAGENET_MEAN
    image_std: tuple[float, float, float] = IMAGENET_STD

    @classmethod
    def from_model_dir(cls, model_dir: Path | None) -> PreprocessConfig:
        """The folder's `preprocessor_config.json` when it has one, else the processor's defaults.

        Only what DINOv3's processor can do is accepted: a square resize, rescale and normalize, no crop."""
        path = None if model_dir is None else Path(model_dir) / PREPROCESSOR_CONFIG
        if path is None or not path.is_file():
            return cls()
        raw = json.loads(path.read_text())
        size = raw.get("size") or {"height": 224, "width": 224}
        if set(size) != {"height", "width"} or size["height"] != size["width"]:
            raise ValueError(f"{path}: size {size} is not a square height/width resize")
        for flag in ("do_resize", "do_rescale", "do_normalize"):
            if raw.get(flag) is False:
                raise ValueError(
                    f"{path}: {flag}=false is not supported (DINOv3 frames are always resized, rescaled and normalized)"
                )
        if raw.get("do_center_crop"):
            raise ValueError(f"{path}: do_center_crop is not supported")
        resample = int(raw.get("resample", 2))
        if resample not in RESAMPLE_MODES:
            raise ValueError(f"{path}: resample {resample} unsupported (2 bilinear or 3 bicubic)")
        return cls(
            size=int(size["height"]),
            resample=resample,
            rescale_factor=float(raw.get("rescale_factor", 1 / 255)),
            image_mean=tuple(raw.get("image_mean", IMAGENET_MEAN)),
            image_std=tuple(raw.get("image_std", IMAGENET_STD)),
        )


def resize_frames(frames: np.ndarray | torch.Tensor, cfg: PreprocessConfig) -> torch.Tensor:
    """uint8 RGB frames [B, H, W, 3] -> uint8 [B, 3, size, size], resized as DINOv3's reference transform does (see
    the module docstring); frames already at the size pass through unchanged."""
    x = torch.as_tensor(frames)
    if x.ndim != 4 or x.shape[-1] != 3 or x.dtype != torch.uint8:
        raise ValueError(f"expected uint8 frames [B, H, W, 3], got {x.dtype} {tuple(x.shape)}")
    x = x.permute(0, 3, 1, 2)
    if tuple(x.shape[-2:]) != (cfg.size, cfg.size):
        mode = RESAMPLE_MODES[cfg.resample]
        if mode == "bilinear":  # torch's uint8 antialiased kernel (channels-last input), rounded in fixed point
            x = F.interpolate(x, size=(cfg.size, cfg.size), mode=mode, align_corners=False, antialias=True)
        else:  # no uint8 bicubic kernel of that precision: resize in float, round to the nearest level
            x = F.interpolate(x.float(), size=(cfg.size, cfg.size), mode=mode, align_corners=False, antialias=True)
            x = x.round_().clamp_(0, 255).to(torch.uint8)
    return x.contiguous()


def _decode(
    video: str | Path | IO[bytes],
    frame_index: Sequence[int] | np.ndarray,
    out: torch.Tensor,
    convert: Callable[[np.ndarray], torch.Tensor],
) -> torch.Tensor:
    """Decode the wanted frames into `out` [N, ...] through `convert`, a few at a time (memory stays at the output
    plus a few source frames). `video`: a path, or an object's file object (named by its URL)."""
    name = video if isinstance(video, str | Path) else getattr(video, "name", video)
    wanted = [int(i) for i in frame_index]
    if wanted != sorted(set(wanted)):
        raise ValueError(f"{name}: frame_index must be strictly increasing")
    import av  # here: the encoder's modules (PixelEncoder, the actor) load without PyAV

    n = 0
    try:
        frames = (frame for _, frame in decode_frames(video, wanted))
        while chunk := list(itertools.islice(frames, DECODE_CHUNK)):
            out[n : n + len(chunk)] = convert(np.stack(chunk))
            n += len(chunk)
    except (av.error.FFmpegError, OSError, ValueError) as e:  # a corrupt, truncated or missing file
        raise LatentsInputError(f"{name}: cannot decode frames ({type(e).__name__}: {e})") from e
    if n != len(wanted):
        raise LatentsInputError(
            f"{name}: has {n} of the {len(wanted)} frames wanted (frame {wanted[n]} is past its "
            "end); the video is shorter than the episode"
        )
    return out


def decode_resized(
    video: str | Path | IO[bytes], frame_index: Sequence[int] | np.ndarray, cfg: PreprocessConfig
) -> torch.Tensor:
    """The wanted frames of one mp4 resized to uint8 [N, 3, size, size], in `frame_index` order: what the latents
    job's decode tasks send to the encoder."""
    out = torch.empty((len(frame_index), 3, cfg.size, cfg.size), dtype=torch.uint8)
    return _decode(video, frame_index, out, lambda f: resize_frames(f, cfg))
