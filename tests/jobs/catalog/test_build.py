"""The catalog rebuilt from real datasets written by `LeRobotWriter` with the lineage `ingest.canonical.store` records
(the corpus: conftest.py): rebuilds are idempotent and deterministic, reuse unchanged files' digests, and follow the
bytes; a bad corpus fails the rebuild and keeps the old catalog. One dataset's rows: test_rows.py; the parts:
test_parts.py."""

from __future__ import annotations

import argparse
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.lerobot_format.layout import find_datasets
from adapters.storage.corpus import Corpus
from jobs.catalog.build import catalog_snapshot_hash, cli_catalog, rebuild_catalog
from jobs.catalog.curate import curate
from jobs.catalog.manifest_read import entries_file, load_manifest
from jobs.catalog.parts import parquet_files
from jobs.catalog.query import run_query
from schemas.canonical import STATE
from schemas.catalog import CATALOG_SCHEMA
from schemas.corpus import EPISODES_DIR, QUARANTINE_DIR, QuarantineRow
from schemas.storage import CatalogError


def test_finds_datasets_at_any_depth(corpus: Path) -> None:
    found = [p.relative_to(corpus).as_posix() for p in find_datasets(corpus)]
    assert found == [
        "datasets/ego4d/clips",
        "datasets/egodex/basic",
        "datasets/external/group/foreign",
        "datasets/oxe/bridge",
    ]


def test_rebuild_reuses_digests_of_unchanged_files(corpus_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    digests = corpus_copy / "catalog/.file_digests/datasets%2Foxe%2Fbridge.parquet"
    assert pq.read_table(digests).num_rows == 6  # 3 episodes x (parquet + mp4)
    video = corpus_copy / "datasets/oxe/bridge/videos/chunk-000/observation.images.head/episode_000002.mp4"
    before = _hashes(corpus_copy)
    with caplog.at_level(logging.INFO, logger="jobs.catalog.build"):
        rebuild_catalog(Corpus(corpus_copy))
        assert "(0 bytes hashed)" in caplog.text  # nothing changed: stat only
        caplog.clear()
        video.write_bytes(video.read_bytes() + b"\0")  # a changed video (size and mtime) is hashed again
        rebuild_catalog(Corpus(corpus_copy))
        assert "(0 bytes hashed)" not in caplog.text
    after = _hashes(corpus_copy)
    assert {u for u in before if before[u] != after[u]} == {"oxe/bridge/e2"}
    assert rebuild_catalog(Corpus(corpus_copy), rehash=True) == 7 and _hashes(corpus_copy) == after
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
    assert rebuild_catalog(Corpus(corpus_copy)) == 7
    assert catalog_snapshot_hash(corpus_copy) == first  # the stale part is gone, the rest byte-identical
    assert rebuild_catalog(Corpus(corpus_copy)) == 7 and catalog_snapshot_hash(corpus_copy) == first
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
    rebuild_catalog(Corpus(corpus_copy))
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
        rebuild_catalog(Corpus(corpus_copy))
    assert catalog_snapshot_hash(corpus_copy) == before  # the old catalog stays


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
    m = load_manifest(out)
    assert {e.dataset for e in m.mixture} == {"datasets/oxe/bridge", "datasets/egodex/basic"}
    assert {e.robot_type for e in m.mixture} == {"franka", "human"}
    assert [e.weight for e in m.mixture] == pytest.approx([0.5, 0.5])
    entries = pq.read_table(entries_file(out))
    assert entries.num_rows == 5 and set(entries["split"].to_pylist()) == {"train"}


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
    assert "no datasets/ folder; not a corpus" in capsys.readouterr().err
    elsewhere = tmp_path / "photos"  # a folder that is no corpus (review 6, N56): refused, nothing written there
    (elsewhere / "2024").mkdir(parents=True)
    assert cli_catalog(argparse.Namespace(root=str(elsewhere))) == 2
    assert "not a corpus" in capsys.readouterr().err
    assert [p.name for p in elsewhere.iterdir()] == ["2024"]


def test_invalid_meta_names_the_dataset(corpus_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    episodes = corpus_copy / "datasets/ego4d/clips/meta/episodes.jsonl"
    episodes.write_text(episodes.read_text().replace('"tier": "actionless"', '"tier": "superb"'))
    before = catalog_snapshot_hash(corpus_copy)
    assert cli_catalog(argparse.Namespace(root=str(corpus_copy))) == 1
    err = capsys.readouterr().err
    assert "datasets/ego4d/clips" in err and "superb" in err
    assert catalog_snapshot_hash(corpus_copy) == before


def test_a_second_rebuild_of_one_corpus_is_refused_while_the_first_holds_it(corpus: Path) -> None:
    """Two rebuilds at once would swap each other's folders: the second is refused at once, naming the catalog, and
    runs once the first has let go (`Corpus.locked`: a flock the kernel frees with its holder)."""
    held = Corpus(corpus)
    with held.locked("catalog/.rebuild.lock"), pytest.raises(CatalogError, match="another catalog rebuild is running"):
        rebuild_catalog(Corpus(corpus))
    assert rebuild_catalog(Corpus(corpus)) > 0
