"""Model FLOPs per sample, counted analytically, and MFU.

Counted: every matrix multiply of the forward pass at 2 FLOPs per multiply-accumulate — each Linear on the tokens it
sees, and attention's two products (Q K^T and P V: 4 * queries * keys * hidden). Not counted: norms, softmax,
activations, elementwise ops (a few percent, memory-bound), and activation recomputation (see below).
Training FLOPs = 3 x forward for trained parts (backward computes gradients for inputs and weights, 2 x forward);
a frozen LAM runs its encoder forward only. `tests/training/test_flops.py` checks the forward count against
torch's FlopCounterMode. MFU (`mfu`) divides by the devices' dense bf16 peak (NVIDIA datasheets, H100 SXM / PCIe /
NVL told apart; `--peak-tflops` for others); None on CPU. Activation checkpointing recomputes the blocks' forward:
hardware FLOPs rise by about a third, model FLOPs (what MFU counts) do not.
"""

from __future__ import annotations

from training.config import LamConfig, ModelConfig, TrainConfig

# Dense bf16 tensor-core peak per device, FLOP/s (NVIDIA datasheets: half the "with sparsity" figure). First match
# wins, so the PCIe/NVL variants come before their SXM family name: an H100 PCIe (114 SMs, 350 W) peaks at 756.5
# TFLOP/s and an H100/H200 NVL at 835, not the SXM's 989.4.
PEAK_BF16: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756.5e12),
    ("H100 NVL", 835.5e12),
    ("H200 NVL", 835.5e12),
    ("H100", 989.4e12),
    ("H200", 989.4e12),
    ("H800", 989.4e12),
    ("H20", 148.0e12),
    ("A100", 312.0e12),
    ("A800", 312.0e12),
)
# an H100 whose name says neither (e.g. "NVIDIA H100"): the SM count tells the PCIe card (114) from SXM/NVL (132)
H100_PCIE_SMS = 114


def _linear(tokens: float, fan_in: int, fan_out: int) -> float:
    return 2.0 * tokens * fan_in * fan_out


def _attention(queries: float, keys: float, width: int) -> float:
    return 4.0 * queries * keys * width


def _plain_block(tokens: float, width: int, mlp_ratio: float = 4.0) -> float:
    """`training.layers.TransformerBlock`."""
    inner = int(width * mlp_ratio)
    qkv_out = _linear(tokens, width, 3 * width) + _linear(tokens, width, width)
    return qkv_out + _attention(tokens, tokens, width) + _linear(tokens, width, inner) + _linear(tokens, inner, width)


def dit_forward(cfg: ModelConfig, text_tokens: float) -> float:
    """MM-DiT forward FLOPs for one sample with `text_tokens` text embeddings (the null token is added here)."""
    d, p, h, k, a, c = cfg.hidden, cfg.patches, cfg.history, cfg.chunk, cfg.action_dim, cfg.latent_dim
    n = cfg.image_tokens + cfg.action_tokens
    keys = text_tokens + 1
    inner = int(d * cfg.mlp_ratio)
    # latents (the same FLOPs whether (H + 2) P tokens of C or P tokens of (H + 2) C channels), actions, state
    f = _linear((h + 2) * p, c, d) + _linear(h + k, 2 * a, d) + _linear(1, 2 * a, d)
    f += _linear(text_tokens, cfg.text_dim, d)
    f += _linear(1, cfg.time_freq_dim, d) + _linear(1, d, d)
    adaln = 2 * _linear(1, d, 6 * d)  # both modalities' (t, task) -> 6 d: once (adaLN-single) or in every block
    f += 0 if cfg.per_block_adaln else adaln
    block = adaln if cfg.per_block_adaln else 0.0
    block += _linear(n, d, 3 * d) + _attention(n, n, d) + _linear(n, d, d)  # joint self-attention
    block += _linear(keys, d, 2 * d) + 2 * _linear(n, d, d) + _attention(n, keys, d)  # cross-attention
    block += _linear(n, d, inner) + _linear(n, inner, d)  # MLP
    f += cfg.depth * block
    return f + 2 * _linear(1, d, 2 * d) + _linear(k, d, a) + _linear(p, d, c)


def lam_encode_forward(lam: LamConfig, model: ModelConfig) -> float:
    p, q, h = model.patches, lam.queries, lam.hidden
    f = _linear(2 * p, model.latent_dim, h) + lam.idm_layers * _plain_block(q + 2 * p, h)
    return f + _linear(q, h, lam.code_dim)


def lam_forward(lam: LamConfig, model: ModelConfig) -> float:
    p, q, h = model.patches, lam.queries, lam.hidden
    f = lam_encode_forward(lam, model) + 2.0 * q * lam.code_dim * lam.codes  # codebook distances
    f += _linear(q, lam.code_dim, h) + _linear(p, model.latent_dim, h)
    return f + lam.fdm_layers * _plain_block(q + p, h) + _linear(p, h, model.latent_dim)


def projector_forward(cfg: TrainConfig) -> float:
    d = cfg.model.hidden
    return _linear(1, d, d) + _linear(1, d, cfg.lam.latent_size)


def train_per_sample(cfg: TrainConfig, text_tokens: float) -> float:
    if cfg.lara.mode == "pretrain":  # the LAM alone
        return 3 * lam_forward(cfg.lam, cfg.model)
    f = 3 * dit_forward(cfg.model, text_tokens)
    if cfg.lara.mode == "joint":
        f += 3 * (lam_forward(cfg.lam, cfg.model) + projector_forward(cfg))
    elif cfg.lara.mode == "frozen":
        f += lam_encode_forward(cfg.lam, cfg.model) + 3 * projector_forward(cfg)
    return f


def peak_flops(
    device_name: str | None, override_tflops: float | None = None, sm_count: int | None = None
) -> float | None:
    """Per-device peak FLOP/s: the override, else a known GPU's bf16 dense peak (`torch.cuda.get_device_name()`,
    with `multi_processor_count` for an ambiguous H100 name), else None (no MFU)."""
    if override_tflops is not None:
        return override_tflops * 1e12
    if not device_name:
        return None
    name = device_name.replace("-", " ")
    if "H100" in name and sm_count == H100_PCIE_SMS and "PCIe" not in name and "NVL" not in name:
        name += " PCIe"
    for key, value in PEAK_BF16:
        if key in name:
            return value
    return None


def device_peak(device: object, override_tflops: float | None = None) -> float | None:
    """`peak_flops` of a torch CUDA device (None for CPU without an override)."""
    import torch

    dev = torch.device(device)  # type: ignore[call-overload]
    if dev.type != "cuda":
        return peak_flops(None, override_tflops)
    props = torch.cuda.get_device_properties(dev)
    return peak_flops(props.name, override_tflops, props.multi_processor_count)


def mfu(train_flops_per_sample: float, samples_per_s: float, peak: float | None, devices: int) -> float | None:
    return None if peak is None else train_flops_per_sample * samples_per_s / (peak * devices)
