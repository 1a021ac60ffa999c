"""One attention function for every attention in the package, its backend chosen once per device type.

`attention(q, k, v, key_mask)` takes q [B, Sq, H, D], k/v [B, Sk, H, D] and an optional `KeyMask` over the keys
(True = attend). The default backend is PyTorch's `scaled_dot_product_attention` with a dense boolean mask; on CUDA
it asks for cuDNN first, then flash, then memory-efficient attention (`sdpa_kernel(..., set_priority=True)`): cuDNN
runs at about twice FlashAttention-2's rate on Hopper and takes the mask, flash and memory-efficient cover the rest.
Padded keys stay in place (fixed shapes, `pad_text`) and nothing reads a tensor's values on the host, so the step
has no host sync and `torch.compile` traces it in one graph.

`flash` (FlashAttention-2, opt-in where measured faster) runs only unmasked attention; masked attention goes to SDPA
with its dense mask rather than through FA2's varlen unpadding, whose `k[mask]` and `int(lengths.max())` sync the host
and break the compiled graph at every block. `reference_attention` is the plain softmax(QK^T)V the others are tested
against. The choice is made outside any compiled graph (the trainer calls `choose_backend` first), logged, and kept:
a model never mixes kernels between layers.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

log = logging.getLogger(__name__)

Backend = Literal["flash", "sdpa", "reference"]
# cuDNN's fused attention is the fastest on Hopper and supports the boolean key mask; flash has no mask input
CUDA_SDPA_ORDER = [
    SDPBackend.CUDNN_ATTENTION,
    SDPBackend.FLASH_ATTENTION,
    SDPBackend.EFFICIENT_ATTENTION,
    SDPBackend.MATH,
]


@dataclass
class KeyMask:
    """Which keys each sample may attend to: `mask` [B, Sk] bool. Every row must keep at least one key."""

    mask: torch.Tensor


def reference_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: KeyMask | None = None
) -> torch.Tensor:
    """softmax(Q K^T / sqrt(D)) V, computed in float32, in the input's layout and dtype."""
    scores = torch.einsum("bqhd,bkhd->bhqk", q.float(), k.float()) / math.sqrt(q.shape[-1])
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask.mask[:, None, None, :], float("-inf"))
    probs = scores.softmax(dim=-1)
    return torch.einsum("bhqk,bkhd->bqhd", probs, v.float()).to(q.dtype)


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: KeyMask | None = None) -> torch.Tensor:
    mask = None if key_mask is None else key_mask.mask[:, None, None, :]
    priority = sdpa_kernel(CUDA_SDPA_ORDER, set_priority=True) if q.is_cuda else contextlib.nullcontext()
    with priority:
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask)
    return out.transpose(1, 2)


def _flash(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: KeyMask | None = None) -> torch.Tensor:
    if key_mask is not None or q.dtype not in (torch.float16, torch.bfloat16):
        return _sdpa(q, k, v, key_mask)  # no unpadding (host syncs); FA2 has no float32 kernel
    from flash_attn import flash_attn_func

    return flash_attn_func(q, k, v)


_IMPLS: dict[Backend, Callable[..., torch.Tensor]] = {"flash": _flash, "sdpa": _sdpa, "reference": reference_attention}
_chosen: dict[str, Backend] = {}  # device type -> backend, filled once (a plain dict: torch.compile guards on it)


def flash_available() -> bool:
    return importlib.util.find_spec("flash_attn") is not None


def choose_backend(device_type: str, requested: str = "auto") -> Backend:
    """Fix the backend for a device type (`TrainConfig.attention`): auto is SDPA everywhere; flash needs a CUDA
    device and the flash_attn package. Called before compiling, so the decision is never traced."""
    name: Backend = "sdpa" if requested == "auto" else requested  # type: ignore[assignment]
    if name not in _IMPLS:
        raise ValueError(f"attention: unknown backend {requested!r}; known: auto, {', '.join(sorted(_IMPLS))}")
    if name == "flash" and (device_type != "cuda" or not flash_available()):
        raise ValueError(f"attention: flash needs a CUDA device and the flash_attn package (device {device_type})")
    if _chosen.get(device_type) != name:
        log.info("attention backend for %s: %s", device_type, name)
    _chosen[device_type] = name
    return name


def backend_for(device_type: str) -> Backend:
    """The backend chosen for a device type: SDPA unless `choose_backend` said otherwise (a pure lookup, so that a
    traced forward neither logs nor mutates state)."""
    return _chosen.get(device_type, "sdpa")


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: KeyMask | None = None) -> torch.Tensor:
    return _IMPLS[backend_for(q.device.type)](q, k, v, key_mask)


def text_keys(length: int, bucket: int, most: int) -> int:
    """Text keys for `length` text tokens: the null token plus the text, rounded up to a multiple of `bucket`, so
    that batches whose longest text falls in the same bucket have one shape (no recompiles, one kernel plan)."""
    keys = -(-(length + 1) // bucket) * bucket
    if keys > most:
        raise ValueError(f"{length} text tokens exceed text_max {most} keys (with the null token): raise text_max")
    return keys


def pad_text(batch: dict[str, torch.Tensor], bucket: int, most: int) -> dict[str, torch.Tensor]:
    """`batch` with `text` [B, L, Dt] and `text_mask` [B, L] zero/False-padded to `text_keys(L) - 1` tokens (the
    model adds the null token). Runs on the host, before the batch moves to the device."""
    text, mask = batch["text"], batch["text_mask"]
    pad = text_keys(text.shape[1], bucket, most) - 1 - text.shape[1]
    if pad == 0:
        return batch
    return {**batch, "text": F.pad(text, (0, 0, 0, pad)), "text_mask": F.pad(mask, (0, pad), value=False)}
