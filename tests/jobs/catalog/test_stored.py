"""A rebuild reuses an unchanged dataset's rows (`jobs.catalog.stored`): the catalog it writes is the one the old
build (every dataset parsed, every byte hashed) writes, byte for byte, and only the datasets whose files changed are
parsed again (changed lineage, new dataset, a latents file written; a removed dataset drops out)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

import jobs.catalog.build as build
import jobs.catalog.merged as runs
import jobs.catalog.parts as parts
from adapters.lerobot_format.files import read_jsonl
from adapters.storage.corpus import Corpus
from ingest.lerobot.settled import settled_datasets
from jobs.catalog.behaviour import catalog_findings, recorded_thresholds, verdict_rows
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.parts import write_parquet_atomic
from jobs.catalog.rows import dataset_rows
from jobs.catalog.stored import KEYS_JSON, ROWS_DIR
from schemas.catalog import CATALOG_SCHEMA
from schemas.corpus import EPISODES_DIR, EpisodeLineage
from schemas.lerobot import EPISODES_PATH
from schemas.qa import FINDINGS_DIR
from schemas.verdicts import VERDICT_SCHEMA, VERDICTS_DIR
from tests.fixtures.corpus import episode, sort_catalog, write_dataset

OUTPUTS = (
    f"{EPISODES_DIR}/part-00000.parquet",
    f"{VERDICTS_DIR}/part-00000.parquet",
    f"{FINDINGS_DIR}/part-00000.parquet",
)


def _old_build(root: Path, out: Path) -> None:
    """The catalog as the build before kept rows wrote it (main at 72e30583 `_build`): every dataset's rows from its
    meta with every file hashed, `episodes.jsonl` parsed again for the verdict rows and thresholds, one sort."""
    tables, configs, found = [], {}, []
    for ds in settled_datasets(root):
        rows = dataset_rows(root, ds)[0]
        if rows:
            tables.append(pa.Table.from_pylist([r.model_dump(mode="python") for r in rows], schema=CATALOG_SCHEMA))
            lineages = [EpisodeLineage.of(line) for _, line in read_jsonl(ds / EPISODES_PATH)]
            configs[rows[0].dataset] = recorded_thresholds(lineages)[1]
            found += verdict_rows(rows[0].dataset, lineages)
    table = sort_catalog(pa.concat_tables(tables))
    write_parquet_atomic(table, out / OUTPUTS[0])
    write_parquet_atomic(pa.Table.from_pylist(found, schema=VERDICT_SCHEMA), out / OUTPUTS[1])
    write_parquet_atomic(catalog_findings(table, configs), out / OUTPUTS[2])


def _assert_as_old(root: Path, tmp_path: Path) -> None:
    old = tmp_path / f"old-{len(list(tmp_path.iterdir()))}"
    _old_build(root, old)
    for rel in OUTPUTS:
        assert (root / rel).read_bytes() == (old / rel).read_bytes(), rel


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The datasets each rebuild parses (the calls of `dataset_rows`), cleared by the test between rebuilds."""
    calls: list[str] = []
    real = build.dataset_rows

    def counting(corpus_root: Path, dataset_root: Path, **kw):
        calls.append(Path(dataset_root).relative_to(corpus_root).as_posix())
        return real(corpus_root, dataset_root, **kw)

    monkeypatch.setattr(build, "dataset_rows", counting)
    return calls


def _rebuild(root: Path, parsed: list[str]) -> list[str]:
    parsed.clear()
    rebuild_catalog(Corpus(root))
    return sorted(parsed)


