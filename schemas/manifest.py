"""A curated manifest (DESIGN.md section 7): `manifests/<name>/manifest.json` and the entries file it names.

`manifest.json` is the manifest's one commit point: it names its entries file (`entries`), whose name holds the
digest of its bytes (`entries_name`), so a manifest replaced while a reader reads, or a replacement killed half way,
never pairs one manifest's json with another's entries (issue 67 item 7): every reader finds the entries through
`jobs.catalog.manifest_read.entries_file`. A manifest written before the name held the digest names `entries.parquet`.

The training launcher reads a manifest and nothing else about data, so everything a run needs to be reproducible is
here: the query, the catalog snapshot it ran on, the routing table, the split rule and the sampling weights.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import datetime
from pathlib import Path
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.arrow import arrow_schema
from schemas.tiers import QualityTier, RoutingTable

MANIFEST_VERSION = 1
MANIFEST_JSON = "manifest.json"
ENTRIES_PARQUET = "entries.parquet"  # the entries file of a manifest written before `entries_name`
ENTRIES_NAME = re.compile(r"entries(-[0-9a-f]{16})?\.parquet")  # a name `Manifest.entries` may hold
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

Split = Literal["train", "val"]
Balance = Literal["none", "source", "subset"]
# What an entry's weight weighs. frame: the weights of a balance group (the whole manifest for balance "none") set the
# group's total mass, spread over the group's samples (anchor frames) in proportion to each episode's weight, so with
# equal weights every anchor of a group is equally likely and, for balance "none", sources are sampled by their hours
# (LDA/GR00T draw a dataset by weight, then a step uniformly in it: GR00T's LeRobotSingleDataset indexes `all_steps`,
# one (trajectory, base index) per frame; NVIDIA/Isaac-GR00T gr00t/data/dataset.py,
# https://github.com/NVIDIA/Isaac-GR00T/blob/main/gr00t/data/dataset.py). Frames that cannot anchor a sample (the last
# chunk of an episode, training.episodes.anchors) are not drawn, so very short episodes still fall a little short of
# their hours. episode: every episode gets its weight as its total mass whatever its length (the behaviour before
# weight_unit existed, kept for reproducing old runs).
WeightUnit = Literal["frame", "episode"]
# How far the shares of a manifest (`sampling_weights`, the mixture's weights) may sum from 1: each share is a float
# division by the correctly rounded total, so each lies in [0, 1] exactly and their sum is off by a few ulp per share
SHARE_TOLERANCE = 1e-9


class ManifestEntry(BaseModel):
    """One row of `entries.parquet`."""

    model_config = ConfigDict(extra="forbid")

    episode_uid: str = Field(description="the catalog's stable id (source/subset/raw id)")
    dataset: str = Field(description="dataset folder relative to the corpus root")
    episode_index: int = Field(ge=0, description="episode index inside that LeRobot dataset")
    tier: QualityTier = Field(description="quality tier; the routing table maps it to tasks")
    weight: float = Field(gt=0, description="relative sampling weight of the episode (mean 1 over the manifest)")
    split: Split
    # what the episode held when the manifest was made, the catalog's columns of the same names: a use of the manifest
    # after a re-read or a removal compares them with the catalog's (`jobs.catalog.manifest_current`)
    content_hash: str | None = Field(
        None,
        description="the catalog's content_hash when curated (sha256 over its files' bytes); null in a manifest made "
        "before entries recorded it, whose episodes cannot be checked against the corpus",
    )
    reading: str | None = Field(
        None,
        description="the catalog's reading when curated (how its source was read, `schemas.reading`); null for an "
        "episode written before issue 98, or in a manifest made before entries recorded it",
    )


ENTRIES_SCHEMA = arrow_schema(ManifestEntry)
CONTENT_COLUMNS = ("content_hash", "reading")  # the entries' record of each episode's content, added last
# the entries of a manifest made before they recorded content: read as the entries schema with those columns null
ENTRIES_SCHEMA_BEFORE_CONTENT = pa.schema([f for f in ENTRIES_SCHEMA if f.name not in CONTENT_COLUMNS])


class SplitRule(BaseModel):
    """How episodes were split, precisely enough to recompute it (`rule`)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["sha256-uid"] = "sha256-uid"
    key: Literal["episode_uid"] = "episode_uid"
    val_fraction: float = Field(ge=0, le=1, description="episodes whose uid hashes below this go to val")
    rule: str = Field(
        "int.from_bytes(sha256(episode_uid.encode('utf-8')).digest()[:8], 'big') / 2**64 < val_fraction -> 'val'",
        description="the rule in Python terms",
    )


