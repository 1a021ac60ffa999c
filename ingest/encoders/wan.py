"""Wan2.2 encoders for LingBot-VA latents: the video VAE (diffusers' `AutoencoderKLWan`) and the UMT5 text encoder.

Video, as LingBot-VA's own server prepares observations (`wan_va/wan_va_server.py`): frames resized to H x W with
bilinear interpolation (`align_corners=False`, no antialias, no crop), scaled to [-1, 1] (`x / 255 * 2 - 1`), encoded
by the VAE; the latent is the posterior mean normalized per channel with the VAE config's `latents_mean` and
`latents_std` (`(mu - mean) / std`, as Wan's own `vae.encode` returns it), flattened `(f h w) c` and stored bf16.
Wan's VAE is causal in time with 4x temporal compression: 1 + 4k frames give 1 + k latent frames, so
`sample_frame_ids` trims a segment's strided frames to the largest 1 + 4k (the frame ids record exactly which frames).

Text, as Wan's pipelines encode a prompt (`_get_t5_prompt_embeds`): `prompt_clean`, tokens up to `text_len` with the
tokenizer's special tokens, the encoder run with the attention mask, hidden states past the real tokens set to zero,
so `text_emb` is [text_len, D] (512 x 4096 for Wan2.2's umt5-xxl). Weights are local folders only; nothing is
downloaded. The configs' checks, the grid and `sample_frame_ids` are torch-free, in `wan_config`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ingest.encoders.wan_config import TEXT_LEN, WanModelError, check_wan22_vae, read_model_config, tokenizer_dir

RESIZE_CHUNK = 16  # frames resized at once: bounds float memory for long, large-frame segments


def resize_frames(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """(F, h, w, 3) uint8 -> (F, height, width, 3) uint8: bilinear on float values, rounded back for transport
    (at most 0.5/255 from the float result, far below the bf16 latent's precision)."""
    out = np.empty((len(frames), height, width, 3), dtype=np.uint8)
    for a in range(0, len(frames), RESIZE_CHUNK):
        x = torch.from_numpy(np.ascontiguousarray(frames[a : a + RESIZE_CHUNK])).permute(0, 3, 1, 2).float()
        if x.shape[-2:] != (height, width):
            x = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)
        out[a : a + RESIZE_CHUNK] = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return out


def to_vae_input(frames: np.ndarray | torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(F, H, W, 3) uint8 -> (1, 3, F, H, W) in [-1, 1]."""
    x = torch.as_tensor(frames)
    return (x.permute(3, 0, 1, 2).unsqueeze(0).to(dtype) / 255.0 * 2.0 - 1.0).contiguous()


@torch.inference_mode()
def encode_video(vae: torch.nn.Module, frames: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """(F, H, W, 3) uint8 frames -> (latent [f*h*w, C] bf16 on CPU, (f, h, w)), normalized as Wan does."""
    param = next(vae.parameters())
    frames = torch.from_numpy(np.array(frames)) if isinstance(frames, np.ndarray) else frames  # Ray's are read-only
    x = to_vae_input(frames.to(param.device), param.dtype)
    mu = vae.encode(x).latent_dist.mode().float()  # (1, C, f, h, w); the posterior mean, not a sample
    cfg = vae.config
    if cfg.get("latents_mean") is not None and cfg.get("latents_std") is not None:
        shape = (1, -1, 1, 1, 1)
        mean = torch.tensor(cfg["latents_mean"], device=mu.device).view(shape)
        std = torch.tensor(cfg["latents_std"], device=mu.device).view(shape)
        mu = (mu - mean) / std
    _, c, f, h, w = mu.shape
    latent = mu[0].permute(1, 2, 3, 0).reshape(f * h * w, c)
    return latent.to(torch.bfloat16).cpu().contiguous(), (f, h, w)


@torch.inference_mode()
def encode_text(model: torch.nn.Module, tokenizer: Any, text: str, text_len: int = TEXT_LEN) -> torch.Tensor:
    """One prompt -> [text_len, D] bf16 on CPU: real tokens' hidden states, zeros after them."""
    from diffusers.pipelines.wan.pipeline_wan import prompt_clean  # Wan's own cleaning (html unescape, whitespace)

    tok = tokenizer(
        [prompt_clean(text)],
        padding="max_length",
        max_length=text_len,
        truncation=True,
        add_special_tokens=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    device = next(model.parameters()).device
    mask = tok.attention_mask.to(device)
    hidden = model(tok.input_ids.to(device), attention_mask=mask).last_hidden_state[0].float()
    hidden[int(mask[0].sum()) :] = 0.0
    return hidden.to(torch.bfloat16).cpu().contiguous()


def pick_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise WanModelError(f"device {requested!r} asked for, but CUDA is not available")
    return device


def compute_dtype(device: torch.device) -> torch.dtype:
    """bf16 on GPU (how Wan and LingBot-VA run these models); fp32 on CPU, where bf16 convolutions crawl."""
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def load_vae(path: Path, device: torch.device) -> torch.nn.Module:
    from diffusers import AutoencoderKLWan

    check_wan22_vae(read_model_config(path, "Wan2.2 VAE", "--vae"), where=str(path))
    # low_cpu_mem_usage needs `accelerate`, which the export does not require
    vae = AutoencoderKLWan.from_pretrained(str(path), torch_dtype=compute_dtype(device), low_cpu_mem_usage=False)
    return vae.to(device).eval().requires_grad_(False)


def load_text_encoder(path: Path, tokenizer: Path | None, device: torch.device) -> tuple[torch.nn.Module, Any]:
    from transformers import AutoTokenizer, UMT5EncoderModel

    read_model_config(path, "UMT5 text encoder", "--text-encoder")
    model = UMT5EncoderModel.from_pretrained(str(path), dtype=compute_dtype(device))
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir(path, tokenizer)))
    return model.to(device).eval().requires_grad_(False), tok
