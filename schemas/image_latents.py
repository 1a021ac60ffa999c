"""Image latents (DESIGN.md section 5): one safetensors file per episode and camera, mirroring `videos/`.

`latents/chunk-XXX/<video_key>/episode_XXXXXX.safetensors` holds
- `latents` [N, P, D] bfloat16 or float16: the patch tokens (P = 196 = 14x14 for ViT-S/16 at 224, D = 384),
- `cls_registers` [N, 1 + R, D], same dtype: the CLS token then the R register tokens (R = 4 for DINOv3 ViT-S/16),
- `frame_index` [N] int64: which frame of the episode's `fps` stream each row encodes, strictly increasing,
and string metadata validated by `LatentsMeta`.

The catalog holds of each file what a plan reads of it (`schemas.catalog`'s `latents_keys` and `latents_files`, issue
99): `cataloged` gives its text, `from_catalog` the file's metadata and shape again; the rows of `frame_index` are
`latent_frame_indices(length, fps, rate_hz)` (as `eidata latents` writes them), checked by the catalog's rebuild.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.lerobot import InfoJson

LATENTS_FORMAT = "eidata-latents-1"
LATENTS_DIR = "latents"
LATENTS_PATH = LATENTS_DIR + "/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.safetensors"
LATENTS_KEY, CLS_REGISTERS_KEY, FRAME_INDEX_KEY = "latents", "cls_registers", "frame_index"
TENSOR_KEYS = (LATENTS_KEY, CLS_REGISTERS_KEY, FRAME_INDEX_KEY)

StoredDtype = Literal["bfloat16", "float16"]


def latents_file(info: InfoJson, episode_index: int, video_key: str) -> str:
    """The latents file of one episode's camera, relative to the dataset root."""
    return LATENTS_PATH.format(
        episode_chunk=info.episode_chunk(episode_index), video_key=video_key, episode_index=episode_index
    )


class LatentsMeta(BaseModel):
    """The safetensors metadata of a latents file (safetensors stores str -> str; ints and floats are parsed)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    format: Literal["eidata-latents-1"] = LATENTS_FORMAT
    model: str = Field(description="the encoder: its local weights folder, or 'random-init:<config>' in tests")
    image_size: int = Field(224, gt=0, description="side of the square frame fed to the encoder")
    rate_hz: float = Field(gt=0, description="frames per second encoded (nearest frames of the episode's stream)")
    dtype: StoredDtype
    video_key: str
    episode_index: int = Field(ge=0)
    patch_size: int = Field(16, gt=0)
    num_register_tokens: int = Field(4, ge=0)

    @field_validator("rate_hz")
    @classmethod
    def _finite(cls, v: float) -> float:
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError("rate_hz must be finite")
        return v

    def to_metadata(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.model_dump(mode="json").items()}

    def same_encoding(self, other: LatentsMeta) -> bool:
        """True when two files were made with the same encoder, size, rate and dtype (the episode may differ)."""
        keys = ("format", "model", "image_size", "rate_hz", "dtype", "patch_size", "num_register_tokens")
        return all(getattr(self, k) == getattr(other, k) for k in keys)


OWN_FIELDS = ("episode_index", "video_key")  # the metadata fields that name one file, left out of its catalog text


def cataloged(meta: Mapping[str, str], shape: Sequence[int], video_key: str, episode_index: int) -> str:
    """The catalog's text of one episode camera's latents file: its safetensors metadata less the fields that name
    this file (when they do), and the shape of its `latents` past the rows, as JSON. Every file of a camera made in
    one encoding has the same text: the catalog's parquet stores it once, a reader parses it once."""
    own = {"episode_index": str(episode_index), "video_key": video_key}
    named = [k for k in OWN_FIELDS if meta.get(k) == own[k]]
    kept = {k: v for k, v in meta.items() if k not in named}
    return json.dumps({"meta": kept, "named": named, "shape": [int(n) for n in shape[1:]]}, sort_keys=True)


def from_catalog(parsed: Mapping[str, Any], video_key: str, episode_index: int) -> tuple[dict[str, str], list[int]]:
    """(the safetensors metadata, the shape of its `latents` past the rows) of the file whose catalog text
    (`cataloged`) parsed to `parsed`: the file of `video_key` of episode `episode_index`."""
    own = {"episode_index": str(episode_index), "video_key": video_key}
    meta = {**parsed["meta"], **{k: own[k] for k in parsed["named"]}}
    return dict(sorted(meta.items())), list(parsed["shape"])


def latent_frame_indices(length: int, fps: float, rate_hz: float) -> np.ndarray:
    """Frames of a `length`-frame, `fps` stream nearest to the times k / rate_hz (k = 0, 1, ...) inside the episode.

    Exact rational arithmetic (rates like 2.5 or 29.97 included), ties rounded up: the frames for a given
    (length, fps, rate) never depend on floating point. Strictly increasing; the first is frame 0."""
    if length < 0:
        raise ValueError(f"episode length {length} < 0")
    f, r = Fraction(fps).limit_denominator(10**6), Fraction(rate_hz).limit_denominator(10**6)
    if r <= 0 or f <= 0:
        raise ValueError(f"fps {fps} and rate {rate_hz} must be positive")
    if r > f:
        raise ValueError(f"latent rate {rate_hz} Hz is above the stream's {fps} fps: frames would repeat")
    if length == 0:
        return np.zeros(0, dtype=np.int64)
    step = f / r  # frames between two samples, >= 1
    count = int((length - 1) / step) + 1
    # floor(k * step + 1/2) with integers: (2 k p + q) // (2 q) for step = p / q
    k = np.arange(count, dtype=np.int64)
    return (2 * k * step.numerator + step.denominator) // (2 * step.denominator)
