"""Training configuration as data: typed pydantic models per component and the size presets (`tiny`, `lda-1b`).

Nothing here imports torch, so the CLI can validate a run before paying for the import. A run's whole config is
written to `<run>/config.json` and into every checkpoint, which is what makes a resume or an eval self-contained.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from schemas.canonical import CANONICAL_DIM, MAIN_CAMERA_ORDER
from schemas.data_file import read_yaml
from schemas.frozen import Frozen


class ModelConfig(Frozen):
    """The MM-DiT (LDA-1B README table; report section 9.2)."""

    depth: int = Field(ge=2, description="transformer blocks")
    hidden: int = Field(ge=8, description="width of every token stream")
    heads: int = Field(ge=1, description="attention heads (hidden must divide evenly)")
    mlp_ratio: float = Field(4.0, gt=0, description="MLP width / hidden")
    latent_dim: int = Field(384, description="DINOv3 ViT-S/16 patch feature width")
    latent_grid: int = Field(14, description="patch grid side (224 / 16)")
    latent_pool: int = Field(1, ge=1, description="average-pool the patch grid by this factor (tiny: 2 -> 7x7)")
    native_dim: int = Field(
        64,
        ge=0,
        description="width of the native block after the 50 canonical dims of every action/state vector: a robot "
        "without a description trains on its own command (`action.native`) there, its real dims masked "
        "(training/README.md); a wider command is left out, named",
    )
    chunk: int = Field(16, ge=1, description="action chunk length at 10 Hz")
    history: int = Field(2, ge=0, description="past (latents, action) steps given as context")
    text_dim: int = Field(ge=1, description="width of the text hidden states (replaced by the data's own width)")
    qk_norm: bool = Field(True, description="RMS-normalize queries and keys per head (bf16 stability at depth)")
    time_freq_dim: int = Field(256, description="sinusoidal features of the diffusion time")
    # LARA's code collects all_hidden_states = [input, output of each block] and reads
    # all_hidden_states[latent_motion_hidden_layer], default -3: the output of block depth-3 (0-based), "DiT layer
    # L-2" in its table (github.com/lmy1001/LARA@bd0701a, LARA_full/lara_full/model/action_head/
    # cross_attention_dit.py DiT.forward and flow_matching_action_head.py FlowmatchingActionHeadConfig / forward).
    align_hidden: int = Field(
        -3, description="LARA aligns hidden state [input, block_0 out, ..., block_{depth-1} out][align_hidden]"
    )
    # Where we differ from LDA only in cost, LDA's choice is an option (training/README.md). LDA's
    # blocks each own a to_cond Linear (jiangranlv/LDA-1B@6d82091, lda/model/modules/action_model/flow_matching_head/
    # mmdit/mmdit/mmdit_cross_attn.py MMDiTBlock.to_cond); its image stream is one token per patch with the frames
    # concatenated along channels (MMDiT_ActionHeader.py: rearrange "(b v t) n c -> b (v n) (c t)", obs_merger)
    # plus num_target_vision_tokens = 32 learned register tokens.
    per_block_adaln: bool = Field(
        False,
        description="each block computes its own (t, task) modulation (LDA, DiT) instead of a shared MLP plus a "
        "per-block offset (adaLN-single; 12 hidden^2 fewer parameters per block)",
    )
    image_layout: Literal["token", "channel"] = Field(
        "token",
        description="token: one token per patch per frame ((history + 2) x patches); channel: one token per patch "
        "with every frame's latents concatenated along channels (LDA's layout, (history + 2) x fewer image tokens)",
    )
    image_registers: int = Field(0, ge=0, description="learned register tokens in the image stream (LDA: 32)")

    @model_validator(mode="after")
    def _shapes(self) -> ModelConfig:
        if self.hidden % self.heads:
            raise ValueError(f"hidden {self.hidden} is not divisible by heads {self.heads}")
        if self.latent_grid % self.latent_pool:
            raise ValueError(f"latent_grid {self.latent_grid} is not divisible by latent_pool {self.latent_pool}")
        n = self.depth + 1  # hidden states: the input, then each block's output
        if not -n <= self.align_hidden < n or self.align_hidden % n == 0:
            # the input state (index 0) has passed no block: aligning it would only train the action embedding
            raise ValueError(
                f"align_hidden {self.align_hidden} must name a block output of the {self.depth} blocks: "
                f"1..{self.depth} or -{self.depth}..-1"
            )
        return self

    @property
    def align_block(self) -> int:
        """0-based index of the block whose output `align_hidden` names."""
        return self.align_hidden % (self.depth + 1) - 1

    @property
    def action_dim(self) -> int:
        """Width of an action/state vector: the canonical space, then the native block."""
        return CANONICAL_DIM + self.native_dim

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def patches(self) -> int:
        """Image tokens per frame after pooling."""
        return (self.latent_grid // self.latent_pool) ** 2

    @property
    def frames(self) -> int:
        """Image frames a sample shows the model: history, current, future."""
        return self.history + 2

    @property
    def image_tokens(self) -> int:
        """Registers, then the patches of every frame (token layout) or one token per patch (channel layout)."""
        per_patch = self.frames if self.image_layout == "token" else 1
        return self.image_registers + per_patch * self.patches

    @property
    def action_tokens(self) -> int:
        """History actions + one state token + the action chunk."""
        return self.history + 1 + self.chunk


class LamConfig(Frozen):
    """LARA's latent action model (appendix A.1), over DINO latents instead of a pixel ViT."""

    hidden: int = Field(ge=8)
    heads: int = Field(ge=1)
    idm_layers: int = Field(ge=1, description="M-Former layers (inverse dynamics)")
    fdm_layers: int = Field(ge=1, description="decoder layers (forward dynamics)")
    queries: int = Field(8, ge=1, description="M-Former learnable queries")
    codes: int = Field(128, ge=2, description="VQ codebook size")
    code_dim: int = Field(ge=2, description="width of one code")
    commitment: float = Field(0.25, ge=0, description="VQ-VAE commitment weight beta")

    @property
    def latent_size(self) -> int:
        """Width of the flattened continuous latent action (the alignment target)."""
        return self.queries * self.code_dim


