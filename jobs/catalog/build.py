"""The episode catalog (DESIGN.md section 6): rows from the datasets' meta, written as parquet parts, rebuilt on demand.

The datasets are the source of truth: `rebuild_catalog` scans every dataset under `ROOT/datasets/` and replaces
`catalog/episodes/` with one consolidated, sorted file set, so a rebuild of unchanged datasets is byte-identical.
`catalog/quarantine/` (episodes that were never written) is the ingest job's record and is left alone. A dataset
whose files are unchanged since the last rebuild is not parsed again: its rows are kept (`jobs.catalog.stored`); when
every dataset is kept and the live catalog is already what the rebuild would swap in, nothing is written (`_unchanged`).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa

from adapters.storage.atomic import fsync_path
from adapters.storage.corpus import Corpus
from adapters.storage.digests import FileDigests
from ingest.lerobot.settled import settled_datasets
from jobs.catalog.behaviour import recorded_thresholds, verdict_rows
from jobs.catalog.census import CENSUS_JSON, Mark, Seen, census_text, read_census, take_census, write_census
from jobs.catalog.dataset_qa import dataset_qa_row
from jobs.catalog.losses import NO_ACTION
from jobs.catalog.merged import Parsed, check_kept, write_merged
from jobs.catalog.parts import parquet_files
from jobs.catalog.rows import dataset_names, dataset_rows
from jobs.catalog.stored import ROWS_DIR, Kept, KeptMismatch, tree_key
from jobs.runtime.exits import fail
from jobs.runtime.ray_map import in_order
from schemas.catalog import CATALOG_SCHEMA
from schemas.corpus import EPISODES_DIR
from schemas.dataset_qa import DATASET_QA_DIR
from schemas.qa import FINDINGS_DIR
from schemas.storage import CatalogError
from schemas.verdicts import VERDICTS_DIR

log = logging.getLogger(__name__)

ROWS_PER_PART = 1_000_000  # a rebuild splits the sorted catalog into parts of at most this many rows
# threads taking the datasets' tree keys (`_keyed`): no more than the cores this process may run on; on 2 cores at 1M
# episodes (1.94M files, load 16) 4 threads spent 15.2 CPU-s (9.8 in the kernel, contending for the GIL), 2 threads
# 9.8 and 1 thread 10.2, beside `find`'s 6.6 for a stat of the same files (20.9, 23.0 and 30.3 s wall; find 19.1 s)
KEY_THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def catalog_snapshot_hash(corpus_root: Path) -> str:
    """sha256 over the sorted catalog/episodes parquet files (names, sizes and bytes)."""
    h = hashlib.sha256()
    for p in parquet_files(corpus_root, EPISODES_DIR):
        FileDigests.hash_file(h, p, p.name)
    return h.hexdigest()


# -- rebuild ----------------------------------------------------------------------------------------------------


def rebuild_catalog(corpus: Corpus, *, rehash: bool = False, address: str | None = None) -> int:
    """Replace `catalog/episodes/` with rows rebuilt from every dataset's meta; returns the number of rows.

    The new file set is written beside the old one and swapped in by renames, so readers see the old or the new
    catalog, and a crash leaves the old one (stale temp folders are removed by the next rebuild). File digests are
    kept in `catalog/.file_digests/` and reused for files whose size and mtime are unchanged; `rehash` ignores them.
    `corpus.digests` gives them (a bucket's from its commit records, never a byte fetched).
    """
    corpus_root = corpus.root
    if not corpus_root.is_dir():
        raise CatalogError(f"{corpus_root}: no such corpus folder")
    catalog = corpus_root / "catalog"
    catalog.mkdir(exist_ok=True)
    with corpus.locked("catalog/.rebuild.lock", lambda: CatalogError(f"{catalog}: another catalog rebuild is running")):
        for stale in [*catalog.glob(".rebuild-*"), *catalog.glob(".replaced-*")]:
            shutil.rmtree(stale, ignore_errors=True)
        datasets = settled_datasets(corpus_root)
        seen = Seen.load(corpus_root)  # an unchanged info.json is stat'ed, not read (`jobs.catalog.census.Seen`)
        census = take_census(corpus_root, datasets, seen)  # before the rows: see `take_census`
        seen.save(corpus_root)  # only when it changed: facts about the files, whatever the rebuild then does
        kept = Kept.load(None if rehash else catalog / ROWS_DIR)
        keyed = _keyed(corpus_root, datasets)  # before the rows, as the census: a write meanwhile is seen next time
        if (n := _unchanged(corpus_root, keyed, kept, census)) is not None:
            log.info("catalog: %d datasets, 0 parsed (0 bytes hashed)", len(datasets))
            log.info("catalog: %d episodes from %d datasets (all kept)", n, len(datasets))
            return n
        token = uuid.uuid4().hex
        kinds = ("episodes", "digests", "findings", "verdicts", "rows", "dataset_qa")
        new = [catalog / f".rebuild-{token}-{kind}" for kind in kinds]
        try:
            n = _build(corpus, new, _Read(datasets, census, kept, keyed), rehash, address)
            for final, new_dir in zip(_finals(corpus_root), new, strict=True):
                old = catalog / f".replaced-{token}-{final.name.lstrip('.')}"
                if final.exists():
                    os.replace(final, old)
                os.replace(new_dir, final)
                shutil.rmtree(old, ignore_errors=True)
            fsync_path(catalog)
        finally:
            for d in catalog.glob(f".rebuild-{token}-*"):
                shutil.rmtree(d, ignore_errors=True)
    return n


def _finals(corpus_root: Path) -> tuple[Path, ...]:
    """The six folders a rebuild replaces, in `rebuild_catalog`'s kinds' order."""
    catalog = corpus_root / "catalog"
    return (
        catalog / "episodes",
        catalog / FileDigests.DIR,
        corpus_root / FINDINGS_DIR,
        corpus_root / VERDICTS_DIR,
        catalog / ROWS_DIR,
        corpus_root / DATASET_QA_DIR,
    )


class _Keyed(NamedTuple):
    """A dataset as the rebuild found it: its name, folder, digests file name and tree key (`jobs.catalog.stored`)."""

    name: str
    root: Path
    digests_file: str
    key: str


class _Read(NamedTuple):
    """What a rebuild read before its rows: the datasets, their census, the kept rows and each dataset's key."""

    datasets: list[Path]
    census: dict[str, Mark]
    kept: Kept
    keyed: list[_Keyed]


def _keyed(corpus_root: Path, datasets: list[Path]) -> list[_Keyed]:
    """Each dataset's name, digests file and tree key, the keys taken by `KEY_THREADS` threads: a key is a stat of
    each of the dataset's files (2M at 1M episodes, most of an unchanged rebuild), system time in which a thread
    holds no GIL, so the stats of one dataset overlap another's Python and an inode read from disk."""
    with ThreadPoolExecutor(KEY_THREADS) as pool:
        keys = list(pool.map(tree_key, datasets))
    names = dataset_names(corpus_root, datasets)
    return [
        _Keyed(name, ds, FileDigests.name_of(corpus_root, ds), key)
        for name, ds, key in zip(names, datasets, keys, strict=True)
    ]


def _unchanged(corpus_root: Path, keyed: list[_Keyed], kept: Kept, census: dict[str, Mark]) -> int | None:
    """The catalog's rows when every dataset is as the last rebuild read it (its key), none new or removed, and the
    live catalog is already what the rebuild would swap in (`Kept.in_place`; the census and the digests files as it
    would write and link them); None otherwise. The rebuild then writes nothing: at 1M episodes the links of 30k
    digests files, the 63 MB of keys and the swap were most of what an unchanged rebuild did besides the keys'
    stats (issue 99)."""
    if kept.folder is None or not all(kept.reuse(k.name, k.key) for k in keyed):
        return None
    if not kept.all_kept([k.name for k in keyed]):
        return None
    episodes, digests, findings, verdicts, _, qa = _finals(corpus_root)
    try:
        same = set(os.listdir(digests)) == {k.digests_file for k in keyed} and (
            (episodes / CENSUS_JSON).read_bytes() == census_text(census).encode()
        )
    except OSError:
        return None
    if not same or not kept.in_place(episodes, verdicts, findings, qa, CENSUS_JSON):
        return None
    return sum(int(entry["rows"]) for entry in kept.keys.values())


def _build(corpus: Corpus, new: list[Path], read: _Read, rehash: bool, address: str | None) -> int:
    """Into the six folders `new` (`rebuild_catalog`'s kinds): every dataset's rows, sorted and split into parts in
    `episodes_dir`; file digests into `digests_dir`, dataset
    findings into `findings`, the findings behind each tier into `verdicts` (`jobs.catalog.behaviour`), what the
    next rebuild reuses into `rows_dir` (`jobs.catalog.stored`: a dataset whose files are unchanged is not parsed
    again) and each dataset's pooled QA into `qa` (`jobs.catalog.dataset_qa`). An index of the datasets' meta: no
    tier is judged here."""
    episodes_dir, digests_dir, findings, verdicts, rows_dir, qa = new
    for d in new:
        d.mkdir()
    datasets, census, kept, keyed = read
    out = (episodes_dir, verdicts, findings, qa)
    try:
        written = _rows(corpus, keyed, kept, digests_dir, out, rehash, address)
    except KeptMismatch:  # kept files that disagree with their keys: every dataset parsed again
        kept = Kept()
        written = _rows(corpus, keyed, kept, digests_dir, out, rehash, address)
    if written is None:  # every dataset as the last rebuild read it, none removed: its files, linked
        n = kept.link_previous(episodes_dir, verdicts, findings, qa)
        write_census(episodes_dir, census)
        kept.write(rows_dir, sorted(episodes_dir.glob("part-*.parquet")), verdicts, findings, qa)
        log.info("catalog: %d episodes from %d datasets (all kept)", n, len(datasets))
        return n
    n, parts = written
    write_census(episodes_dir, census)  # the datasets these rows describe (`jobs.catalog.census`)
    kept.write(rows_dir, parts, verdicts, findings, qa)
    log.info("catalog: %d episodes from %d datasets", n, len(datasets))
    return n


def _rows(
    corpus: Corpus,
    keyed: list[_Keyed],
    kept: Kept,
    digests_dir: Path,
    out: tuple[Path, Path, Path, Path],
    rehash: bool,
    address: str | None,
) -> tuple[int, list[Path]] | None:
    """The catalog's rows, sorted, its verdict rows in the datasets' order, its findings and its pooled QA rows by
    dataset, written into `out` (`jobs.catalog.merged`): kept ones for a dataset whose files are unchanged (its
    digests file linked, not rewritten), the others parsed from its meta (`dataset_rows`); the number of rows and
    the parts, or None when every dataset is kept and none was removed (the last rebuild's files are then this
    one's)."""
    corpus_root = corpus.root
    parsed = Parsed(digests_dir.parent / f"{digests_dir.name}-fresh")  # parsed rows on disk, sorted runs
    reused, todo, digests = [], [], corpus_root / "catalog" / FileDigests.DIR
    for k in keyed:
        if kept.reuse(k.name, k.key) and _linked(digests / k.digests_file, digests_dir):
            reused.append(k.name)
            continue
        todo.append(_Todo(k.name, k.key, k.root, digests_dir / k.digests_file))
    hashed = 0
    work = partial(_parse, corpus_root, partial(corpus.digests, rehash=rehash))  # Ray tasks past `SERIAL_BELOW`
    for t, (rows, verdicts, config, n_bytes, pooled) in zip(
        todo, in_order(work, todo, address=address, what="catalog: datasets parsed", shared=corpus_root), strict=True
    ):
        hashed += n_bytes
        kept.keep(t.name, t.key, config, rows.num_rows if rows is not None else 0, len(verdicts))
        if rows is not None:
            parsed.add(rows, verdicts, pooled)
    log.info("catalog: %d datasets, %d parsed (%d bytes hashed)", len(keyed), len(keyed) - len(reused), hashed)
    if not parsed.rows.rows and kept.all_kept(reused):
        parsed.remove()
        return None
    check_kept(kept, reused)
    return write_merged(parsed, kept, reused, [k.name for k in keyed], out, ROWS_PER_PART)


class _Todo(NamedTuple):
    """A dataset a rebuild parses: its name, tree key, folder and where its new digests go."""

    name: str
    key: str
    root: Path
    digests_file: Path


# its rows (None: it has none), verdict rows, behaviour thresholds (`recorded_thresholds`), bytes hashed and pooled QA
_Parsed = tuple[pa.Table | None, list[dict[str, Any]], Any, int, dict[str, Any] | None]


def _parse(corpus_root: Path, digests_of: Callable[[Path], FileDigests], todo: list[_Todo]) -> list[_Parsed]:
    """Each dataset's rows (None: it has none), verdict rows, thresholds, bytes hashed and pooled QA row
    (`jobs.catalog.dataset_qa`, judged with its own thresholds), its digests saved: a Ray
    task's work (`jobs.runtime.ray_map`), or the driver's below `SERIAL_BELOW` datasets."""
    out: list[_Parsed] = []
    for t in todo:
        digests = digests_of(t.root)  # loaded here: the driver never holds every dataset's digests at once
        try:
            rows, lineages = dataset_rows(corpus_root, t.root, digests=digests)
        except (ValueError, OSError) as e:  # torn jsonl, invalid lineage, unreadable file: name the dataset
            raise CatalogError(f"{t.root}: {e}") from e
        digests.save(t.digests_file)
        if not rows:
            out.append((None, [], None, digests.hashed_bytes, None))
            continue
        table = pa.Table.from_pylist([r.model_dump(mode="python") for r in rows], schema=CATALOG_SCHEMA)
        found, config = verdict_rows(t.name, lineages), recorded_thresholds(lineages)[1]
        out.append((table, found, config, digests.hashed_bytes, dataset_qa_row(t.name, table, found, config)))
    return out


def _linked(old: Path, folder: Path) -> bool:
    """The previous rebuild's digests file `old` hard-linked into `folder` (False when it cannot be)."""
    try:
        os.link(old, folder / old.name)
    except OSError:
        return False
    return True


# -- CLI --------------------------------------------------------------------------------------------------------

SUMMARY_SQL = f"""
SELECT source, tier, count(*) AS episodes, round(sum(duration_s) / 3600, 3) AS hours,
       count(*) FILTER (WHERE {NO_ACTION}) AS without_action, count(*) FILTER (WHERE has_hands) AS with_hands,
       count(*) FILTER (WHERE latents_ready) AS with_latents
FROM episodes GROUP BY ALL ORDER BY source, tier
"""


def cli_catalog(args: argparse.Namespace) -> int:
    """`eidata catalog`: rebuild, print the row count and a per-source summary. Exit 0 on success, 1 when a dataset
    cannot be cataloged or a job holds the output, 2 for a missing root, bucket or credential."""
    from jobs.catalog.losses import loss_summary
    from jobs.catalog.query import format_table, run_query
    from jobs.runtime.intent import clear, markers
    from schemas.storage import NotACorpus, OutputLeasedError, StorageError

    try:
        # existing: a folder without datasets/ is refused before anything is written (it made ROOT/catalog/ there:
        # reliability review 6, N56, and every other command already said "not a corpus")
        with Corpus.open(args.root, None, "catalog", existing=True) as corpus:
            unfinished = markers(corpus.root)  # steps stopped before their rebuild: this one finishes them
            n = rebuild_catalog(
                corpus, rehash=bool(getattr(args, "rehash", False)), address=getattr(args, "address", None)
            )
            clear(unfinished)
            # the datasets the rebuild read, from its census: not every dataset's folder listed again (1.4 s at 1M)
            datasets, snapshot = len(read_census(corpus.root) or {}), catalog_snapshot_hash(corpus.root)
            summary = format_table(run_query(corpus.root, SUMMARY_SQL), "table") if n else None
            lost = loss_summary(corpus.root)  # first: what the corpus lost (issue 59)
    except (StorageError, CatalogError, OutputLeasedError, NotACorpus) as e:
        return fail(2 if isinstance(e, StorageError | NotACorpus) else 1, f"eidata catalog: {e}")
    print(f"catalog: {n} episodes from {datasets} datasets -> {corpus.where}/{EPISODES_DIR}")
    print(f"snapshot: {snapshot}")
    print(lost)
    if summary is not None:
        print(summary)
    return 0