# 2: the parsed rows in runs of 2 rows, merged a row of each at a time, written in row groups of 3 rows
@pytest.mark.parametrize("batch", [runs.RUN_ROWS, 2])
def test_unchanged_rebuild_parses_nothing_and_writes_what_the_old_build_writes(
    corpus_copy: Path, parsed: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    monkeypatch.setattr(runs, "RUN_ROWS", batch)
    monkeypatch.setattr(runs, "PIECE_ROWS", min(batch, runs.PIECE_ROWS) // 2)
    monkeypatch.setattr(parts, "ROW_GROUP_SIZE", parts.ROW_GROUP_SIZE if batch > 2 else 3)
    shutil.rmtree(corpus_copy / "catalog" / ROWS_DIR)  # a catalog of an eidata that kept no rows: all parsed
    assert len(_rebuild(corpus_copy, parsed)) == 4
    _assert_as_old(corpus_copy, tmp_path)
    assert _rebuild(corpus_copy, parsed) == []
    _assert_as_old(corpus_copy, tmp_path)
    parsed.clear()
    rebuild_catalog(Corpus(corpus_copy), rehash=True)  # --rehash keeps nothing
    assert len(parsed) == 4


def test_changed_new_and_removed_datasets(corpus_copy: Path, parsed: list[str], tmp_path: Path) -> None:
    assert _rebuild(corpus_copy, parsed) == []
    episodes = corpus_copy / "datasets/egodex/basic" / EPISODES_PATH
    lines = [json.loads(x) for x in episodes.read_text().splitlines()]
    lines[0]["eidata"]["caption"] = {"text": "hands fold a shirt"}  # a changed lineage
    episodes.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert _rebuild(corpus_copy, parsed) == ["datasets/egodex/basic"]
    _assert_as_old(corpus_copy, tmp_path)

    write_dataset(corpus_copy / "datasets/oxe/more", "franka", [episode(9, "push", "oxe/more/e0", "franka")])
    assert _rebuild(corpus_copy, parsed) == ["datasets/oxe/more"]  # a new dataset
    _assert_as_old(corpus_copy, tmp_path)

    shutil.rmtree(corpus_copy / "datasets/ego4d/clips")  # a removed dataset: nothing parsed, its rows gone
    assert _rebuild(corpus_copy, parsed) == []
    _assert_as_old(corpus_copy, tmp_path)
    keys = json.loads((corpus_copy / "catalog" / ROWS_DIR / KEYS_JSON).read_text())["datasets"]
    assert "datasets/ego4d/clips" not in keys and "datasets/oxe/more" in keys

    latents = corpus_copy / "datasets/egodex/basic/latents/chunk-000/observation.images.head/episode_000000.safetensors"
    latents.parent.mkdir(parents=True)
    latents.write_bytes(b"placeholder")  # an episode file, not the meta: the dataset is read again
    assert _rebuild(corpus_copy, parsed) == ["datasets/egodex/basic"]
    _assert_as_old(corpus_copy, tmp_path)


def test_kept_rows_that_disagree_with_their_keys_are_parsed_again(
    corpus_copy: Path, parsed: list[str], tmp_path: Path
) -> None:
    kept = corpus_copy / "catalog" / ROWS_DIR / KEYS_JSON
    body = json.loads(kept.read_text())
    body["datasets"]["datasets/oxe/bridge"]["rows"] = 2  # the kept part holds 3
    kept.write_text(json.dumps(body))
    assert len(_rebuild(corpus_copy, parsed)) == 4
    _assert_as_old(corpus_copy, tmp_path)


def test_a_new_column_is_another_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kept row was written under the catalog's schema: an eidata that adds a column keys every dataset anew (its
    rows are parsed again), whether or not someone bumped `ROWS_VERSION`."""
    import importlib

    import jobs.catalog.stored as stored
    import schemas.catalog

    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "info.json").write_text("{}")
    before = stored.tree_key(tmp_path)
    wider = CATALOG_SCHEMA.append(pa.field("new_column", pa.string()))
    with monkeypatch.context() as m:
        m.setattr(schemas.catalog, "CATALOG_SCHEMA", wider)
        assert importlib.reload(stored).tree_key(tmp_path) != before
    assert importlib.reload(stored).tree_key(tmp_path) == before  # the shipped schema again: the same key


def _catalog_files(root: Path) -> dict[str, int]:
    """Every file and folder under `catalog/` (the lock file aside) by its inode: a file rewritten or a folder swapped
    in gets another."""
    catalog = root / "catalog"
    return {p.relative_to(catalog).as_posix(): p.stat().st_ino for p in catalog.rglob("*") if p.name != ".rebuild.lock"}


def test_an_unchanged_rebuild_writes_nothing(
    corpus_copy: Path, parsed: list[str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 99: at 1M episodes a rebuild of unchanged datasets linked 30k digests files, wrote 63 MB of keys and a
    census, and swapped six folders, to leave the catalog it found (80 s): it now finds the live catalog to be what it
    would swap in and leaves every file and folder as it was."""
    assert _rebuild(corpus_copy, parsed) == []
    before = _catalog_files(corpus_copy)
    with caplog.at_level("INFO", logger="jobs.catalog.build"):
        assert _rebuild(corpus_copy, parsed) == []
    assert "(all kept)" in caplog.text
    assert _catalog_files(corpus_copy) == before
    _assert_as_old(corpus_copy, tmp_path)


def test_a_live_catalog_unlike_the_kept_one_is_swapped_anew(corpus_copy: Path, parsed: list[str]) -> None:
    """What a rebuild would swap in is swapped in whenever the live catalog differs from it: a file put in one of its
    folders is gone after it, a part copied over (the same bytes, another file) is the kept one again, and the
    census of a dataset whose info.json changed is written anew."""
    assert _rebuild(corpus_copy, parsed) == []
    verdicts = corpus_copy / VERDICTS_DIR
    stray = shutil.copy(verdicts / "part-00000.parquet", verdicts / "stray.parquet")
    assert _rebuild(corpus_copy, parsed) == [] and not Path(stray).exists()
    part, kept = corpus_copy / OUTPUTS[0], corpus_copy / "catalog" / ROWS_DIR / "part-00000.parquet"
    part.unlink()
    shutil.copy(kept, part)
    assert not part.samefile(kept)
    assert _rebuild(corpus_copy, parsed) == [] and part.samefile(kept)
    census = corpus_copy / EPISODES_DIR / "datasets.json"
    text = census.read_text()
    assert '"episodes": 3' in text and '"episodes": 4' not in text
    census.write_text(text.replace('"episodes": 3', '"episodes": 4', 1))
    assert _rebuild(corpus_copy, parsed) == []
    assert '"episodes": 4' not in census.read_text()


def test_the_tree_key_is_every_file_by_path_size_and_mtime(tmp_path: Path) -> None:
    """The key kept rows are read under (`tree_key`): sha256 of `ROWS_FORMAT`, then a line per file, sorted by path
    (a link to a folder is a file, stat'ed through the link), as every kept key was made: another spelling of the
    walk must give the same key, or every dataset of a corpus would be parsed again."""
    import hashlib
    import os

    from jobs.catalog.stored import ROWS_FORMAT, tree_key

    for rel in ("meta/info.json", "a/b", "a.b", "a-b/c", "a/b.c/d/e", "z"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel * 3)
    (tmp_path / "link").symlink_to(tmp_path / "a")
    found = []
    for folder, dirs, names in os.walk(tmp_path):  # a link to a folder is in `dirs`, not walked into
        for name in [*names, *(d for d in dirs if os.path.islink(os.path.join(folder, d)))]:
            st = os.stat(os.path.join(folder, name))
            found.append((os.path.relpath(os.path.join(folder, name), tmp_path), st.st_size, st.st_mtime_ns))
    body = "".join(f"{rel}\0{size}\0{mtime}\n" for rel, size, mtime in sorted(found))
    assert tree_key(tmp_path) == hashlib.sha256(f"{ROWS_FORMAT}\n{body}".encode()).hexdigest()