class MixtureEntry(BaseModel):
    """One component of the data mixture, LDA/starVLA style: a dataset, its sampling weight and its robot type."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="dataset folder relative to the corpus root")
    weight: float = Field(ge=0, le=1, description="share of the manifest's total sampling weight (all sum to 1)")
    robot_type: str = Field(description="the embodiment of these episodes (schemas.robots.registry)")
    source: str
    subset: str
    episodes: int = Field(ge=1)
    hours: float = Field(ge=0)


class SplitCounts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    episodes: int = Field(ge=0)
    hours: float = Field(ge=0)


class Manifest(BaseModel):
    """`manifest.json`."""

    model_config = ConfigDict(extra="forbid")

    manifest_version: int = MANIFEST_VERSION
    name: str = Field(description="the manifest's folder name under manifests/")
    where: str = Field(description="the user's SQL condition over the catalog view `episodes`")
    query: str = Field(description="the full SQL that selected the entries")
    include_verdicts: list[str] = Field(
        default_factory=list, description="verdict codes overruled, any step's (`curate --include-verdict`)"
    )
    exclude_verdicts: list[str] = Field(
        default_factory=list, description="verdict codes whose episodes were left out (`curate --exclude-verdict`)"
    )
    balance: Balance = Field(description="none: weight 1 each; source/subset: equal total weight per group")
    weight_unit: WeightUnit = Field(
        "frame",
        description="frame: a group's weight spread over its frames; episode: each episode's weight is its mass",
    )
    catalog_snapshot_hash: str = Field(description="sha256 over the catalog parquet files the query ran on")
    routing: RoutingTable = Field(description="tier -> task probabilities the trainer uses, copied for reproducibility")
    sampling_weights: dict[str, float] = Field(description="source -> share of the total sampling weight (sums to 1)")
    mixture: list[MixtureEntry] = Field(description="(dataset, weight, robot_type) per dataset and embodiment")
    split: SplitRule
    splits: dict[Split, SplitCounts] = Field(description="episodes and hours per split")
    tiers: dict[QualityTier, int] = Field(description="episodes per quality tier")
    num_entries: int = Field(ge=1)
    entries: str = Field(
        ENTRIES_PARQUET, description="the entries file in the manifest folder, named by its bytes' digest"
    )
    created_at: datetime

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        check_name(v)
        return v

    @field_validator("entries")
    @classmethod
    def _entries_in_the_folder(cls, v: str) -> str:
        if not ENTRIES_NAME.fullmatch(v):
            raise ValueError(f"entries {v!r} is not an entries file name (entries-<16 hex digits>.parquet)")
        return v

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> Manifest:
        for what, shares in (
            ("sampling_weights", self.sampling_weights.values()),
            ("mixture weights", [e.weight for e in self.mixture]),
        ):
            if abs(math.fsum(shares) - 1.0) > SHARE_TOLERANCE:
                raise ValueError(f"{what} sum to {math.fsum(shares)!r}, not 1 within {SHARE_TOLERANCE}")
        return self

    def dump(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def check_name(name: str) -> None:
    """A manifest name is one safe folder name (no separators, no leading dot)."""
    if not NAME_PATTERN.match(name):
        raise ValueError(
            f"manifest name {name!r} must be 1-128 characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )


def entries_name(data: bytes) -> str:
    """The name of an entries file of these bytes: `entries-<first 16 hex digits of their sha256>.parquet`."""
    return f"entries-{hashlib.sha256(data).hexdigest()[:16]}.parquet"


def check_entries(table: pa.Table, manifest_dir: Path | str) -> pa.Table:
    """`table` when it has the entries schema (a manifest read from a bucket is checked here too); the entries of a
    manifest made before they recorded content with those columns null (`CONTENT_COLUMNS`), so every reader sees
    one schema."""
    if table.schema.equals(ENTRIES_SCHEMA_BEFORE_CONTENT):
        for name in CONTENT_COLUMNS:
            table = table.append_column(ENTRIES_SCHEMA.field(name), pa.nulls(table.num_rows, pa.string()))
    if not table.schema.equals(ENTRIES_SCHEMA):
        raise ValueError(f"{manifest_dir}/{ENTRIES_PARQUET}: schema {table.schema} is not the entries schema")
    return table
