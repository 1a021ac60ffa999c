"""`eidata export ROOT --format FORMAT`: hand a curated corpus to another model family's data layer.

One module per format, imported only when asked for (a format may pull heavy optional extras). Each module
exposes `cli(args) -> int` over the arguments of the `export` subcommand (`root`, `format`, `out`, and any the
format adds to the parser) and returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator

from ingest.storage.corpus import corpus_where

# a job model's corpus or output: a folder, or a bucket URL kept as text (a Path would fold `s3://` into `s3:/`)
PathOrUrl = Annotated[Path | str, BeforeValidator(corpus_where)]

# format name -> module implementing it
EXPORT_FORMATS: dict[str, str] = {
    "gr00t": "jobs.export.gr00t",
    "lingbot-va": "jobs.export.lingbot.job",
    "lerobot-v3": "jobs.export.lerobot_v3.job",
    "lerobot-v21": "jobs.export.lerobot_v3.job",  # the same plans, written as LeRobot v2.1
    "lda": "jobs.export.lda.job",  # LeRobot v2.1 datasets LDA-1B's own loader reads as they are
}


def cli_export(args: argparse.Namespace) -> int:
    module_name = EXPORT_FORMATS.get(args.format)
    if module_name is None:
        print(f"eidata export: unknown format {args.format!r}; known: {sorted(EXPORT_FORMATS)}", file=sys.stderr)
        return 2
    return int(importlib.import_module(module_name).cli(args))
