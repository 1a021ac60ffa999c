"""The episode catalog (DESIGN section 6): rows from the datasets' meta, written as parquet parts, rebuilt on demand.

The datasets are the source of truth: `rebuild_catalog` scans every dataset under `ROOT/datasets/` and replaces
`catalog/episodes/` with one consolidated, sorted file set, so a rebuild of unchanged datasets is byte-identical.
`catalog/quarantine/` (episodes that were never written) is the ingest job's record and is left alone.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.files.atomic import atomic_write, fsync_path
from schemas.canonical import ACTION, HAND_KEYPOINTS, IMAGE_PREFIX, KeypointKind, keypoint_kind
from schemas.catalog import CATALOG_SCHEMA, CatalogRow
from schemas.corpus import (
    DATASETS_DIR,
    EPISODES_DIR,
    EXTERNAL_PIPELINE,
    NO_LINEAGE,
    QUARANTINE_DIR,
    QUARANTINE_SCHEMA,
    EpisodeLineage,
    QuarantineRow,
    episode_uid,
    find_datasets,
    parquet_files,
)
from schemas.image_latents import latents_file
from schemas.lerobot import EPISODES_PATH, EPISODES_STATS_PATH, INFO_PATH, InfoJson, load_info, read_jsonl
from schemas.qa import CATALOG_PREFIX
from schemas.tiers import QualityTier

log = logging.getLogger(__name__)

DIGESTS_DIR = ".file_digests"  # inside catalog/: per-dataset file digests a rebuild reuses
ROWS_PER_PART = 1_000_000  # a rebuild splits the sorted catalog into parts of at most this many rows
ROW_GROUP_SIZE = 122_880  # DuckDB's own row group size: lets it scan one file with every thread
HASH_CHUNK = 1 << 20


class CatalogError(RuntimeError):
    """A dataset's meta and files disagree, so its catalog rows cannot be trusted."""


# -- rows of one dataset ----------------------------------------------------------------------------------------


def _file_digest(h: Any, path: Path, rel: str) -> None:
    """Feed one file into `h`, framed by its relative name and size so concatenations cannot collide."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise CatalogError(f"{path}: listed in the dataset's meta but missing on disk") from None
    h.update(f"{rel}\0{size}\0".encode())
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)


FILE_DIGEST_SCHEMA = pa.schema(
    [("file", pa.string()), ("size", pa.int64()), ("mtime_ns", pa.int64()), ("sha256", pa.string())]
)


class FileDigests:
    """sha256 of one dataset's files, reused while a file's (size, mtime_ns) is unchanged, as git's index does.

    A rebuild then costs a stat per file for data already cataloged, instead of rereading the whole corpus.
    Start from `FileDigests()` to hash every byte."""

    def __init__(self, known: dict[str, tuple[int, int, str]] | None = None) -> None:
        self.known = known or {}
        self.seen: dict[str, tuple[int, int, str]] = {}
        self.hashed_bytes = 0

    def digest(self, dataset_root: Path, rel: str) -> tuple[int, str]:
        """(size, sha256 hex) of `dataset_root / rel`."""
        path = dataset_root / rel
        try:
            st = path.stat()
        except FileNotFoundError:
            raise CatalogError(f"{path}: listed in the dataset's meta but missing on disk") from None
        hit = self.known.get(rel)
        if hit is not None and hit[:2] == (st.st_size, st.st_mtime_ns):
            self.seen[rel] = hit
            return st.st_size, hit[2]
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(HASH_CHUNK):
                h.update(chunk)
        self.hashed_bytes += st.st_size
        self.seen[rel] = (st.st_size, st.st_mtime_ns, h.hexdigest())
        return st.st_size, self.seen[rel][2]

    @classmethod
    def load(cls, path: Path) -> FileDigests:
        """The digests a previous rebuild saved; none (hash everything) when the file is missing or unreadable."""
        try:
            t = pq.read_table(path, schema=FILE_DIGEST_SCHEMA).to_pydict()
        except (OSError, pa.ArrowException):
            return cls()
        return cls({f: (s, m, d) for f, s, m, d in zip(t["file"], t["size"], t["mtime_ns"], t["sha256"], strict=True)})

    def save(self, path: Path) -> None:
        """The digests of the files seen (files no longer listed drop out)."""
        items = sorted(self.seen.items())
        cols = list(zip(*[(f, s, m, d) for f, (s, m, d) in items], strict=True)) or [[], [], [], []]
        write_parquet_atomic(pa.table(dict(zip(FILE_DIGEST_SCHEMA.names, cols, strict=True)), FILE_DIGEST_SCHEMA), path)


def episode_files(info: InfoJson, episode_index: int) -> list[str]:
    """The episode's data parquet and mp4s, relative to the dataset root, in a fixed order."""
    files = [info.data_file(episode_index)]
    if info.video_path is not None:
        files += [info.video_file(episode_index, key) for key in info.video_keys]
    return files


