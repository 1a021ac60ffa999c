"""Small building blocks shared by the MM-DiT and the latent action model."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from training.attention import KeyMask, attention


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """AdaLN: x [B, S, D] scaled and shifted per sample ([B, D])."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def norm_modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """`modulate(LayerNorm(x))` with an affine-free LayerNorm and the scale/shift in one fused multiply-add."""
    return torch.addcmul(shift.unsqueeze(1), F.layer_norm(x, x.shape[-1:], eps=eps), 1 + scale.unsqueeze(1))


class HeadRMSNorm(nn.RMSNorm):
    """RMSNorm over the last dim in the input's dtype (float32 statistics inside the kernel).

    Autocast would run `rms_norm` in float32 and, with a float32 weight on bf16 input, torch falls back to the
    unfused implementation; here the weight is cast to the input's dtype so the fused kernel runs, and the output
    stays in the input's dtype for the attention kernel. eps is float32's (what autocast's float32 run used)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        eps = torch.finfo(torch.float32).eps if self.eps is None else self.eps
        weight = None if self.weight is None else self.weight.to(x.dtype)
        with torch.autocast(x.device.type, enabled=False):
            return F.rms_norm(x, self.normalized_shape, weight, eps)


class TimestepEmbedder(nn.Module):
    """Flow time t in [0, 1] -> sinusoidal features of 1000 t -> MLP (DiT's embedder on a continuous time)."""

    def __init__(self, hidden: int, freq_dim: int = 256) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.freq_dim // 2
        freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
        args = 1000.0 * t.float()[:, None] * freqs[None]
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))


class Mlp(nn.Module):
    def __init__(self, hidden: int, ratio: float, out: int | None = None) -> None:
        super().__init__()
        inner = int(hidden * ratio)
        self.fc1 = nn.Linear(hidden, inner)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(inner, out or hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def sincos_1d(dim: int, positions: np.ndarray) -> np.ndarray:
    """Fixed sin/cos features of integer or fractional positions: [len(positions), dim]."""
    omega = 1.0 / 10_000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2))
    out = np.outer(positions.astype(np.float64), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(dim: int, grid: int) -> torch.Tensor:
    """Fixed 2-D sin/cos position features of a grid x grid patch layout, row-major: [grid*grid, dim]."""
    ys, xs = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    emb = np.concatenate([sincos_1d(dim // 2, ys.reshape(-1)), sincos_1d(dim // 2, xs.reshape(-1))], axis=1)
    return torch.from_numpy(emb).float()


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """[B, S, D] -> [B, S, H, D/H]."""
    return x.unflatten(-1, (heads, x.shape[-1] // heads))


class TransformerBlock(nn.Module):
    """A plain pre-norm self-attention + MLP block on the package's attention function (used by the LAM)."""

    def __init__(self, hidden: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.mlp = Mlp(hidden, mlp_ratio)

    def forward(self, x: torch.Tensor, key_mask: KeyMask | None = None) -> torch.Tensor:
        q, k, v = (split_heads(t, self.heads) for t in self.qkv(self.norm1(x)).chunk(3, dim=-1))
        x = x + self.proj(attention(q, k, v, key_mask).flatten(2))
        return x + self.mlp(self.norm2(x))
