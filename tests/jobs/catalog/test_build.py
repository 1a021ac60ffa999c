"""The catalog rebuilt from real datasets written by `LeRobotWriter` with the lineage `ingest.canonical.store` records:
rows
match what was written, rebuilds are idempotent and deterministic, content hashes follow the bytes."""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.catalog.build import catalog_snapshot_hash, cli_catalog, rebuild_catalog
from jobs.catalog.curate import curate
from jobs.catalog.parts import write_catalog_part, write_quarantine_part
from jobs.catalog.query import run_query
from jobs.catalog.rows import CatalogError, catalog_rows_for_dataset
from schemas.canonical import STATE
from schemas.catalog import CATALOG_SCHEMA
from schemas.corpus import EPISODES_DIR, NO_LINEAGE, QUARANTINE_DIR, QuarantineRow, find_datasets, parquet_files
from schemas.manifest import Manifest
from tests.fixtures.corpus import episode as _ep
from tests.fixtures.corpus import write_dataset


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    bridge = [
        _ep(12, "pick the cube", "oxe/bridge/e0", "franka", success=True),
        _ep(15, "pick the cube", "oxe/bridge/e1", "franka", tier="low", tier_reasons=["failure flag"], success=False),
        _ep(10, "open the drawer", "oxe/bridge/e2", "franka", caption={"text": "a gripper opens a drawer"}),
    ]
    write_dataset(root / "datasets/oxe/bridge", "franka", bridge)
    egodex = [
        _ep(20, "fold", "egodex/basic/a", "human", hands=True),
        _ep(8, "fold", "egodex/basic/b", "human", hands=True, caption="hands fold a towel"),
    ]
    write_dataset(root / "datasets/egodex/basic", "human", egodex)
    nothing = [0] * 50
    clip = _ep(
        11, "cooking", "ego4d/clips/v0", "human_video", mask=nothing, tier="actionless", tier_reasons=["no action"]
    )
    write_dataset(root / "datasets/ego4d/clips", "human_video", [clip], mask=nothing)
    # a dataset written by another tool: no lineage, two folders deep
    write_dataset(root / "datasets/external/group/foreign", "franka", [{"n": 9, "task": "wipe"}])
    latents = root / "datasets/oxe/bridge/latents/chunk-000/observation.images.head/episode_000002.safetensors"
    latents.parent.mkdir(parents=True)
    latents.write_bytes(b"placeholder")
    write_quarantine_part(
        root,
        [
            QuarantineRow(
                episode_uid="oxe/bridge/bad",
                source="oxe",
                subset="bridge",
                adapter="oxe",
                raw_path="/raw/oxe/bad",
                stage="read",
                error_class="CorruptRecordError",
                message="CRC mismatch in record 3",
                file="bridge-train.tfrecord-00000",
                quarantined_at=datetime(2024, 1, 2, tzinfo=UTC),
            )
        ],
        "job-0",
    )
    rebuild_catalog(root)
    return root


