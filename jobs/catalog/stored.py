"""A dataset's catalog rows kept between rebuilds (issue 75), so that a rebuild parses only the datasets that changed.

`catalog/.dataset_rows/` holds what the last rebuild wrote (its episode parts, verdict rows and each dataset's pooled
QA, `schemas.dataset_qa`: hard links to the same files, not copies) and `keys.json`: per dataset, the key it was read
under, the behaviour thresholds its episodes were ingested with and how many rows and verdict rows it gave. The key
(`tree_key`) is every file of the dataset's folder by path, size and mtime_ns, as `FileDigests` keys a file's sum: the
meta a row is parsed from, and the episode files its content hash, latents flag and ingest time are read from. A dataset
whose key is unchanged gets its rows, verdict rows and file digests from the last rebuild, without a byte of its meta
parsed or a file's digests read; any other dataset (new, changed lineage, a file written, `--rehash`) is parsed again; a
removed one drops out. The catalog's, the verdict rows' and the pooled QA's schemas, and the pooling's source, are in
the key (`ROWS_FORMAT`), so an eidata that adds or changes a column parses every dataset again without anyone
remembering to; `ROWS_VERSION` is bumped by hand only for a new rule over the same columns.

The folder is written beside the old one and swapped in with the catalog (`jobs.catalog.build`), so the kept rows
and keys always describe the same rebuild; counts that disagree with its keys mean the dataset is parsed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from adapters.storage.atomic import atomic_write
from jobs.catalog.dataset_qa import POOLING
from schemas.behaviour import BehaviourConfig
from schemas.catalog import CATALOG_SCHEMA
from schemas.dataset_qa import DATASET_QA_SCHEMA
from schemas.verdicts import VERDICT_SCHEMA

ROWS_DIR = ".dataset_rows"  # inside catalog/, beside FileDigests.DIR
KEYS_JSON, VERDICTS_PART, FINDINGS_PART = "keys.json", "verdicts.parquet", "findings.parquet"
QA_PART = "dataset_qa.parquet"  # one row per dataset with rows (`schemas.dataset_qa`)
PART = "part-00000.parquet"  # the one part of the verdicts and findings folders
ROWS_VERSION = 1  # bump when a row's values change for the same files and columns (a new rule in `jobs.catalog.rows`)
# what a kept row was written as: a new or changed column in any of the schemas, or another pooling of a dataset's
# QA (`jobs.catalog.dataset_qa.POOLING`), is another key
ROWS_FORMAT = hashlib.sha256(
    f"rows {ROWS_VERSION}\n{CATALOG_SCHEMA.to_string()}\n{VERDICT_SCHEMA.to_string()}\n"
    f"{DATASET_QA_SCHEMA.to_string()}\n{POOLING}".encode()
).hexdigest()


def tree_key(dataset_root: Path) -> str:
    """sha256 over `<path>\\0<size>\\0<mtime_ns>\\n` of every file below `dataset_root` (sorted), after `ROWS_FORMAT`.
    One stat per file (the rebuild before kept rows made two or three per episode file), each relative to its open
    folder (`_lines`). The lines sort as their paths do: NUL, after each path, sorts before any character of a name."""
    lines: list[str] = []
    fd = os.open(dataset_root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _lines(fd, "", lines)
    finally:
        os.close(fd)
    lines.sort()
    return hashlib.sha256(f"{ROWS_FORMAT}\n{''.join(lines)}".encode()).hexdigest()


def _lines(fd: int, prefix: str, out: list[str]) -> None:
    """The key's line of each file in the folder open as `fd` and below it (a link to a folder is a file, stat'ed
    through the link). Each stat and listing is relative to its folder's descriptor: a path resolved from `/` for
    each of a 1M-episode corpus's 2M files cost most of the walk's system time (issue 99)."""
    folders = []
    with os.scandir(fd) as it:
        for e in it:
            if e.is_dir(follow_symlinks=False):
                folders.append(e.name)
            else:
                st = e.stat()
                out.append(f"{prefix}{e.name}\0{st.st_size}\0{st.st_mtime_ns}\n")
    for name in folders:
        sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        try:
            _lines(sub, f"{prefix}{name}/", out)
        finally:
            os.close(sub)


class KeptMismatch(ValueError):
    """The kept files do not hold what their keys say (touched by hand, or unreadable)."""


@dataclass
class Kept:
    """The rows a previous rebuild kept (`load`), and what this rebuild keeps (`keep`, `write`)."""

    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    folder: Path | None = None
    out: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: int | None = None  # the `ROWS_VERSION` the keys were written under

    @classmethod
    def load(cls, folder: Path | None) -> Kept:
        """What `folder` (a previous rebuild's `ROWS_DIR`; None: keep nothing, parse every dataset) holds."""
        if folder is None:
            return cls()
        try:
            body = json.loads((folder / KEYS_JSON).read_bytes())
            return cls(keys=body["datasets"], folder=folder, version=body.get("rows_version"))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):  # none kept, or unreadable: all parsed
            return cls()

    def reuse(self, dataset: str, key: str) -> bool:
        """Whether `dataset`'s kept rows were read under `key` (it is then kept again, as it was)."""
        entry = self.keys.get(dataset)
        if entry is None or entry.get("key") != key:
            return False
        self.out[dataset] = entry
        return True

    def keep(self, dataset: str, key: str, config: BehaviourConfig | None, rows: int, verdicts: int) -> None:
        """Record a dataset parsed under `key` for the next rebuild."""
        thresholds = None if config is None else config.model_dump(mode="json")
        self.out[dataset] = {"key": key, "config": thresholds, "rows": rows, "verdicts": verdicts}

    def config(self, dataset: str) -> BehaviourConfig:
        entry = self.out[dataset]
        return BehaviourConfig.model_validate(entry["config"]) if entry["config"] is not None else BehaviourConfig()

    def all_kept(self, reused: Sequence[str]) -> bool:
        """Whether `reused` is every dataset the last rebuild kept (none removed, none new) and its kept files hold
        as many rows and verdict rows as the keys say (read from the parquet footers)."""
        if self.folder is None or set(reused) != set(self.keys) or not (self.folder / FINDINGS_PART).exists():
            return False
        try:
            rows = sum(pq.ParquetFile(p).metadata.num_rows for p in self.folder.glob("part-*.parquet"))
            verdicts = pq.ParquetFile(self.folder / VERDICTS_PART).metadata.num_rows
            qa = pq.ParquetFile(self.folder / QA_PART).metadata.num_rows
        except (OSError, pa.ArrowException):
            return False
        entries = self.keys.values()
        want = (
            sum(e["rows"] for e in entries),
            sum(e["verdicts"] for e in entries),
            sum(e["rows"] > 0 for e in entries),
        )
        return (rows, verdicts, qa) == want

    def link_previous(self, episodes: Path, verdicts: Path, findings: Path, qa: Path) -> int:
        """The last rebuild's parts, verdict rows, findings and pooled QA as this one's (`all_kept`: the same bytes);
        its rows."""
        assert self.folder is not None
        for src in sorted(self.folder.glob("part-*.parquet")):
            _link_or_copy(src, episodes / src.name)
        _link_or_copy(self.folder / VERDICTS_PART, verdicts / PART)
        _link_or_copy(self.folder / FINDINGS_PART, findings / PART)
        _link_or_copy(self.folder / QA_PART, qa / PART)
        return sum(int(entry["rows"]) for entry in self.keys.values())

    def in_place(self, episodes: Path, verdicts: Path, findings: Path, qa: Path, census: str) -> bool:
        """Whether the live catalog's folders already hold what `link_previous` and `write` would make of the kept
        files: each exactly the kept files, as the same files (hard links: their inodes), `episodes` with its census
        `census` beside them, and the kept folder exactly its parts, three files and keys of this `ROWS_VERSION`
        (`all_kept` checked their counts). A rebuild of unchanged datasets then writes nothing."""
        if self.folder is None or self.version != ROWS_VERSION:
            return False
        parts = sorted(p.name for p in self.folder.glob("part-*.parquet"))
        live = {
            episodes: dict(zip(parts, parts, strict=True)),
            verdicts: {PART: VERDICTS_PART},
            findings: {PART: FINDINGS_PART},
            qa: {PART: QA_PART},
        }
        try:
            if set(os.listdir(self.folder)) != {*parts, VERDICTS_PART, FINDINGS_PART, QA_PART, KEYS_JSON}:
                return False
            for folder, files in live.items():
                if set(os.listdir(folder)) != set(files) | ({census} if folder == episodes else set()):
                    return False
                if not all(os.path.samefile(folder / name, self.folder / kept) for name, kept in files.items()):
                    return False
        except OSError:
            return False
        return True

    def write(self, folder: Path, episode_parts: Sequence[Path], verdicts: Path, findings: Path, qa: Path) -> None:
        """This rebuild's parts, verdict rows, findings and pooled QA (the `verdicts`, `findings` and `qa` folders' one
        part) hard-linked into `folder` (copied where links fail), then the keys."""
        for src in episode_parts:
            _link_or_copy(src, folder / src.name)
        _link_or_copy(verdicts / PART, folder / VERDICTS_PART)
        _link_or_copy(findings / PART, folder / FINDINGS_PART)
        _link_or_copy(qa / PART, folder / QA_PART)
        body = {"rows_version": ROWS_VERSION, "datasets": dict(sorted(self.out.items()))}
        atomic_write(folder / KEYS_JSON, json.dumps(body, indent=1, sort_keys=True) + "\n")


def _link_or_copy(src: Path, dst: Path) -> None:
    """`dst` the bytes of `src`: a hard link (a kept file is never written in place), or a copy where links fail."""
    try:
        os.link(src, dst)
    except OSError:
        atomic_write(dst, lambda tmp: shutil.copyfile(src, tmp))  # streamed: a kept part may be hundreds of MB
