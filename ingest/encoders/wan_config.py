"""The torch-free part of the Wan2.2 encoders (`ingest.encoders.wan`): the model folders' configs read and checked,
the latent grid and the frames a segment's latents sample. An export's plan and its `--help` (`jobs.export.lingbot`)
need only these; importing `wan` costs torch (~1.7 CPU-s, 208 MiB), which `eidata export` paid for every format,
dry runs included, since its parser reads the lingbot-va group's options (issue 99).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TEXT_LEN = 512  # Wan2.2's text_len

# What makes a VAE produce Wan2.2 latents (LingBot-VA's 48-channel, 16x/4x grid), as the released Wan2.2 VAE's config
# has it (Wan-AI/Wan2.2-TI2V-5B-Diffusers, vae/config.json: 2x2 patchify then 8x downsampling, 4x causal temporal
# compression); widths may differ (tests shrink them).
WAN22_STRUCTURE: dict[str, Any] = {"z_dim": 48, "is_residual": True, "in_channels": 12, "patch_size": 2,
                                   "scale_factor_temporal": 4, "scale_factor_spatial": 16,
                                   "temperal_downsample": [False, True, True]}  # fmt: skip


class WanModelError(ValueError):
    """A model folder is missing, unreadable or not the Wan2.2 model the export needs."""


def read_model_config(path: Path | None, what: str, flag: str) -> dict[str, Any]:
    """`path/config.json` as a dict; a clear error when no folder was given or it holds no model."""
    if path is None:
        raise WanModelError(f"no {what} given: pass {flag} PATH (a local folder; nothing is downloaded)")
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        raise WanModelError(f"{flag} {path}: no config.json there; expected a {what} saved with save_pretrained")
    try:
        return json.loads(cfg.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise WanModelError(f"{cfg}: not valid JSON ({e.msg})") from None


def check_wan22_vae(config: Mapping[str, Any], where: str = "VAE") -> None:
    """Raise unless `config` has the Wan2.2 VAE's structure (a Wan2.1 VAE, for one, gives 16-channel 8x latents)."""
    if config.get("_class_name", "AutoencoderKLWan") != "AutoencoderKLWan":
        raise WanModelError(f"{where}: class {config.get('_class_name')!r}, expected AutoencoderKLWan")
    if wrong := {k: config.get(k) for k, v in WAN22_STRUCTURE.items() if config.get(k) != v}:
        want = {k: WAN22_STRUCTURE[k] for k in wrong}
        raise WanModelError(f"{where}: not a Wan2.2 VAE: {wrong} where Wan2.2 has {want}")


def latent_grid(num_frames: int, height: int, width: int, vae_config: Mapping[str, Any]) -> tuple[int, int, int]:
    """(latent frames, latent height, latent width) the VAE gives for a (1 + 4k)-frame H x W video."""
    t, s = vae_config["scale_factor_temporal"], vae_config["scale_factor_spatial"]
    if (num_frames - 1) % t or height % s or width % s:
        raise ValueError(f"video {num_frames}x{height}x{width} needs 1 + {t}k frames and sides divisible by {s}")
    return (num_frames - 1) // t + 1, height // s, width // s


def sample_frame_ids(start: int, end: int, stride: int, temporal: int = 4) -> list[int]:
    """Every `stride`-th frame of [start, end), trimmed to the largest 1 + `temporal`*k (k >= 1); [] when too short."""
    ids = list(range(start, end, stride))
    k = (len(ids) - 1) // temporal
    return ids[: temporal * k + 1] if k >= 1 else []


def tokenizer_dir(text_encoder: Path, tokenizer: Path | None = None) -> Path:
    """The tokenizer folder: `tokenizer` if given, else the text encoder's own folder when it holds tokenizer files,
    else its sibling `tokenizer/` (the diffusers Wan layout: text_encoder/ and tokenizer/ side by side)."""
    if tokenizer is not None:
        return Path(tokenizer)
    for cand in (Path(text_encoder), Path(text_encoder).parent / "tokenizer"):
        if (cand / "tokenizer_config.json").is_file() or (cand / "tokenizer.json").is_file():
            return cand
    raise WanModelError(f"no tokenizer in {text_encoder} or beside it; pass --tokenizer PATH")
