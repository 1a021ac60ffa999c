"""Sources whose hands are MANO parameters only (ARCTIC, HOI4D, OakInk2, TACO): the option that names the licensed
model files and the error an episode raises without it. Canonicalization evaluates the parameters
(`ingest.canonical.mano`); without the model no hand keypoint can be made, so such an episode is quarantined naming
the option, never written handless.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from adapters.base import AdapterOptions


class ManoOnlyOptions(AdapterOptions):
    mano_model_dir: Path | None = Field(
        None, description="folder with MANO_LEFT.npz / MANO_RIGHT.npz: this source's hands are MANO parameters only"
    )