class LaraConfig(Frozen):
    """LARA alignment: `joint` trains the LAM with the DiT, `frozen` aligns to a loaded LAM, `off` drops both;
    `pretrain` trains the LAM alone (reconstruction + VQ) on latent pairs `stride` frames apart.

    LARA's recipe: pretrain the LAM, then `joint` from its weights (`weights`: the pretraining run's checkpoint).
    `weights` are loaded in every mode that has a LAM."""

    mode: Literal["joint", "frozen", "off", "pretrain"] = "joint"
    align_weight: float = Field(0.01, ge=0, description="weight of 1 - cos(projector(h), z)")
    lam_weight: float = Field(0.01, ge=0, description="weight of the LAM's reconstruction + VQ loss")
    weights: str | None = Field(None, description="LAM weights (.safetensors or a training checkpoint)")
    stride: int = Field(
        5, ge=1, description="pretrain: the LAM's pair is (t, first latent frame at or after t + stride); LARA: 5"
    )

    @model_validator(mode="after")
    def _weights_match_mode(self) -> LaraConfig:
        if self.mode == "frozen" and not self.weights:
            raise ValueError("lara mode 'frozen' aligns to a trained LAM: give its weights (--lam-weights PATH)")
        if self.mode == "off" and self.weights:
            # with no LAM the weights would be recorded in config.json and never read
            raise ValueError(f"lara mode 'off' has no LAM to load weights {self.weights} into: drop --lam-weights")
        return self


class FlowConfig(Frozen):
    """Flow matching: x_t = t x + (1 - t) noise, velocity target x - noise, t = 1 is clean data."""

    beta_alpha: float = Field(1.5, gt=0, description="u ~ Beta(alpha, 1); t = (s - u) / s")
    s: float = Field(0.999, gt=0, le=1, description="t = (s - u) / s; draws with u > s are clamped to t = 0")
    inference_steps: int = Field(4, ge=1, description="Euler steps from noise to data")


MAX_WORKERS = 4  # the default's cap: the fixed default before it followed the CPUs this process may run on


