"""One attention function for every attention in the package, its backend chosen once per device type.

`attention(q, k, v, key_mask)` takes q [B, Sq, H, D], k/v [B, Sk, H, D] (FlashAttention's layout) and an optional
`KeyMask` over the keys (True = attend). On a CUDA device with `flash_attn` installed it runs FlashAttention-2
(the varlen kernel when keys are padded); everywhere else PyTorch's `scaled_dot_product_attention`, which itself
dispatches to cuDNN / flash / memory-efficient kernels on Hopper. The choice is made on first use per device type,
logged, and cached: a model never mixes kernels between layers. `reference_attention` is the plain softmax(QK^T)V
the others are tested against.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

Backend = Literal["flash", "sdpa", "reference"]


@dataclass
class KeyMask:
    """Which keys each sample may attend to: `mask` [B, Sk] bool. Every row must keep at least one key."""

    mask: torch.Tensor

    @functools.cached_property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(dim=1, dtype=torch.int32)

    @functools.cached_property
    def cu_seqlens(self) -> torch.Tensor:
        return F.pad(self.lengths.cumsum(0, dtype=torch.int32), (1, 0))

    @functools.cached_property
    def max_len(self) -> int:
        return int(self.lengths.max())  # one host sync per forward, shared by every layer


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
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask)
    return out.transpose(1, 2)


def _flash(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: KeyMask | None = None) -> torch.Tensor:
    from flash_attn import flash_attn_func, flash_attn_varlen_func

    if q.dtype not in (torch.float16, torch.bfloat16):
        return _sdpa(q, k, v, key_mask)  # FlashAttention has no float32 kernel (runs outside autocast)
    if key_mask is None:
        return flash_attn_func(q, k, v)
    b, sq, h, d = q.shape
    # Queries are never padded here: unpad only the keys and give every sample its own key range.
    cu_q = torch.arange(0, (b + 1) * sq, sq, dtype=torch.int32, device=q.device)
    out = flash_attn_varlen_func(
        q.reshape(b * sq, h, d),
        k[key_mask.mask],
        v[key_mask.mask],
        cu_seqlens_q=cu_q,
        cu_seqlens_k=key_mask.cu_seqlens,
        max_seqlen_q=sq,
        max_seqlen_k=key_mask.max_len,
    )
    return out.reshape(b, sq, h, d)


_IMPLS: dict[Backend, Callable[..., torch.Tensor]] = {"flash": _flash, "sdpa": _sdpa, "reference": reference_attention}
_forced: Backend | None = None
_chosen: dict[str, Backend] = {}  # device type -> backend, filled once (a plain dict: torch.compile guards on it)


def flash_available() -> bool:
    return importlib.util.find_spec("flash_attn") is not None


def backend_for(device_type: str) -> Backend:
    """The backend for a device type, decided on first use and kept for the life of the process. The trainer calls
    this before compiling, so the decision is never traced."""
    if device_type not in _chosen:
        _chosen[device_type] = "flash" if device_type == "cuda" and flash_available() else "sdpa"
        log.info("attention backend for %s: %s", device_type, _chosen[device_type])
    return _chosen[device_type]


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: KeyMask | None = None) -> torch.Tensor:
    return _IMPLS[_forced or backend_for(q.device.type)](q, k, v, key_mask)


@contextlib.contextmanager
def forced_backend(name: Backend) -> Iterator[None]:
    """Run every attention with one backend (tests, FLOP counting, benchmarks); restores the choice after."""
    global _forced
    if name not in _IMPLS:
        raise ValueError(f"unknown attention backend {name!r}; known: {sorted(_IMPLS)}")
    previous, _forced = _forced, name
    try:
        yield
    finally:
        _forced = previous
