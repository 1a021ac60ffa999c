"""The LingBot-VA export's settings (`LingbotExportSpec`) and its group of `eidata export` options (`OPTIONS`).

Their own module, torch-free, because the `export` parser reads this group for every format (`jobs/commands.toml`):
imported from `job`, it loaded the plan's Wan2.2 encoders and torch for every export, dry runs of
gr00t, lerobot-v3/v21 and lda included (issue 99).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ConfigDict, Field

from ingest.encoders.wan_config import TEXT_LEN
from jobs.export import PathOrUrl
from jobs.runtime.options import Opt, job_values, opts
from jobs.runtime.stage import ADDRESS, RayJob, placement_options


class LingbotExportSpec(RayJob):
    model_config = ConfigDict(frozen=False)

    root: PathOrUrl  # ROOT and --out are the `export` command's own flags (jobs/cli.py), for every format
    out: PathOrUrl
    vae: Path | None = Field(None, description="local Wan2.2 VAE folder (diffusers AutoencoderKLWan; required)")
    text_encoder: Path | None = Field(None, description="local UMT5 encoder folder (Wan2.2's text_encoder; required)")
    tokenizer: Path | None = Field(None, description="tokenizer folder (default: in or beside the text encoder)")
    fps: int = Field(5, ge=1, description="latent sampling rate; must divide the dataset fps (10 -> 10, 5, 2, 1)")
    height: int = Field(256, ge=1)
    width: int = Field(256, ge=1)
    text_len: int = Field(TEXT_LEN, ge=1, description="text tokens kept; text_emb is zero-padded to this length")
    cameras: list[str] | None = Field(
        None,
        description="video keys or short names (default: every camera); a lerobot-v3/v21 manifest also takes the "
        "slots primary and wrist (each dataset's main or wrist camera under one name) and none (no video)",
    )
    max_in_flight: int = Field(4, ge=1, description="episodes decoded or encoded at once (memory bound)")
    object_store_mb: int = Field(1024, ge=64)
    task_retries: int = Field(3, ge=0)


def _size(text: str) -> tuple[int, int]:
    h, _, w = text.lower().partition("x")
    return int(h), int(w or h)


# the lingbot-va group of `eidata export`, in the flags' order (root, --out, --dry-run are the command's own)
OPTIONS = (
    *opts(LingbotExportSpec, "vae", "text_encoder", "tokenizer", "fps"),
    Opt(
        LingbotExportSpec,
        ("height", "width"),
        flags=("--size",),
        parse=_size,
        show="{}x{}".format,
        help="frame size HxW, multiples of 16",
    ),
    *opts(LingbotExportSpec, "text_len", "cameras"),
    *placement_options(LingbotExportSpec),
    Opt(LingbotExportSpec, "max_in_flight"),
    ADDRESS,
)


def build_spec(args: argparse.Namespace) -> LingbotExportSpec:
    values = job_values(args, OPTIONS, LingbotExportSpec)
    return LingbotExportSpec.model_validate({"root": str(args.root), "out": str(args.out), **values})
