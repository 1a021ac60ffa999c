"""Options of the Open X-Embodiment adapter (`oxe`): splits, version, CRC checks, duplicates, overrides."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from adapters.base import AdapterOptions
from schemas.tiers import QualityTier


class OXEOptions(AdapterOptions):
    splits: list[str] | None = Field(None, description="TFDS splits to read (default: all in dataset_info.json)")
    version: str | None = Field(None, description="builder version directory to read (default: the highest)")
    verify_crc: bool = Field(True, description="check the masked CRC32C of every record length and payload")
    duplicates: Literal["report", "skip", "keep"] = Field(
        "report",
        description="episodes whose content equals an earlier one (e.g. the same episode in train and val): "
        "'report' says a split that copies another whole once (a source finding) and yields any other copy with "
        "error set (quarantined), 'skip' leaves them out (one finding), 'keep' disables detection",
    )
    detect_blank_cameras: bool = Field(True, description="leave out cameras whose images are empty or one flat colour")
    control_hz: float | None = Field(
        None, gt=0, description="override the control frequency (a dataset in no table is read at 10 Hz without it)"
    )
    embodiment: str | None = Field(
        None, description="override the embodiment (a dataset in no table is 'unknown': natives only)"
    )
    tier: QualityTier | None = Field(None, description="override the subset's default tier")
    bgr_cameras: list[str] | None = Field(
        None,
        description="camera names (or keys under steps/) whose pixels are stored BGR, replacing the subset table's "
        "rule (berkeley_autolab_ur5 hand_image: BGR only when features.json declares 480x640); [] flips none",
    )
