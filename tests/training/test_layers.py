"""The shared building blocks (training/layers.py) against their definitions computed here in float64: AdaLN,
RMSNorm in the input's dtype, the sinusoidal time and position features, and a pre-norm block that never reads a
masked key. Tiny random weights, CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from training.attention import KeyMask
from training.layers import (
    HeadRMSNorm,
    Mlp,
    TimestepEmbedder,
    TransformerBlock,
    modulate,
    norm_modulate,
    sincos_1d,
    sincos_2d,
    split_heads,
)

G = torch.Generator().manual_seed(0)


def _randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=G)


def test_norm_modulate_is_adaln_of_a_plain_layernorm() -> None:
    x, shift, scale = _randn(3, 5, 8).double(), _randn(3, 8).double(), _randn(3, 8).double()
    mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
    expected = (x - mean) / torch.sqrt(var + 1e-6) * (1 + scale[:, None]) + shift[:, None]
    torch.testing.assert_close(norm_modulate(x, shift, scale), expected)
    torch.testing.assert_close(modulate((x - mean) / torch.sqrt(var + 1e-6), shift, scale), expected)
    zero = torch.zeros(3, 8, dtype=torch.float64)
    out = norm_modulate(x, zero, zero)  # AdaLN-Zero's start: a standardised row
    torch.testing.assert_close(out.mean(-1), torch.zeros(3, 5, dtype=torch.float64), atol=1e-12, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_head_rmsnorm_keeps_the_input_dtype_and_the_formula(dtype: torch.dtype) -> None:
    norm = HeadRMSNorm(16)
    with torch.no_grad():
        norm.weight.copy_(1 + 0.1 * _randn(16))
    x = _randn(2, 4, 3, 16).to(dtype)
    out = norm(x)
    assert out.dtype == dtype
    xd = x.double()
    expected = xd / torch.sqrt(xd.pow(2).mean(-1, keepdim=True) + torch.finfo(torch.float32).eps)
    expected = expected * norm.weight.to(dtype).double()
    tol = {"atol": 1e-5, "rtol": 1e-5} if dtype == torch.float32 else {"atol": 2e-2, "rtol": 2e-2}
    torch.testing.assert_close(out.double(), expected, **tol)


def test_timestep_features_are_cos_sin_of_1000_t_at_geometric_frequencies() -> None:
    emb = TimestepEmbedder(hidden=32, freq_dim=8)
    assert emb(torch.rand(5, generator=G)).shape == (5, 32)
    emb.mlp = nn.Identity()  # the features under the MLP
    t = torch.tensor([0.0, 0.25, 1.0])
    freqs = 10_000.0 ** (-np.arange(4) / 4)
    args = 1000.0 * t.double().numpy()[:, None] * freqs[None]
    np.testing.assert_allclose(emb(t).numpy(), np.concatenate([np.cos(args), np.sin(args)], 1), rtol=1e-5, atol=1e-4)


def test_sincos_pairs_lie_on_the_unit_circle_and_encode_offsets() -> None:
    dim, pos = 16, np.arange(40)
    pe = sincos_1d(dim, pos)
    assert pe.shape == (40, dim)
    np.testing.assert_allclose(pe[:, : dim // 2] ** 2 + pe[:, dim // 2 :] ** 2, 1.0, atol=1e-12)
    # the dot product of two positions depends on their offset only (why such features encode relative position)
    for k in (1, 5):
        dots = np.einsum("id,id->i", pe[:-k], pe[k:])
        np.testing.assert_allclose(dots, dots[0], atol=1e-9)


def test_sincos_2d_is_row_major_with_rows_then_columns() -> None:
    grid, dim = 4, 8
    emb = sincos_2d(dim, grid).numpy().reshape(grid, grid, dim)
    rows, cols = emb[..., : dim // 2], emb[..., dim // 2 :]
    np.testing.assert_allclose(rows, rows[:, :1].repeat(grid, 1), atol=0)  # the first half changes along y only
    np.testing.assert_allclose(cols, cols[:1].repeat(grid, 0), atol=0)  # the second along x only
    np.testing.assert_allclose(rows[:, 0], sincos_1d(dim // 2, np.arange(grid)), atol=1e-7)


def test_mlp_and_split_heads_shapes() -> None:
    x = _randn(2, 3, 12)
    assert Mlp(12, 2.0)(x).shape == (2, 3, 12) and Mlp(12, 2.0, out=5)(x).shape == (2, 3, 5)
    heads = split_heads(x, 4)
    assert heads.shape == (2, 3, 4, 3) and torch.equal(heads.flatten(2), x)
    assert torch.equal(heads[..., 1, :], x[..., 3:6])  # head h holds channels h*D/H .. (h+1)*D/H


def test_block_never_reads_a_masked_key() -> None:
    torch.manual_seed(0)
    block = TransformerBlock(hidden=16, heads=2).eval()
    x = _randn(2, 6, 16)
    mask = torch.tensor([[True] * 4 + [False] * 2, [True] * 6])
    changed = x.clone()
    changed[0, 4:] = 100 * _randn(2, 16)  # padding: whatever it holds
    with torch.no_grad():
        a, b = block(x, KeyMask(mask)), block(changed, KeyMask(mask))
        unmasked = block(x)
    assert a.shape == x.shape
    torch.testing.assert_close(a[0, :4], b[0, :4])  # the real tokens do not see the padding
    torch.testing.assert_close(a[1], b[1])
    assert not torch.allclose(unmasked[0, :4], a[0, :4])  # and without the mask they would
