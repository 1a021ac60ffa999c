"""Rigid EEF offsets per embodiment, with their sources, so "wrist" is one physical point for every embodiment.

Canonical wrist: the flange, i.e. the point on the last arm joint's axis where the tool (gripper or hand) is mounted.
For a human it is MANO joint 0. Its orientation is the tool frame's, with z = approach axis (wrist -> fingertips) and,
for parallel grippers, y = the axis the fingers close along; every tool frame listed here already has z = approach
except the WidowX's `ee_gripper_link` (x = approach), whose offset therefore also rotates.

`EEF_OFFSETS[embodiment] = (eef_from_wrist, source)`: the transform that maps canonical-wrist points into the frame a
source records when it records the TCP (tool centre point, between the fingertips), so that
`ingest.frames.apply_eef_offset(base_from_tcp, eef_from_wrist) = base_from_wrist`. A pure translation
(0, 0, -L) moves back along the approach axis by the tool length L.

Whether a dataset records the TCP or the flange is a property of the dataset, not of the robot (DROID and TACO-Play are
both Frankas; DROID records the flange): `RECORDED_POINT` says which, per source or OXE subset, and `eef_offset_for`
combines both. Episodes name their dataset as the files do (the TFDS builder name: `bridge_dataset`, `droid_100`,
`rt1`, ...; AgiBot's source `agibot_world`): `DATASET_ALIASES` maps those names, as data, onto the keys of
`RECORDED_POINT`. Its OXE entries mirror `adapters.oxe.subsets` (checked by
tests/ingest/canonical/test_eef_offset_lookup.py), so this module imports no adapter.

The tables are data, each entry with its source: `eef_offsets.yaml`. Numbers marked "(estimate: ...)" or
"(unverified ...)" are not from the manufacturer; replace them when a better source turns up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from schemas.data_file import read_yaml
from schemas.frozen import Frozen
from schemas.transform import RigidTransform

RecordedPoint = Literal["tcp", "flange", "wrist", "unknown"]
EEF_OFFSETS_YAML = Path(__file__).parent / "eef_offsets.yaml"


class _Offset(Frozen):
    eef_from_wrist: RigidTransform
    source: str


class _Recorded(Frozen):
    point: RecordedPoint
    source: str


class EefOffsetsFile(Frozen):
    """`eef_offsets.yaml` (each entry citing its source)."""

    offsets: dict[str, _Offset]
    recorded_point: dict[str, _Recorded]
    dataset_aliases: dict[str, str]


_FILE = read_yaml(EEF_OFFSETS_YAML, EefOffsetsFile)
EEF_OFFSETS: dict[str, tuple[RigidTransform, str]] = {k: (v.eef_from_wrist, v.source) for k, v in _FILE.offsets.items()}
# Which point a dataset's recorded EEF pose measures. Keys: OXE subset names, else adapter source names.
RECORDED_POINT: dict[str, tuple[RecordedPoint, str]] = {k: (v.point, v.source) for k, v in _FILE.recorded_point.items()}
# Names episodes carry -> the RECORDED_POINT key they stand for (the file says whose names they are).
DATASET_ALIASES: dict[str, str] = _FILE.dataset_aliases


def recorded_point(dataset: str, source: str | None = None) -> tuple[RecordedPoint, str]:
    """Which point `dataset` (an OXE subset name or alias; else its `source`) records; ('unknown', ...) if neither is
    listed."""
    for name in (dataset, source):
        key = DATASET_ALIASES.get(name, name) if name is not None else None
        if key is not None and key in RECORDED_POINT:
            return RECORDED_POINT[key]
    return "unknown", f"(unknown: {dataset!r} is not in schemas.robots.eef_offsets.RECORDED_POINT)"


def eef_offset_for(
    embodiment: str, dataset: str, source: str | None = None, declared: tuple[str, str] | None = None
) -> tuple[RigidTransform, str]:
    """The eef_from_wrist offset to apply to `dataset`'s recorded EEF poses, with a sentence saying why.

    Which point the poses measure is `declared` (point, why) where the adapter knows it from the file's own layout
    (`HandSignals.recorded_point`), else `RECORDED_POINT` by name. TCP recordings get the embodiment's tool offset;
    flange and wrist recordings, and unknown ones (no evidence, so no correction), get the identity. Raises KeyError
    for a TCP recording of an embodiment without an entry in `EEF_OFFSETS` (no other point needs one: RoboCOIN's
    unified pose of a described `piper_dual`, a flange pose of any registered arm).
    """
    point, why = declared if declared is not None else recorded_point(dataset, source)
    if point == "tcp" and embodiment not in EEF_OFFSETS:
        raise KeyError(f"no EEF offset for embodiment {embodiment!r}; known: {sorted(EEF_OFFSETS)}")
    if point == "tcp":
        offset, geometry = EEF_OFFSETS[embodiment]
        return offset, f"{dataset} records the TCP ({why}); {geometry}"
    return RigidTransform.identity(), f"{dataset} records point '{point}' ({why}); no offset applied"