def content_hash(dataset_root: Path, info: InfoJson, episode_index: int, digests: FileDigests | None = None) -> str:
    """sha256 over one line per episode file, `<path in dataset>\\0<size>\\0<sha256 of its bytes>\\n`, for the
    data parquet then each video in info.json's order. Files are streamed; `digests` reuses unchanged files' sums."""
    digests = digests if digests is not None else FileDigests()
    h = hashlib.sha256()
    for rel in episode_files(info, episode_index):
        size, digest = digests.digest(dataset_root, rel)
        h.update(f"{rel}\0{size}\0{digest}\n".encode())
    return h.hexdigest()


def _mtime_utc(path: Path) -> datetime:
    micros = path.stat().st_mtime_ns // 1000  # exact to the microsecond the parquet column keeps
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _latents_ready(dataset_root: Path, info: InfoJson, episode_index: int) -> bool:
    """True when any camera of the episode has its image latents file (written atomically: present means whole)."""
    return any((dataset_root / latents_file(info, episode_index, key)).exists() for key in info.video_keys)


def _hand_keypoints(stats: dict[str, Any] | None, info: InfoJson) -> KeypointKind:
    """Whose keypoints the episode holds: the kind the dataset declares (`schemas.canonical.keypoint_kind`: human
    MANO-21 or a robot hand's FK links), or "none" when the episode's keypoints are all zero (an untracked hand is
    zeros + mask)."""
    ft = info.features.get(HAND_KEYPOINTS)
    if ft is None:
        return "none"
    kind = keypoint_kind(ft.info)
    kp = (stats or {}).get(HAND_KEYPOINTS)
    if kp is None:  # no per-episode stats: what the dataset declares
        return kind
    zero = not (np.any(np.asarray(kp["min"], dtype=float) != 0) or np.any(np.asarray(kp["max"], dtype=float) != 0))
    if zero:
        return "none"
    return "human" if kind == "none" else kind  # keypoints nobody declared: human, as the catalog always read them


def _has_action(lineage: EpisodeLineage, info: InfoJson) -> bool:
    mask = lineage.mask
    if mask is None:
        ft = info.features.get(ACTION)
        if ft is None:
            return False
        mask = (ft.info or {}).get("mask")
        if mask is None:  # a foreign dataset's action vector: real unless said otherwise
            return True
    return bool(np.any(np.asarray(mask, dtype=bool)))


def _qa_columns(lineage: EpisodeLineage) -> dict[str, Any]:
    """The lineage's geometry QA as `qa_*` catalog columns (none for episodes ingested without QA)."""
    return {CATALOG_PREFIX + k: v for k, v in (lineage.qa.values() if lineage.qa is not None else {}).items()}


def _folder_names(corpus_root: Path, dataset_root: Path) -> tuple[str, str, str]:
    """(dataset path relative to the corpus, source, subset) from `datasets/<source>/<subset...>`."""
    try:
        rel = dataset_root.resolve().relative_to(corpus_root.resolve())
    except ValueError:
        raise CatalogError(f"{dataset_root} is not inside the corpus {corpus_root}") from None
    parts = rel.parts[1:] if rel.parts and rel.parts[0] == DATASETS_DIR else rel.parts
    source = parts[0] if parts else dataset_root.name
    subset = "/".join(parts[1:]) if len(parts) > 1 else dataset_root.name
    return rel.as_posix(), source, subset


