"""Model FLOPs per sample, counted analytically, and MFU.

Counted: every matrix multiply of the forward pass at 2 FLOPs per multiply-accumulate — each Linear on the tokens it
sees, and attention's two products (Q K^T and P V: 4 * queries * keys * hidden). Not counted: norms, softmax,
activations, elementwise ops (a few percent, memory-bound), and activation recomputation (none is done).
Training FLOPs = 3 x forward for trained parts (backward computes gradients for inputs and weights, 2 x forward);
a frozen LAM runs its encoder forward only. `tests/training/test_flops.py` checks the forward count against
torch's FlopCounterMode.

    MFU = train_flops_per_sample * samples_per_second / (peak_flops_per_device * devices)

with the devices' dense bf16 peak (NVIDIA datasheets; `--peak-tflops` for others). None on CPU.
"""

from __future__ import annotations

from training.config import LamConfig, ModelConfig, TrainConfig

# dense bf16 tensor-core peak per device, FLOP/s, matched against torch.cuda.get_device_name()
PEAK_BF16 = {"H200": 989.4e12, "H100": 989.4e12, "H800": 989.4e12, "H20": 148e12, "A100": 312e12, "A800": 312e12}


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
    f = _linear((h + 2) * p, c, d) + _linear(h + k, 2 * a, d) + _linear(1, 2 * a, d)  # latents, actions, state
    f += _linear(text_tokens, cfg.text_dim, d)
    f += _linear(1, cfg.time_freq_dim, d) + _linear(1, d, d) + 2 * _linear(1, d, 6 * d)
    block = _linear(n, d, 3 * d) + _attention(n, n, d) + _linear(n, d, d)  # joint self-attention
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


def forward_per_sample(cfg: TrainConfig, text_tokens: float) -> float:
    f = dit_forward(cfg.model, text_tokens)
    if cfg.lara.mode == "joint":
        f += lam_forward(cfg.lam, cfg.model) + projector_forward(cfg)
    elif cfg.lara.mode == "frozen":
        f += lam_encode_forward(cfg.lam, cfg.model) + projector_forward(cfg)
    return f


def train_per_sample(cfg: TrainConfig, text_tokens: float) -> float:
    if cfg.lara.mode == "pretrain":  # the LAM alone
        return 3 * lam_forward(cfg.lam, cfg.model)
    f = 3 * dit_forward(cfg.model, text_tokens)
    if cfg.lara.mode == "joint":
        f += 3 * (lam_forward(cfg.lam, cfg.model) + projector_forward(cfg))
    elif cfg.lara.mode == "frozen":
        f += lam_encode_forward(cfg.lam, cfg.model) + 3 * projector_forward(cfg)
    return f


def peak_flops(device_name: str | None, override_tflops: float | None = None) -> float | None:
    """Per-device peak FLOP/s: the override, else a known GPU's bf16 dense peak, else None (no MFU)."""
    if override_tflops is not None:
        return override_tflops * 1e12
    if not device_name:
        return None
    for key, value in PEAK_BF16.items():
        if key in device_name:
            return value
    return None


def mfu(train_flops_per_sample: float, samples_per_s: float, peak: float | None, devices: int) -> float | None:
    return None if peak is None else train_flops_per_sample * samples_per_s / (peak * devices)
