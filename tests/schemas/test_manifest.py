"""The curated manifest (schemas/manifest.py): the split rule as stored recomputes every split, splits never move as
the val fraction grows, the entries file is checked against its schema, and manifest.json round-trips (read from
its folder: tests/jobs/catalog/test_manifest_read.py)."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from schemas.manifest import (
    ENTRIES_PARQUET,
    ENTRIES_SCHEMA,
    Manifest,
    ManifestEntry,
    MixtureEntry,
    SplitCounts,
    SplitRule,
    check_name,
)
from schemas.tiers import RoutingTable
from tests.fixtures.manifest import read_entries, split_for

UIDS = [f"oxe/bridge/traj_{i}" for i in range(4000)]


def test_the_stored_rule_text_recomputes_every_split() -> None:
    """`SplitRule.rule` is what manifest.json says; evaluated as written it must give `split_for`'s answer."""
    rule = SplitRule(val_fraction=0.1)
    for uid in UIDS[:500]:
        in_val = eval(rule.rule.split(" -> ")[0], {"sha256": hashlib.sha256, "episode_uid": uid, "val_fraction": 0.1})
        assert split_for(uid, rule.val_fraction) == ("val" if in_val else "train"), uid


def test_splits_never_move_as_the_val_fraction_grows() -> None:
    fractions = (0.0, 0.05, 0.1, 0.5, 1.0)
    splits = {f: np.array([split_for(u, f) == "val" for u in UIDS]) for f in fractions}
    assert not splits[0.0].any() and splits[1.0].all()
    for lo, hi in itertools.pairwise(fractions):
        assert not (splits[lo] & ~splits[hi]).any()  # once in val, always in val
        share = splits[hi].mean()
        assert abs(share - hi) < 4 * np.sqrt(hi * (1 - hi) / len(UIDS)) + 1e-12, (hi, share)  # uniform hash


def _entries(n: int = 3) -> list[ManifestEntry]:
    return [
        ManifestEntry(
            episode_uid=u,
            dataset="datasets/oxe/bridge",
            episode_index=i,
            tier="high",
            weight=1.0,
            split=split_for(u, 0.1),
        )
        for i, u in enumerate(UIDS[:n])
    ]


def test_entries_file_is_checked_against_its_schema(tmp_path: Path) -> None:
    rows = _entries()
    pq.write_table(
        pa.Table.from_pylist([r.model_dump(mode="json") for r in rows], schema=ENTRIES_SCHEMA),
        tmp_path / ENTRIES_PARQUET,
    )
    assert [ManifestEntry(**r) for r in read_entries(tmp_path).to_pylist()] == rows
    wrong = ENTRIES_SCHEMA.set(ENTRIES_SCHEMA.get_field_index("weight"), pa.field("weight", pa.float32()))
    pq.write_table(
        pa.Table.from_pylist([r.model_dump(mode="json") for r in rows], schema=wrong), tmp_path / ENTRIES_PARQUET
    )
    with pytest.raises(ValueError, match=rf"(?s){ENTRIES_PARQUET}: schema .*weight: float\n"):
        read_entries(tmp_path)


@pytest.mark.parametrize(
    ("update", "field"), [({"weight": 0.0}, "weight"), ({"split": "test"}, "split"), ({"tier": "gold"}, "tier")]
)
def test_a_bad_entry_names_its_field(update: dict, field: str) -> None:
    good = _entries(1)[0].model_dump()
    with pytest.raises(ValidationError) as err:
        ManifestEntry(**{**good, **update})
    assert [e["loc"] for e in err.value.errors()] == [(field,)]


@pytest.mark.parametrize("name", ["train_all", "v1.2-rc", "0"])
def test_safe_names_pass(name: str) -> None:
    check_name(name)


@pytest.mark.parametrize("name", ["", ".hidden", "../up", "a/b", "a\\b", "x" * 129, "spaces in it"])
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="manifest name"):
        check_name(name)


def test_manifest_json_round_trip() -> None:
    manifest = Manifest(
        name="train_all",
        where="tier != 'rejected'",
        query="SELECT * FROM episodes WHERE tier != 'rejected'",
        balance="source",
        catalog_snapshot_hash="ab" * 32,
        routing=RoutingTable.default(),
        sampling_weights={"oxe": 1.0},
        mixture=[
            MixtureEntry(
                dataset="datasets/oxe/bridge",
                weight=1.0,
                robot_type="widowx",
                source="oxe",
                subset="bridge",
                episodes=3,
                hours=0.1,
            )
        ],
        split=SplitRule(val_fraction=0.1),
        splits={"train": SplitCounts(episodes=3, hours=0.1), "val": SplitCounts(episodes=0, hours=0.0)},
        tiers={"high": 3},
        num_entries=3,
        created_at=datetime(2026, 11, 23, 1, 0, tzinfo=UTC),
    )
    back = Manifest.model_validate(json.loads(manifest.dump()))
    assert back == manifest and back.weight_unit == "frame" and back.routing == RoutingTable.default()
    with pytest.raises(ValidationError, match="manifest name"):
        Manifest.model_validate({**manifest.model_dump(), "name": "../escape"})