def catalog_rows_for_dataset(
    corpus_root: Path, dataset_root: Path, *, digests: FileDigests | None = None
) -> list[CatalogRow]:
    """Rows of one dataset from its meta: `episodes.jsonl` lines (length, tasks, the "eidata" lineage), `info.json`
    (fps, cameras, features), per-episode stats (hands) and the episode files (content hash, ingest time, latents).

    Episodes without lineage (datasets written by other tools) get what can be known: source/subset from the folder
    names, tier "high" with the reason "no eidata lineage" ("actionless" when the dataset has no action).
    `digests` lets a rebuild skip rehashing files unchanged since the last one (default: hash every byte)."""
    corpus_root, dataset_root = Path(corpus_root), Path(dataset_root)
    info_path, episodes_path = dataset_root / INFO_PATH, dataset_root / EPISODES_PATH
    if not info_path.exists():
        raise CatalogError(f"{dataset_root}: no {INFO_PATH}; not a dataset")
    if not episodes_path.exists():
        if load_info(info_path).total_episodes == 0:
            return []
        raise CatalogError(f"{dataset_root}: no {EPISODES_PATH} (only LeRobot v2.x datasets are cataloged)")
    info = load_info(info_path)
    digests = digests if digests is not None else FileDigests()
    fps = float(info.fps)
    rel, folder_source, folder_subset = _folder_names(corpus_root, dataset_root)
    cameras = [k.removeprefix(IMAGE_PREFIX) for k in info.video_keys]
    action_ft = info.features.get(ACTION)
    dataset_embodiment = (action_ft.info or {}).get("embodiment") if action_ft is not None else None

    stats: dict[int, dict[str, Any]] = {}
    if (dataset_root / EPISODES_STATS_PATH).exists():
        # only the keypoints' min/max is needed; keep that, not every feature's stats
        for _, obj in read_jsonl(dataset_root / EPISODES_STATS_PATH):
            kp = obj.get("stats", {}).get(HAND_KEYPOINTS)
            stats[int(obj["episode_index"])] = {HAND_KEYPOINTS: kp} if kp is not None else {}

    rows = []
    for lineno, line in read_jsonl(episodes_path):
        try:
            index, length, tasks = int(line["episode_index"]), int(line["length"]), list(line.get("tasks") or [])
        except (KeyError, TypeError, ValueError) as e:
            raise CatalogError(f"{episodes_path}:{lineno}: not an episode entry ({e})") from e
        lineage = EpisodeLineage.of(line)
        has_action = _has_action(lineage, info)
        kind = _hand_keypoints(stats.get(index), info)
        if lineage.tier is not None:  # a foreign dataset's lineage may hold only a caption
            tier, reasons = lineage.tier, list(lineage.tier_reasons or [])
        elif has_action:
            tier, reasons = QualityTier.high, [NO_LINEAGE]
        else:
            tier, reasons = QualityTier.actionless, [NO_LINEAGE, "no action"]
        source = lineage.source or folder_source
        subset = lineage.subset or folder_subset
        caption = lineage.caption_text()
        raw_fps = lineage.raw_fps if "raw_fps" in lineage.model_fields_set else fps
        rows.append(
            CatalogRow(
                episode_uid=lineage.episode_uid or episode_uid(source, subset, f"episode_{index:06d}"),
                source=source,
                subset=subset,
                dataset=rel,
                episode_index=index,
                embodiment=lineage.embodiment or dataset_embodiment or info.robot_type or "unknown",
                tier=tier,
                tier_reasons=reasons,
                task="; ".join(tasks) if tasks else None,
                caption=caption,
                num_frames=length,
                duration_s=length / fps,
                has_action=has_action,
                has_hands=kind == "human",  # as before robot keypoints: `WHERE has_hands` means human hands
                hand_keypoints=kind,
                cameras=cameras,
                success=lineage.success,
                raw_path=lineage.raw_path or rel,
                raw_fps=None if raw_fps is None else float(raw_fps),
                content_hash=content_hash(dataset_root, info, index, digests),
                pipeline_version=lineage.pipeline_version or EXTERNAL_PIPELINE,
                latents_ready=_latents_ready(dataset_root, info, index),
                caption_ready=caption is not None,
                ingested_at=_mtime_utc(dataset_root / info.data_file(index)),
                **_qa_columns(lineage),
            )
        )
    if len(rows) != info.total_episodes:
        raise CatalogError(f"{dataset_root}: {EPISODES_PATH} has {len(rows)} episodes, info.json {info.total_episodes}")
    return rows