@pytest.fixture
def corpus_copy(corpus: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(corpus, dst, copy_function=shutil.copy2)  # keeps mtimes, hence ingested_at
    return dst


def _rows(corpus: Path, rel: str) -> dict[int, Any]:
    return {r.episode_index: r for r in catalog_rows_for_dataset(corpus, corpus / rel)}


def test_finds_datasets_at_any_depth(corpus: Path) -> None:
    found = [p.relative_to(corpus).as_posix() for p in find_datasets(corpus)]
    assert found == [
        "datasets/ego4d/clips",
        "datasets/egodex/basic",
        "datasets/external/group/foreign",
        "datasets/oxe/bridge",
    ]


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
    assert (row.tier, row.tier_reasons) == ("high", [NO_LINEAGE])
    assert row.embodiment == "franka" and row.has_action and row.raw_fps == 10.0
    assert row.pipeline_version == "external" and row.num_frames == 9 and row.task == "wipe"


def test_content_hash_covers_data_and_video_bytes(corpus: Path) -> None:
    ds = corpus / "datasets/oxe/bridge"
    h = hashlib.sha256()
    for rel in ("data/chunk-000/episode_000000.parquet", "videos/chunk-000/observation.images.head/episode_000000.mp4"):
        data = (ds / rel).read_bytes()
        h.update(f"{rel}\0{len(data)}\0{hashlib.sha256(data).hexdigest()}\n".encode())
    assert _rows(corpus, "datasets/oxe/bridge")[0].content_hash == h.hexdigest()


def test_rebuild_reuses_digests_of_unchanged_files(corpus_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    digests = corpus_copy / "catalog/.file_digests/datasets%2Foxe%2Fbridge.parquet"
    assert pq.read_table(digests).num_rows == 6  # 3 episodes x (parquet + mp4)
    video = corpus_copy / "datasets/oxe/bridge/videos/chunk-000/observation.images.head/episode_000002.mp4"
    before = _hashes(corpus_copy)
    with caplog.at_level(logging.INFO, logger="jobs.catalog.build"):
        rebuild_catalog(corpus_copy)
        assert "(0 bytes hashed)" in caplog.text  # nothing changed: stat only
        caplog.clear()
        video.write_bytes(video.read_bytes() + b"\0")  # a changed video (size and mtime) is hashed again
        rebuild_catalog(corpus_copy)
        assert "(0 bytes hashed)" not in caplog.text
    after = _hashes(corpus_copy)
    assert {u for u in before if before[u] != after[u]} == {"oxe/bridge/e2"}
    assert rebuild_catalog(corpus_copy, rehash=True) == 7 and _hashes(corpus_copy) == after
    leftovers = [p.name for p in (corpus_copy / "catalog").iterdir() if p.name.startswith((".rebuild-", ".replaced-"))]
    assert leftovers == []


def test_rebuild_writes_every_episode_sorted(corpus: Path) -> None:
    files = parquet_files(corpus, EPISODES_DIR)
    assert [f.name for f in files] == ["part-00000.parquet"]
    table = pq.read_table(files[0])
    assert table.schema.equals(CATALOG_SCHEMA)
    uids = table["episode_uid"].to_pylist()
    assert uids == sorted(uids) and len(uids) == 7
    assert not any(p.name.startswith(".episodes") for p in (corpus / "catalog").iterdir())


def test_rebuild_is_idempotent_and_deterministic(corpus_copy: Path, corpus: Path) -> None:
    first = catalog_snapshot_hash(corpus_copy)
    (corpus_copy / EPISODES_DIR / "stale.parquet").write_bytes(b"left over by an old job")
    quarantine = [p.read_bytes() for p in parquet_files(corpus_copy, QUARANTINE_DIR)]
    assert rebuild_catalog(corpus_copy) == 7
    assert catalog_snapshot_hash(corpus_copy) == first  # the stale part is gone, the rest byte-identical
    assert rebuild_catalog(corpus_copy) == 7 and catalog_snapshot_hash(corpus_copy) == first
    assert catalog_snapshot_hash(corpus) == first  # another location, same datasets: same bytes
    assert [p.read_bytes() for p in parquet_files(corpus_copy, QUARANTINE_DIR)] == quarantine


def test_content_hash_changes_with_the_data(corpus_copy: Path) -> None:
    snapshot = catalog_snapshot_hash(corpus_copy)
    before = _hashes(corpus_copy)
    data = corpus_copy / "datasets/oxe/bridge/data/chunk-000/episode_000001.parquet"
    table = pq.read_table(data)
    i = table.schema.get_field_index(STATE)
    state = table[STATE].to_pylist()
    state[0][0] += 1.0
    pq.write_table(table.set_column(i, table.schema.field(i), pa.array(state, table.schema.field(i).type)), data)
    rebuild_catalog(corpus_copy)
    after = _hashes(corpus_copy)
    assert {uid for uid in before if before[uid] != after[uid]} == {"oxe/bridge/e1"}
    assert catalog_snapshot_hash(corpus_copy) != snapshot


def _hashes(corpus: Path) -> dict[str, str]:
    rows = run_query(corpus, "SELECT episode_uid, content_hash FROM episodes").to_pylist()
    return {r["episode_uid"]: r["content_hash"] for r in rows}


def test_duplicate_uids_fail_the_rebuild(corpus_copy: Path) -> None:
    shutil.copytree(corpus_copy / "datasets/oxe/bridge", corpus_copy / "datasets/oxe/bridge_again")
    before = catalog_snapshot_hash(corpus_copy)
    with pytest.raises(CatalogError, match="oxe/bridge/e0"):
        rebuild_catalog(corpus_copy)
    assert catalog_snapshot_hash(corpus_copy) == before  # the old catalog stays


def test_missing_episode_file_is_an_error(corpus_copy: Path) -> None:
    (corpus_copy / "datasets/egodex/basic/videos/chunk-000/observation.images.head/episode_000001.mp4").unlink()
    with pytest.raises(CatalogError, match="missing on disk"):
        catalog_rows_for_dataset(corpus_copy, corpus_copy / "datasets/egodex/basic")


def test_queries_and_curation_over_the_rebuilt_catalog(corpus_copy: Path) -> None:
    got = run_query(
        corpus_copy, "SELECT source, tier, sum(duration_s)/3600 AS h FROM episodes GROUP BY ALL ORDER BY ALL"
    )
    assert [(r["source"], r["tier"]) for r in got.to_pylist()] == [
        ("ego4d", "actionless"),
        ("egodex", "high"),
        ("external", "high"),
        ("oxe", "high"),
        ("oxe", "low"),
    ]
    assert dict(((r["source"], r["tier"]), r["h"]) for r in got.to_pylist())[("oxe", "high")] == pytest.approx(
        2.2 / 3600
    )
    hands = run_query(corpus_copy, "SELECT count(*) AS n FROM episodes WHERE has_hands").column("n")[0].as_py()
    assert hands == 2
    reasons = run_query(corpus_copy, "SELECT error_class, count(*) AS n FROM quarantine GROUP BY ALL").to_pylist()
    assert reasons == [{"error_class": "CorruptRecordError", "n": 1}]

    out = curate(corpus_copy, "robots", "has_action AND source <> 'external'", balance="subset", val_fraction=0.0)
    m = Manifest.load(out)
    assert {e.dataset for e in m.mixture} == {"datasets/oxe/bridge", "datasets/egodex/basic"}
    assert {e.robot_type for e in m.mixture} == {"franka", "human"}
    assert [e.weight for e in m.mixture] == pytest.approx([0.5, 0.5])
    entries = pq.read_table(out / "entries.parquet")
    assert entries.num_rows == 5 and set(entries["split"].to_pylist()) == {"train"}


def test_write_catalog_part_sorts_and_leaves_no_temp_file(corpus: Path, tmp_path: Path) -> None:
    rows = sorted(catalog_rows_for_dataset(corpus, corpus / "datasets/oxe/bridge"), key=lambda r: r.episode_uid)
    path = write_catalog_part(tmp_path, rows[::-1], "job-1")
    assert path == tmp_path / EPISODES_DIR / "job-1.parquet"
    table = pq.read_table(path)
    assert table["episode_uid"].to_pylist() == [r.episode_uid for r in rows]
    assert table.schema.equals(CATALOG_SCHEMA)
    assert os.listdir(path.parent) == ["job-1.parquet"]
    for bad in ("a/b", ".hidden", "x.parquet", ""):
        with pytest.raises(ValueError):
            write_catalog_part(tmp_path, rows, bad)


def test_quarantine_rows_validate_their_stage() -> None:
    with pytest.raises(ValueError, match="stage"):
        QuarantineRow(
            source="s",
            adapter="a",
            raw_path="/r",
            stage="decode",
            error_class="E",
            message="m",
            quarantined_at=datetime.now(UTC),
        )


def test_cli_catalog(corpus_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_catalog(argparse.Namespace(root=str(corpus_copy))) == 0
    out = capsys.readouterr().out
    assert "catalog: 7 episodes from 4 datasets" in out
    assert "actionless" in out and "egodex" in out
    assert cli_catalog(argparse.Namespace(root=str(tmp_path / "nowhere"))) == 2
    assert "no such corpus folder" in capsys.readouterr().err


def test_invalid_meta_names_the_dataset(corpus_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    episodes = corpus_copy / "datasets/ego4d/clips/meta/episodes.jsonl"
    episodes.write_text(episodes.read_text().replace('"tier": "actionless"', '"tier": "superb"'))
    before = catalog_snapshot_hash(corpus_copy)
    assert cli_catalog(argparse.Namespace(root=str(corpus_copy))) == 1
    err = capsys.readouterr().err
    assert "datasets/ego4d/clips" in err and "superb" in err
    assert catalog_snapshot_hash(corpus_copy) == before
