"""OXE discovery (`adapters/oxe/discovery.py`), one walk over the real Octo debug Bridge shards
(real sample `octo_bridge_debug_rlds`, whose val split stores train's 25 episodes again): a ref per record with
its offset, episode id and content hash; the copies reported, skipped or kept as the option says; a shard cut short
costs a named error ref for each record it loses."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

from adapters.base import AdapterError
from adapters.oxe.adapter import OXEAdapter
from adapters.oxe.builder import load_builder
from adapters.oxe.discovery import RecordDiscovery
from adapters.oxe.options import OXEOptions
from adapters.storage.location import locate
from tests.realdata import realdata

BUILDER = "octo_bridge_debug_rlds/bridge_dataset/1.0.0"
ERROR = functools.partial(AdapterError, adapter="oxe")


def _walk(path: Path, **options: object) -> tuple[list, list[dict[str, str]]]:
    builder = load_builder(locate(path))
    duplicates: list[dict[str, str]] = []
    walk = RecordDiscovery(builder, OXEOptions(**options), ERROR, OXEAdapter().new_ref, duplicates)
    refs = [
        ref
        for split in builder.splits
        for i, shard in enumerate(split.shards)
        for ref in walk.discover_shard(split.name, i, shard, split.shard_lengths[i] if split.shard_lengths else None)
    ]
    return refs, duplicates


def test_a_ref_per_real_record_and_the_copies_reported() -> None:
    refs, duplicates = _walk(realdata(BUILDER))
    train, val = refs[:25], refs[25:]
    assert [r.raw_id for r in train] == [f"train/00000/{i:06d}" for i in range(25)] and duplicates == []
    assert all(r.error is None and r.locator["num_steps"] > 0 and "offset" in r.locator for r in train)
    assert train[0].locator["offset"] == 0 and train[1].locator["offset"] > 0
    assert len(val) == 25 and all(r.error and "duplicate of episode train/" in r.error for r in val)
    assert {r.locator["duplicate_of"] for r in val} == {r.raw_id for r in train}


def test_skip_and_keep() -> None:
    refs, duplicates = _walk(realdata(BUILDER), duplicates="skip")
    assert len(refs) == 25 and len(duplicates) == 25 and duplicates[0]["subset"] == "bridge_dataset"
    refs, _ = _walk(realdata(BUILDER), duplicates="keep")
    assert len(refs) == 50 and all(r.error is None and "content_hash" not in r.locator for r in refs)


def test_a_shard_cut_at_a_record_boundary_names_each_lost_record(tmp_path: Path) -> None:
    copy = tmp_path / "bridge_dataset" / "1.0.0"
    shutil.copytree(realdata(BUILDER), copy)
    refs, _ = _walk(copy)
    shard = copy / "bridge_dataset-train.tfrecord-00000-of-00001"
    cut = refs[23].locator["offset"]  # keep 23 whole records
    shard.write_bytes(shard.read_bytes()[:cut])
    load_builder.cache_clear()
    refs, _ = _walk(copy)
    lost = [r for r in refs[:25] if r.error]
    assert [r.raw_id for r in lost] == ["train/00000/000023", "train/00000/000024"]
    assert all("shard ends after 23 records, dataset_info.json lists 25" in r.error for r in lost)
    assert all(r.locator["error"]["field"] == "tfrecord:truncated" for r in lost)