# -- writing ----------------------------------------------------------------------------------------------------


def catalog_table(rows: Sequence[CatalogRow]) -> pa.Table:
    """Rows as a `CATALOG_SCHEMA` table sorted by (episode_uid, dataset, episode_index)."""
    table = pa.Table.from_pylist([r.model_dump(mode="python") for r in rows], schema=CATALOG_SCHEMA)
    return sort_catalog(table)


def sort_catalog(table: pa.Table) -> pa.Table:
    return table.sort_by([("episode_uid", "ascending"), ("dataset", "ascending"), ("episode_index", "ascending")])


def _check_part(part: str) -> None:
    if not part or "/" in part or "\\" in part or part.startswith(".") or part.endswith(".parquet"):
        raise ValueError(f"part name {part!r} must be a plain file stem (no separators, leading dot or suffix)")


def write_parquet_atomic(table: pa.Table, path: Path) -> Path:
    """Write next to `path` under a name no `*.parquet` glob matches, fsync, then rename into place."""
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP_SIZE))


def write_catalog_table(corpus_root: Path, table: pa.Table, part: str) -> Path:
    """`catalog/episodes/<part>.parquet` from a table with the catalog schema (sorted here)."""
    _check_part(part)
    table = sort_catalog(table.select(CATALOG_SCHEMA.names).cast(CATALOG_SCHEMA))
    return write_parquet_atomic(table, Path(corpus_root) / EPISODES_DIR / f"{part}.parquet")


def write_catalog_part(corpus_root: Path, rows: Sequence[CatalogRow], part: str) -> Path:
    """`catalog/episodes/<part>.parquet`: the rows sorted by episode_uid, written atomically (tmp + rename)."""
    _check_part(part)
    return write_parquet_atomic(catalog_table(rows), Path(corpus_root) / EPISODES_DIR / f"{part}.parquet")


def write_quarantine_part(corpus_root: Path, rows: Sequence[QuarantineRow], part: str) -> Path:
    """`catalog/quarantine/<part>.parquet`, sorted by (source, raw_path, stage), written atomically."""
    _check_part(part)
    table = pa.Table.from_pylist([r.model_dump(mode="python") for r in rows], schema=QUARANTINE_SCHEMA)
    table = table.sort_by([("source", "ascending"), ("raw_path", "ascending"), ("stage", "ascending")])
    return write_parquet_atomic(table, Path(corpus_root) / QUARANTINE_DIR / f"{part}.parquet")


def catalog_snapshot_hash(corpus_root: Path) -> str:
    """sha256 over the sorted catalog/episodes parquet files (names, sizes and bytes)."""
    h = hashlib.sha256()
    for p in parquet_files(corpus_root, EPISODES_DIR):
        _file_digest(h, p, p.name)
    return h.hexdigest()


# -- rebuild ----------------------------------------------------------------------------------------------------


