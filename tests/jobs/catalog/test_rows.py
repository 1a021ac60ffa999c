"""One dataset's catalog rows (`dataset_rows`), from real datasets written by `LeRobotWriter` (the
corpus: conftest.py): rows match what was written and its lineage, a dataset without lineage gets what can be known,
the content hash covers the data and video bytes, and a missing file is an error."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jobs.catalog.rows import dataset_rows
from schemas.corpus import NO_LINEAGE
from schemas.storage import CatalogError


def _rows(corpus: Path, rel: str) -> dict[int, Any]:
    return {r.episode_index: r for r in dataset_rows(corpus, corpus / rel)[0]}


def test_rows_match_what_was_written(corpus: Path) -> None:
    rows = _rows(corpus, "datasets/oxe/bridge")
    assert sorted(rows) == [0, 1, 2]
    r0, r1, r2 = rows[0], rows[1], rows[2]
    assert (r0.episode_uid, r0.source, r0.subset, r0.dataset) == (
        "oxe/bridge/e0",
        "oxe",
        "bridge",
        "datasets/oxe/bridge",
    )
    assert [r.num_frames for r in (r0, r1, r2)] == [12, 15, 10]
    assert [r.duration_s for r in (r0, r1, r2)] == pytest.approx([1.2, 1.5, 1.0])
    assert r0.cameras == ["head"] and r0.embodiment == "franka"
    assert (r0.tier, r0.tier_reasons, r0.success) == ("high", [], True)
    assert (r1.tier, r1.tier_reasons, r1.success) == ("low", ["failure flag"], False)
    assert r0.task == "pick the cube" and r2.task == "open the drawer"
    assert r0.raw_path == "/raw/oxe/e0" and r0.raw_fps == 30.0 and r0.pipeline_version == "eidata-canon-1"
    assert r0.has_action and not r0.has_hands
    assert (r2.caption, r2.caption_ready, r0.caption, r0.caption_ready) == (
        "a gripper opens a drawer",
        True,
        None,
        False,
    )
    assert [r.latents_ready for r in (r0, r1, r2)] == [False, False, True]
    data = corpus / "datasets/oxe/bridge/data/chunk-000/episode_000001.parquet"
    assert r1.ingested_at == datetime.fromtimestamp(data.stat().st_mtime_ns // 1000 / 1e6, UTC)
    assert len({r.content_hash for r in rows.values()}) == 3 and all(len(r.content_hash) == 64 for r in rows.values())

    hands = _rows(corpus, "datasets/egodex/basic")
    assert all(r.has_hands and r.has_action and r.embodiment == "human" for r in hands.values())
    assert hands[1].caption == "hands fold a towel" and hands[1].caption_ready

    (clip,) = _rows(corpus, "datasets/ego4d/clips").values()
    assert (clip.tier, clip.has_action, clip.has_hands) == ("actionless", False, False)


def test_dataset_without_lineage_gets_what_can_be_known(corpus: Path) -> None:
    (row,) = _rows(corpus, "datasets/external/group/foreign").values()
    assert (row.source, row.subset, row.dataset) == ("external", "group/foreign", "datasets/external/group/foreign")
    assert row.episode_uid == "external/group/foreign/episode_000000"
    assert (row.tier, row.tier_reasons, row.tier_notes) == ("high", [], [NO_LINEAGE])  # a note: it lowers nothing
    assert row.embodiment == "franka" and row.has_action and row.raw_fps == 10.0
    assert row.pipeline_version == "external" and row.num_frames == 9 and row.task == "wipe"


def test_content_hash_covers_data_and_video_bytes(corpus: Path) -> None:
    ds = corpus / "datasets/oxe/bridge"
    h = hashlib.sha256()
    for rel in ("data/chunk-000/episode_000000.parquet", "videos/chunk-000/observation.images.head/episode_000000.mp4"):
        data = (ds / rel).read_bytes()
        h.update(f"{rel}\0{len(data)}\0{hashlib.sha256(data).hexdigest()}\n".encode())
    assert _rows(corpus, "datasets/oxe/bridge")[0].content_hash == h.hexdigest()


def test_missing_episode_file_is_an_error(corpus_copy: Path) -> None:
    (corpus_copy / "datasets/egodex/basic/videos/chunk-000/observation.images.head/episode_000001.mp4").unlink()
    with pytest.raises(CatalogError, match="missing on disk"):
        dataset_rows(corpus_copy, corpus_copy / "datasets/egodex/basic")[0]


def test_dataset_names_are_each_datasets_name(tmp_path: Path) -> None:
    """`dataset_names` (a rebuild's names of 30k datasets, one stat each) names each dataset as `dataset_name` does:
    through a linked corpus folder, a linked dataset folder, and refusing one outside the corpus."""
    from jobs.catalog.rows import dataset_name, dataset_names

    real = tmp_path / "real"
    for rel in ("datasets/a/x", "datasets/a/y", "datasets/b/z", "elsewhere/w"):
        (real / rel).mkdir(parents=True)
    (tmp_path / "corpus").symlink_to(real)
    (real / "datasets/b/linked").symlink_to(real / "datasets/a/x")
    corpus = tmp_path / "corpus"
    found = [corpus / "datasets/a/x", corpus / "datasets/a/y", corpus / "datasets/b/linked", real / "datasets/b/z"]
    assert dataset_names(corpus, found) == [dataset_name(corpus, ds) for ds in found]
    assert dataset_names(corpus, found)[2] == "datasets/a/x"
    with pytest.raises(CatalogError, match="not inside the corpus"):
        dataset_names(corpus / "datasets/a", [corpus / "datasets/b/z"])