def default_workers() -> int:
    """DataLoader workers this process can run side by side: the CPUs it may run on (`os.sched_getaffinity`, what
    torch's DataLoader checks before it warns "this DataLoader will create N worker processes in total. Our suggested
    max number of worker in current system is M"), at most `MAX_WORKERS`."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cpus))


class DataConfig(Frozen):
    cameras: tuple[str, ...] = Field(
        MAIN_CAMERA_ORDER,
        description="an episode uses the first of these cameras that has latents; none -> the episode is skipped",
    )
    future_offset: int = Field(16, ge=1, description="future latents: first latent frame at or after t + this")
    num_workers: int = Field(
        default_factory=default_workers,
        ge=0,
        description=f"DataLoader worker processes per rank (default: the CPUs this process may run on, at most "
        f"{MAX_WORKERS}; here {default_workers()})",
    )
    cache_dir: str | None = Field(
        None, description="local cache of a bucket corpus's files (default ~/.cache/eidata/train)"
    )
    cache_bytes: int = Field(64 << 30, ge=1, description="bound of that cache; least recently used files evicted")


class OptimConfig(Frozen):
    """AdamW and a cosine schedule (LDA report 9.2)."""

    lr: float = Field(1e-4, gt=0)
    min_lr: float = Field(5e-7, ge=0)
    weight_decay: float = Field(1e-5, ge=0)
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    warmup_steps: int = Field(0, ge=0)
    grad_clip: float = Field(1.0, gt=0)


class TrainConfig(Frozen):
    """One training run; `schedule_steps` is the cosine horizon, fixed at the start and kept on resume."""

    preset: str
    model: ModelConfig
    lam: LamConfig
    lara: LaraConfig = LaraConfig()
    flow: FlowConfig = FlowConfig()
    data: DataConfig = DataConfig()
    optim: OptimConfig = OptimConfig()
    manifest: str = Field(description="the manifest folder the run trains on")
    batch_size: int = Field(ge=1, description="samples per rank per step")
    schedule_steps: int = Field(ge=1)
    seed: int = Field(
        0, description="seeds the initial weights, the sampler's order, each sample's task draw and the loader's noise"
    )
    log_every: int = Field(10, ge=1)
    ckpt_every: int = Field(500, ge=1)
    keep_checkpoints: int = Field(3, ge=1)
    compile: Literal["auto", "on", "off"] = Field(
        "auto",
        description="torch.compile the objective; auto: on CUDA devices only (CPU compiles cost more than they save)",
    )
    checkpointing: bool = Field(
        False,
        description="recompute each MM-DiT block in the backward pass (less activation memory, ~1/3 more compute)",
    )
    attention: Literal["auto", "sdpa", "flash", "reference"] = Field(
        "auto",
        description="attention kernel: auto = PyTorch SDPA (cuDNN, then flash, then memory-efficient on CUDA); flash = "
        "FlashAttention-2 for unmasked attention (opt-in: slower than cuDNN SDPA on Hopper)",
    )
    text_bucket: int = Field(
        64, ge=1, description="text keys (null token included) are padded to a multiple of this: fixed shapes"
    )
    text_max: int = Field(1024, ge=1, description="the most text keys a batch may have (a multiple of text_bucket)")
    peak_tflops: float | None = Field(None, gt=0, description="per-device peak for MFU; None: known GPUs only")

    @field_validator("compile", mode="before")
    @classmethod
    def _compile_from_bool(cls, v: object) -> object:
        return {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v  # configs written before auto

    @field_validator("text_max")
    @classmethod
    def _text_max_in_buckets(cls, v: int, info: ValidationInfo) -> int:
        bucket = info.data.get("text_bucket")
        if bucket and v % bucket:
            raise ValueError(f"text_max {v} is not a multiple of text_bucket {bucket}")
        return v

    def dump(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


class Preset(Frozen):
    model: ModelConfig
    lam: LamConfig
    batch_size: int
    steps: int
    warmup_steps: int = 0


class _PresetsFile(Frozen):
    presets: dict[str, Preset]


PRESETS: dict[str, Preset] = read_yaml(Path(__file__).with_name("presets.yaml"), _PresetsFile).presets


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; known: {sorted(PRESETS)}") from None


def config_from_preset(name: str, manifest: Path | str, **overrides: object) -> TrainConfig:
    """A run config from a preset; `overrides` are TrainConfig fields (e.g. batch_size, lara, data)."""
    p = get_preset(name)
    base: dict[str, object] = {
        "preset": name,
        "model": p.model,
        "lam": p.lam,
        "manifest": str(manifest),
        "batch_size": p.batch_size,
        "schedule_steps": p.steps,
        "optim": OptimConfig(warmup_steps=p.warmup_steps),
    }
    base.update(overrides)
    return TrainConfig.model_validate(base)
