"""The DINOv3 image encoder: loading it from a local folder (or random weights for tests), and encoding batches.

`last_hidden_state` of `DINOv3ViTModel` is [B, 1 + R + P, D]: the CLS token, R register tokens, then P patch
tokens in raster order (196 = 14x14 for a 224 frame and patch 16), after the final LayerNorm. On CUDA the forward
runs under bf16 autocast with fp32 weights (autocast keeps LayerNorm in fp32); on CPU in fp32. Either way the
outputs are cast to the stored dtype at the end. Running it over frames is `ingest.encoders.dinov3.stream`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
from pydantic import Field
from safetensors import SafetensorError

from schemas.frozen import Frozen
from schemas.image_latents import StoredDtype

if TYPE_CHECKING:  # transformers is imported where a model is built: the CLI stays quick to answer
    from transformers import DINOv3ViTConfig


RANDOM_INIT = "random-init"
Device = Literal["cpu", "cuda"]


class EncoderLoadError(RuntimeError):
    """The encoder cannot be built: no weights folder, not a DINOv3 ViT checkpoint, unreadable weights."""


class EncoderSpec(Frozen):
    """How to build and run the encoder; sent to every actor, so plain data only."""

    model: str | None = Field(None, description="local weights folder (config.json + model.safetensors)")
    random_init: bool = Field(False, description="FOR TESTS AND BENCHMARKS ONLY: random ViT-S/16+4 registers")
    seed: int = Field(0, description="seed of the random weights (random_init only)")
    device: Device = "cpu"
    stored_dtype: StoredDtype = "bfloat16"
    batch_size: int = Field(256, gt=0, description="frames per forward pass")
    autocast: bool = Field(True, description="bf16 autocast on CUDA (ignored on CPU, which runs fp32)")
    compile: bool | None = Field(
        None, description="torch.compile with static shapes (default: on CUDA; pays a warm-up once per actor)"
    )

    @property
    def model_name(self) -> str:
        """What the files' `model` metadata records."""
        if self.random_init:
            return f"{RANDOM_INIT}:dinov3-vits16-reg4:seed{self.seed}"
        if self.model is None:
            raise EncoderLoadError("no encoder: pass --model DIR (a local DINOv3 ViT weights folder)")
        return str(Path(self.model).resolve())

    @property
    def compiled(self) -> bool:
        return self.device == "cuda" if self.compile is None else self.compile

    @property
    def amp_dtype(self) -> torch.dtype | None:
        """The autocast dtype of the forward, None for plain fp32."""
        return torch.bfloat16 if self.device == "cuda" and self.autocast else None


def encoder_config(spec: EncoderSpec) -> DINOv3ViTConfig:
    """The encoder's config, checked, without loading weights. Raises EncoderLoadError with the reason."""
    from transformers import DINOv3ViTConfig

    if spec.random_init:  # ViT-S/16 sizes (the config defaults) with the released checkpoint's 4 register tokens
        return DINOv3ViTConfig(num_register_tokens=4)
    if spec.model is None:
        raise EncoderLoadError("no encoder: pass --model DIR (a local DINOv3 ViT weights folder)")
    path = Path(spec.model)
    if not (path / "config.json").is_file():
        raise EncoderLoadError(
            f"{path}: no config.json here; --model must be a local DINOv3 ViT weights folder "
            "(the save_pretrained layout: config.json + model.safetensors)"
        )
    try:
        model_type = json.loads((path / "config.json").read_text()).get("model_type")
        if model_type != "dinov3_vit":
            raise EncoderLoadError(
                f"{path}/config.json: model_type {model_type!r}, expected 'dinov3_vit' (a DINOv3 ViT checkpoint)"
            )
        return DINOv3ViTConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, TypeError, AttributeError) as e:
        raise EncoderLoadError(f"{path}/config.json: not a DINOv3 ViT config ({e})") from e


def load_encoder(spec: EncoderSpec) -> torch.nn.Module:
    """The encoder in eval mode on `spec.device`, fp32 weights, not compiled (`dinov3.stream.FrameEncoder` compiles it
    with its normalization). Raises EncoderLoadError with the reason."""
    from transformers import DINOv3ViTModel

    config = encoder_config(spec)
    if spec.random_init:
        torch.manual_seed(spec.seed)
        model = DINOv3ViTModel(config)
    else:
        try:
            model = DINOv3ViTModel.from_pretrained(
                spec.model, config=config, local_files_only=True, dtype=torch.float32
            )
        except (OSError, ValueError, RuntimeError, SafetensorError) as e:
            raise EncoderLoadError(f"{spec.model}: cannot load the weights ({e})") from e
    return model.to(spec.device).eval()


def model_config(model: torch.nn.Module) -> DINOv3ViTConfig:
    return getattr(model, "_orig_mod", model).config  # torch.compile wraps the module


def num_prefix_tokens(model: torch.nn.Module) -> int:
    """CLS + register tokens before the patches in `last_hidden_state`."""
    return 1 + int(model_config(model).num_register_tokens)
