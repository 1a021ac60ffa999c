"""Options of the Open X-Embodiment adapter (`oxe`): splits, version, CRC checks, duplicates, overrides.

What an OXE source's spec names that its builders show to be a typo, found at the spec check (issue 86, item 4): a
builder folder one letter off a subset of the table (`bridge_datset`, which would otherwise be read as an unknown
subset: natives, tier low, 10 Hz) and a camera no builder's features.json declares. Each with "did you mean"
(`schemas.spelling`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from adapters.base import AdapterError, AdapterOptions
from adapters.oxe.builder import Builder, find_builders, load_builder
from adapters.oxe.subsets import SUBSETS, find_subset
from adapters.storage.location import Location
from schemas.spelling import closest, did_you_mean
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


Problem = tuple[tuple[str, ...], str]


def builders_at(root: Location) -> list[Builder]:
    """The builders under `root` whose meta reads (one that does not is named by discovery)."""
    out = []
    for path in find_builders(root):
        try:
            out.append(load_builder(path))
        except AdapterError:
            continue
    return out


def subset_typos(builders: list[Builder], options: OXEOptions) -> list[Problem]:
    """A builder in no row of the subset table whose name is close to one that is. A dataset of its own under such a
    name is read as an unknown subset once the spec says so: its rate (`control_hz`) or its name as `subset`."""
    if options.control_hz is not None:
        return []
    known = [n for s in SUBSETS.values() for n in (s.name, *s.aliases)]
    out = []
    for b in builders:
        near = None if find_subset(b.name) is not None or b.name == options.subset else closest(b.name, known)
        if near is not None:
            msg = (
                f"builder {b.name!r} ({b.path}) is not in the OXE subset table (adapters/oxe/subsets.yaml); did you "
                f"mean {near!r}? Rename its folder; or, for a dataset of its own, set option control_hz (its rate) to "
                "read it as an unknown subset (natives, tier low)"
            )
            out.append((("root",), msg))
    return out


def camera_typos(builders: list[Builder], options: OXEOptions) -> list[Problem]:
    """A requested camera (a name, or its key under steps/) that no builder's features.json declares as an image."""
    if not options.cameras or not builders:
        return []
    keys = [f.rel for b in builders for f in b.features.values() if f.in_steps and f.kind == "image"]
    declared = {*keys, *(k.rsplit("/", 1)[-1] for k in keys)}
    return [
        (
            ("options", "cameras"),
            f"camera {name!r} is declared by no builder (features.json); "
            + did_you_mean(name, sorted(declared), listing="its cameras"),
        )
        for name in options.cameras
        if name not in declared
    ]
