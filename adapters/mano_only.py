"""Sources whose hands are MANO parameters only (ARCTIC, HOI4D, OakInk2, TACO): the option that names the licensed
model files and the error an episode raises without it. Canonicalization evaluates the parameters
(`ingest.canonical.mano`); without the model no hand keypoint can be made, so such an episode is quarantined naming
the option, never written handless.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from adapters.base import AdapterOptions
from adapters.source_adapter import SourceAdapter


class ManoOnlyOptions(AdapterOptions):
    mano_model_dir: Path | None = Field(
        None, description="folder with MANO_LEFT.npz / MANO_RIGHT.npz: this source's hands are MANO parameters only"
    )


def model_dir(adapter: SourceAdapter, source: str, *, file: Any, episode: str) -> str:
    """The `mano_model_dir` option as a string, or the adapter's error naming the option, file and episode."""
    folder = getattr(adapter.options, "mano_model_dir", None)
    if folder is None:
        msg = f"{source}'s hands are MANO parameters only: set the adapter option mano_model_dir (MANO_*.npz)"
        raise adapter.error(msg, file=file, episode=episode, field="mano_model_dir")
    return str(folder)
