"""The attention backends against the plain softmax(QK^T)V reference: values, masks and gradients."""

from __future__ import annotations

import pytest
import torch

from tests.fixtures.attention import forced_backend
from training import attention as attention_module
from training.attention import KeyMask, attention, backend_for, choose_backend, reference_attention


def _qkv(
    b: int = 3,
    sq: int = 7,
    sk: int = 9,
    h: int = 4,
    d: int = 16,
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    return tuple(torch.randn(b, s, h, d, generator=g).to(device, dtype).requires_grad_() for s in (sq, sk, sk))


def _mask(b: int = 3, sk: int = 9, device: str = "cpu") -> KeyMask:
    lengths = torch.tensor([sk, 1, 5])[:b]
    return KeyMask((torch.arange(sk)[None] < lengths[:, None]).to(device))


def test_auto_is_sdpa_on_every_device_and_flash_is_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """FlashAttention-2 runs at about half of cuDNN SDPA on Hopper: installed is not a reason to use it."""
    monkeypatch.setattr(attention_module, "_chosen", {})
    monkeypatch.setattr(attention_module, "flash_available", lambda: True)
    assert backend_for("cuda") == "sdpa" and choose_backend("cuda") == "sdpa" and choose_backend("cpu") == "sdpa"
    assert choose_backend("cuda", "flash") == "flash" and backend_for("cuda") == "flash"
    with pytest.raises(ValueError, match="flash needs a CUDA device"):
        choose_backend("cpu", "flash")
    monkeypatch.setattr(attention_module, "flash_available", lambda: False)
    with pytest.raises(ValueError, match="flash_attn package"):
        choose_backend("cuda", "flash")
    with pytest.raises(ValueError, match="unknown backend"):
        choose_backend("cuda", "cudnn")


def test_flash_never_unpads() -> None:
    """Masked attention on the flash backend is SDPA with the dense mask (FA2's varlen unpadding synced the host)."""
    q, k, v = (t.detach() for t in _qkv(dtype=torch.bfloat16))
    mask = _mask()
    with forced_backend("flash"):
        out = attention(q, k, v, mask)  # bf16 with a mask: SDPA, so flash_attn is never imported (nor needed)
    torch.testing.assert_close(out.float(), reference_attention(q, k, v, mask).float(), atol=2e-2, rtol=2e-2)


def test_reference_is_softmax_attention() -> None:
    q, k, v = _qkv(b=1, sq=2, sk=3, h=1, d=2)
    scores = (q[0, :, 0] @ k[0, :, 0].T) / 2**0.5
    expected = scores.softmax(-1) @ v[0, :, 0]
    torch.testing.assert_close(reference_attention(q, k, v)[0, :, 0], expected)


@pytest.mark.parametrize("masked", [False, True])
def test_sdpa_matches_reference_values_and_gradients(masked: bool) -> None:
    mask = _mask() if masked else None
    q, k, v = _qkv()
    out = attention(q, k, v, mask)
    grad_out = torch.randn_like(out)
    grads = torch.autograd.grad(out, (q, k, v), grad_out)
    q2, k2, v2 = (t.detach().clone().requires_grad_() for t in (q, k, v))
    ref = reference_attention(q2, k2, v2, mask)
    ref_grads = torch.autograd.grad(ref, (q2, k2, v2), grad_out)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_masked_keys_have_no_effect() -> None:
    """Changing a padded key or value changes nothing; the one-key row attends only to its key."""
    mask = _mask()
    q, k, v = (t.detach() for t in _qkv())
    out = attention(q, k, v, mask)
    k2, v2 = k.clone(), v.clone()
    k2[1, 1:] = 100.0
    v2[1, 1:] = -100.0
    torch.testing.assert_close(attention(q, k2, v2, mask), out)
    torch.testing.assert_close(out[1], v[1, :1].expand_as(out[1]))


def test_forced_backend_restores() -> None:
    q, k, v = (t.detach() for t in _qkv())
    with forced_backend("reference"):
        torch.testing.assert_close(attention(q, k, v), reference_attention(q, k, v))
    with pytest.raises(ValueError, match="unknown attention backend"), forced_backend("nope"):  # type: ignore[arg-type]
        pass


@pytest.mark.gpu
@pytest.mark.parametrize("masked", [False, True])
def test_cuda_backend_matches_reference_in_bf16(masked: bool) -> None:
    """SDPA's fused kernels (cuDNN first) against the float32 reference on the same inputs."""
    mask = _mask(sk=40, device="cuda") if masked else None  # as long as the keys (it was 9: failed on an H100)
    q, k, v = _qkv(b=3, sq=64, sk=40, h=8, d=64, dtype=torch.bfloat16, device="cuda")
    out = attention(q, k, v, mask)
    ref = reference_attention(q.float(), k.float(), v.float(), mask)
    torch.testing.assert_close(out.float(), ref, atol=2e-2, rtol=2e-2)
    grad = torch.randn_like(out)
    g = torch.autograd.grad(out, (q, k, v), grad)
    q2, k2, v2 = (t.detach().float().requires_grad_() for t in (q, k, v))
    g_ref = torch.autograd.grad(reference_attention(q2, k2, v2, mask), (q2, k2, v2), grad.float())
    for a, b in zip(g, g_ref, strict=True):
        torch.testing.assert_close(a.float(), b, atol=5e-2, rtol=5e-2)