@contextmanager
def _rebuild_lock(catalog: Path) -> Iterator[None]:
    fd = os.open(catalog / ".rebuild.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CatalogError(f"{catalog}: another catalog rebuild is running") from None
        yield
    finally:
        os.close(fd)  # closing releases the flock


def rebuild_catalog(corpus_root: Path, *, rehash: bool = False) -> int:
    """Replace `catalog/episodes/` with rows rebuilt from every dataset's meta; returns the number of rows.

    The new file set is written beside the old one and swapped in by renames, so readers see the old or the new
    catalog, and a crash leaves the old one (stale temp folders are removed by the next rebuild). File digests are
    kept in `catalog/.file_digests/` and reused for files whose size and mtime are unchanged; `rehash` ignores them.
    """
    corpus_root = Path(corpus_root)
    if not corpus_root.is_dir():
        raise CatalogError(f"{corpus_root}: no such corpus folder")
    catalog = corpus_root / "catalog"
    catalog.mkdir(exist_ok=True)
    with _rebuild_lock(catalog):
        for stale in [*catalog.glob(".rebuild-*"), *catalog.glob(".replaced-*")]:
            shutil.rmtree(stale, ignore_errors=True)
        token = uuid.uuid4().hex
        new_episodes, new_digests = catalog / f".rebuild-{token}-episodes", catalog / f".rebuild-{token}-digests"
        try:
            n = _build(corpus_root, new_episodes, new_digests, rehash)
            for final, new in ((catalog / "episodes", new_episodes), (catalog / DIGESTS_DIR, new_digests)):
                old = catalog / f".replaced-{token}-{final.name.lstrip('.')}"
                if final.exists():
                    os.replace(final, old)
                os.replace(new, final)
                shutil.rmtree(old, ignore_errors=True)
            fsync_path(catalog)
        finally:
            for d in catalog.glob(f".rebuild-{token}-*"):
                shutil.rmtree(d, ignore_errors=True)
    return n


def _build(corpus_root: Path, episodes_dir: Path, digests_dir: Path, rehash: bool) -> int:
    """Every dataset's rows, sorted and split into parts in `episodes_dir`; file digests into `digests_dir`."""
    episodes_dir.mkdir()
    digests_dir.mkdir()
    datasets = find_datasets(corpus_root)
    tables, hashed = [], 0
    for ds in datasets:
        name = quote(ds.relative_to(corpus_root).as_posix(), safe="") + ".parquet"
        digests = FileDigests() if rehash else FileDigests.load(corpus_root / "catalog" / DIGESTS_DIR / name)
        try:
            rows = catalog_rows_for_dataset(corpus_root, ds, digests=digests)
        except (ValueError, OSError) as e:  # torn jsonl, invalid lineage, unreadable file: name the dataset
            raise CatalogError(f"{ds}: {e}") from e
        digests.save(digests_dir / name)
        hashed += digests.hashed_bytes
        if rows:
            tables.append(pa.Table.from_pylist([r.model_dump(mode="python") for r in rows], schema=CATALOG_SCHEMA))
    table = sort_catalog(pa.concat_tables(tables)) if tables else CATALOG_SCHEMA.empty_table()
    del tables
    dupes = _duplicate_uids(table)
    if dupes:
        raise CatalogError(f"episode_uid found in more than one episode: {dupes[:5]} ({len(dupes)} in all)")
    for i, start in enumerate(range(0, table.num_rows, ROWS_PER_PART)):
        write_parquet_atomic(table.slice(start, ROWS_PER_PART), episodes_dir / f"part-{i:05d}.parquet")
    log.info("catalog: %d episodes from %d datasets (%d bytes hashed)", table.num_rows, len(datasets), hashed)
    return table.num_rows


def _duplicate_uids(table: pa.Table) -> list[str]:
    if table.num_rows == 0:
        return []
    counts = table.group_by("episode_uid").aggregate([("episode_uid", "count")])
    return sorted(counts.filter(pc.greater(counts["episode_uid_count"], 1))["episode_uid"].to_pylist())


# -- CLI --------------------------------------------------------------------------------------------------------

SUMMARY_SQL = """
SELECT source, tier, count(*) AS episodes, round(sum(duration_s) / 3600, 3) AS hours,
       count(*) FILTER (WHERE has_hands) AS with_hands, count(*) FILTER (WHERE latents_ready) AS with_latents
FROM episodes GROUP BY ALL ORDER BY source, tier
"""


def cli_catalog(args: argparse.Namespace) -> int:
    """`eidata catalog ROOT`: rebuild the catalog from the datasets, print the row count and a per-source summary.

    args.root: the corpus folder; args.rehash (optional flag): hash every file again instead of reusing the digests
    of files whose size and mtime are unchanged. Exit 0 on success, 1 when a dataset cannot be cataloged, 2 for a
    missing root."""
    from jobs.catalog.query import format_table, run_query

    root = Path(args.root)
    if not root.is_dir():
        print(f"eidata catalog: {root}: no such corpus folder", file=sys.stderr)
        return 2
    try:
        n = rebuild_catalog(root, rehash=bool(getattr(args, "rehash", False)))
    except CatalogError as e:
        print(f"eidata catalog: {e}", file=sys.stderr)
        return 1
    datasets = len(find_datasets(root))
    print(f"catalog: {n} episodes from {datasets} datasets -> {root / EPISODES_DIR}")
    print(f"snapshot: {catalog_snapshot_hash(root)}")
    if n:
        print(format_table(run_query(root, SUMMARY_SQL), "table"))
    return 0
