"""The corpus a catalog describes: which datasets, and a mark of each one's meta, written with the catalog and checked
by every command before it reads it (issue 67 item 8).

A catalog is rebuilt from the datasets' meta (`jobs.catalog.build`); a dataset deleted, moved, added or written to
afterwards (an ingest killed after its commits, a copy missing a folder) leaves a catalog that counts episodes the
corpus no longer has, or misses those it has: `query` counted a deleted dataset's 93 episodes, `curate` wrote a
manifest of them, `export` of that manifest ended in a traceback. `catalog/episodes/datasets.json` (in the folder of the
parts, so it is swapped in with them by the rebuild's rename) names every dataset the rebuild read with its mark:
episodes and frames from `meta/info.json`, the byte sizes of `meta/info.json` and `meta/episodes.jsonl`. Sizes, not
times or digests: a copy of the corpus keeps them, a check reads no byte of a dataset but its small `info.json`, and
every commit of a writer grows `episodes.jsonl` and rewrites `info.json`. `open_catalog` is the one way a command
opens a corpus to read its catalog.

What each dataset's `meta/info.json` held when it was last read (`Seen`), by the file's stat, so that the census
check that precedes every command reading the catalog stats an unchanged info.json instead of reading it.

The census's mark of a dataset holds the episodes and frames its info.json counts: a check read all 29,852 of them
(15 kB each) before every `query`, `curate`, `report` or export of a 1M-episode corpus, and `catalog` read them again,
4-6 CPU-s each time (issue 99). `catalog/.info_seen.json` records, per dataset, the stat its info.json was read under
(size, mtime_ns, ctime_ns, inode) and the two counts it held; a check takes the counts from it while the stat is the
same, and reads the file otherwise. The change of a file shows in that stat: an in-place write sets mtime and ctime,
`atomic_write`'s rename is another inode, and ctime cannot be set back by hand (`touch -d`, `os.utime` set mtime
only). A write in the same timestamp tick as the read it follows would keep the stat (git's "racily clean" index
entries, Documentation/technical/racy-git.txt): a stat younger than `RACY_NS` when it is read is not recorded, so
that file is read each time until it is older.

The file is a cache of facts about files, true whichever catalog it sits beside: it lies outside the folders a
rebuild swaps (an eidata before it ignores it), is written by `eidata catalog` only when it would change, and a
missing, unreadable or older one means every info.json is read, as before.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from adapters.lerobot_format.layout import path_order
from adapters.storage.atomic import atomic_write
from adapters.storage.corpus import Corpus
from adapters.storage.root import Root
from ingest.lerobot.settled import settled_datasets
from jobs.catalog.parts import parquet_files
from jobs.runtime.intent import refuse_pending
from schemas.corpus import DATASETS_DIR, EPISODES_DIR, relative_posix
from schemas.lerobot import EPISODES_PATH, INFO_PATH, InfoJson
from schemas.storage import CatalogError, StorageOptions

SEEN_JSON = ".info_seen.json"  # in catalog/, beside the folders a rebuild swaps
SEEN_VERSION = 1
# a stat younger than this when read is not trusted: above the timestamp tick of any local filesystem (ext4's and
# xfs's are a jiffy, ns fields; FAT's mtime is 2 s, the coarsest in use)
RACY_NS = 2_000_000_000


def stat_key(st: os.stat_result) -> list[int]:
    """What of a stat shows a change of the file: its size, mtime_ns, ctime_ns and inode."""
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


class Seen:
    """The recorded counts by dataset (`load`), and those this census saw (`now`, which `save` records)."""

    def __init__(self, known: dict[str, list[int]] | None = None) -> None:
        self.known = known or {}
        self.now: dict[str, list[int]] = {}

    @classmethod
    def load(cls, corpus_root: Path) -> Seen:
        """The record of the corpus `corpus_root`; empty when there is none or it cannot be read (all read)."""
        try:
            body = json.loads((Path(corpus_root) / "catalog" / SEEN_JSON).read_bytes())
            if body["seen_version"] != SEEN_VERSION:
                return cls()
            return cls({name: list(entry) for name, entry in body["datasets"].items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls()

    def counts(self, dataset: str, st: os.stat_result) -> tuple[int, int] | None:
        """(episodes, frames) of `dataset`'s info.json as recorded under the stat `st`; None when it was not."""
        entry = self.known.get(dataset)
        if entry is None or len(entry) != 6 or entry[:4] != stat_key(st):
            return None
        self.now[dataset] = entry
        return entry[4], entry[5]

    def saw(self, dataset: str, st: os.stat_result, episodes: int, frames: int) -> None:
        """Record that `dataset`'s info.json, read under the stat `st` (of the open file, taken before its bytes),
        held `episodes` and `frames`; a racy stat (`RACY_NS`) is not recorded."""
        if max(st.st_mtime_ns, st.st_ctime_ns) > time.time_ns() - RACY_NS:
            return
        self.now[dataset] = [*stat_key(st), episodes, frames]

    def save(self, corpus_root: Path) -> bool:
        """Write what this census saw as the record, when it differs from the one loaded; whether it wrote."""
        if self.now == self.known:
            return False
        body = {"seen_version": SEEN_VERSION, "datasets": dict(sorted(self.now.items()))}
        atomic_write(Path(corpus_root) / "catalog" / SEEN_JSON, json.dumps(body, separators=(",", ":")) + "\n")
        return True


CENSUS_JSON = "datasets.json"  # in catalog/episodes/, beside the parts it describes
CENSUS_VERSION = 1
SHOWN = 3  # differences a refusal names before "(N in all)"


class CatalogMismatchError(CatalogError, ValueError):
    """The catalog does not describe the corpus's datasets as they are (or there is none to read)."""


@dataclass(frozen=True)
class Mark:
    """What the census records of one dataset: enough to see that it changed, read from two stats and one small file."""

    episodes: int
    frames: int
    info_bytes: int
    episodes_bytes: int

    @classmethod
    def of(cls, storage: Root, dataset: str, info: InfoJson | None = None, seen: Seen | None = None) -> Mark:
        """The mark of the dataset `dataset` (relative to the corpus `storage`) as it is now (`info`: its info.json
        as its caller read it, not read again; `seen`: the counts of an info.json whose stat is unchanged, not read
        again, `Seen`); OSError or ValueError when its `info.json` cannot be read. A folder's
        files are read and stat'ed directly: through fsspec they were a third of the census of 30k datasets."""
        info_json = f"{dataset}/{INFO_PATH}"
        if info is not None:
            counts, info_bytes = (info.total_episodes, info.total_frames), _size(storage, info_json)
        elif storage.local:
            counts, info_bytes = _local_counts(f"{storage.where}/{info_json}", dataset, seen)
        else:
            counts, info_bytes = _counts(storage.read(info_json)), _size(storage, info_json)
        return cls(
            episodes=int(counts[0] or 0),
            frames=int(counts[1] or 0),
            info_bytes=info_bytes,
            episodes_bytes=_size(storage, f"{dataset}/{EPISODES_PATH}", missing=-1),
        )

    def differs(self, now: Mark) -> str:
        """How `now` differs from this recorded mark, in words ("" when it does not)."""
        if (self.episodes, self.frames) != (now.episodes, now.frames):
            return f"{now.episodes} episodes / {now.frames} frames, the catalog has {self.episodes} / {self.frames}"
        if self.episodes_bytes != now.episodes_bytes:
            return f"{EPISODES_PATH} is {now.episodes_bytes} bytes, {self.episodes_bytes} when cataloged"
        if self.info_bytes != now.info_bytes:
            return f"{INFO_PATH} is {now.info_bytes} bytes, {self.info_bytes} when cataloged"
        return ""


def _counts(raw: bytes) -> tuple[int, int]:
    """(total_episodes, total_frames) of an info.json's bytes (0 for a missing one)."""
    body = json.loads(raw)
    return int(body.get("total_episodes") or 0), int(body.get("total_frames") or 0)


def _local_counts(path: str, dataset: str, seen: Seen | None) -> tuple[tuple[int, int], int]:
    """(the counts, the size) of the info.json at `path`: from `seen` when its stat is the one recorded, else read,
    its stat taken from the open file before its bytes (a write after it changes the stat the next check sees)."""
    if seen is not None and (counts := seen.counts(dataset, st := os.stat(path))) is not None:
        return counts, st.st_size
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        counts = _counts(f.read())
    if seen is not None:
        seen.saw(dataset, st, *counts)
    return counts, st.st_size


def _size(storage: Root, rel: str, missing: int | None = None) -> int:
    """The size of the file `rel` of the corpus `storage` (a folder's stat'ed in place); `missing` when there is no
    such file (None: FileNotFoundError)."""
    if storage.local:
        try:
            return os.stat(f"{storage.where}/{rel}").st_size  # a string: a Path per file cost more than its stat
        except FileNotFoundError:
            if missing is None:
                raise
            return missing
    if missing is not None and not storage.exists(rel):
        return missing
    return storage.size(rel)


def _name(corpus_root: Path, dataset: Path) -> str:
    return relative_posix(dataset, corpus_root)


def take_census(corpus_root: Path, datasets: list[Path], seen: Seen | None = None) -> dict[str, Mark]:
    """Every dataset's mark as it is now, by name relative to the corpus (`seen`: what info.json held by its stat,
    `Seen`). Taken before the rows are read: a writer that commits meanwhile leaves a mark older
    than the rows, seen as a change by the next reader, never hidden."""
    out, storage = {}, Root(corpus_root)
    for ds in sorted(datasets):
        try:
            name = _name(corpus_root, ds)
            out[name] = Mark.of(storage, name, seen=seen)
        except (OSError, ValueError) as e:  # as the rows' reading names it: the dataset and the cause
            raise CatalogError(f"{ds}: {INFO_PATH}: {e}") from e
    return out


def census_text(census: dict[str, Mark]) -> str:
    """What `datasets.json` holds for `census` (the same census gives the same bytes)."""
    body = {"census_version": CENSUS_VERSION, "datasets": {name: vars(m) for name, m in sorted(census.items())}}
    return json.dumps(body, indent=1, sort_keys=True) + "\n"


def write_census(episodes_dir: Path, census: dict[str, Mark]) -> Path:
    """`datasets.json` in the new catalog's parts folder (`census_text`)."""
    return atomic_write(Path(episodes_dir) / CENSUS_JSON, census_text(census))


def read_census(corpus_root: Path) -> dict[str, Mark] | None:
    """The recorded marks by dataset (relative to the corpus), or None when the catalog has no census."""
    path = Path(corpus_root) / EPISODES_DIR / CENSUS_JSON
    try:
        return {name: Mark(**mark) for name, mark in json.loads(path.read_bytes())["datasets"].items()}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CatalogMismatchError(f"{path}: unreadable ({e})") from None


def cataloged_datasets(corpus_root: Path) -> list[str]:
    """The corpus's datasets, relative to it, in `find_datasets`' order (paths part by part): those the catalog's
    census records, for a reader of a catalog `open_catalog` opened (its census checked to describe the datasets as
    they are: `check_census`), else those a walk finds (a catalog without a census, an older eidata's). The report
    walked them three times more at 1M episodes (29,852 datasets: 1 CPU-s and 3-5 s of wall a walk, issue 99)."""
    recorded = read_census(corpus_root)
    if recorded is None:
        return [_name(Path(corpus_root), ds) for ds in settled_datasets(corpus_root)]
    return sorted(recorded, key=path_order)


def _plain(storage: Root, recorded: set[str], found: set[str]) -> dict[str, Root]:
    """Of the `recorded` datasets and the corpus's `datasets/<source>/<subset>` not `found` in its reading copy,
    those `storage` (the corpus itself) holds as plain files, `meta/info.json` among them: in a bucket, a corpus put
    there by a plain copy tool (no commit record, so its reading copy has none of their meta); none in a folder."""
    top = [f"{DATASETS_DIR}/{s}" for s in storage.list(DATASETS_DIR)]
    listed = {f"{source}/{subset}" for source in top for subset in storage.list(source)}
    return {name: storage for name in sorted((recorded | listed) - found) if storage.exists(f"{name}/{INFO_PATH}")}


def differences(corpus_root: Path, storage: Root | None = None) -> list[str]:
    """What differs between the catalog's census and the datasets under `corpus_root` (the reading copy of the
    corpus `storage`, by default the folder itself), one phrase each, sorted by dataset; [] when the catalog
    describes them (or when there is no catalog and no dataset). A dataset the copy lacks is looked for in the corpus
    as plain files (`_plain`): a plain copy keeps the sizes and the info.json a mark is made of."""
    root = Path(corpus_root)
    local = Root(root)  # one for every dataset: a Root each resolved the corpus's path 30k times (10 s at 1M)
    found = {_name(root, ds): local for ds in settled_datasets(root)}
    recorded, seen = read_census(root), Seen.load(root)
    if storage is not None:
        found |= _plain(storage, set(recorded or ()), set(found))
    if recorded is None:
        if parquet_files(root, EPISODES_DIR):
            return ["the catalog was built without a record of its datasets (an older eidata)"]
        return [f"there is no catalog of its {len(found)} dataset(s) (an ingest not finished?)"] if found else []
    out = []
    for name in sorted(recorded.keys() | found.keys()):
        if name not in found:
            out.append(
                f"{name} is cataloged ({recorded[name].episodes} episodes) but not in the corpus (deleted or moved?)"
            )
        elif name not in recorded:
            out.append(f"{name} is in the corpus but not in the catalog (copied in, or an ingest not finished?)")
        else:
            try:
                now = Mark.of(found[name], name, seen=seen)
            except (OSError, ValueError) as e:
                out.append(f"{name}: {INFO_PATH} unreadable ({e})")
                continue
            if change := recorded[name].differs(now):
                out.append(
                    f"{name} changed since the catalog was built ({change}: a write such as `eidata ingest` "
                    "interrupted, or still running?)"
                )
    return out


def described(corpus_root: Path, datasets: Collection[str] | None = None) -> set[str]:
    """Of `datasets` (names relative to the corpus folder `corpus_root`), those the catalog's census records as they
    are now (`Mark.differs`), so that a plan may take their catalog rows for their meta: one info.json and two stats
    per dataset planned, where `differences` reads the corpus's every dataset (2.4 s of 896 datasets for a manifest of
    16, issue 99); None: every dataset the census records. An unreadable census or dataset is not described: its
    meta is read."""
    try:
        recorded = read_census(corpus_root) or {}
    except CatalogError:
        return set()
    storage, out, seen = Root(corpus_root), set(), Seen.load(corpus_root)
    for name in recorded if datasets is None else datasets:
        try:
            if name in recorded and not recorded[name].differs(Mark.of(storage, name, seen=seen)):
                out.add(name)
        except (OSError, ValueError):
            continue
    return out


def check_census(corpus_root: Path, where: Path | str, reader: str, storage: Root | None = None) -> None:
    """CatalogMismatchError, one line, when the catalog of the corpus folder `corpus_root` (named `where` to the user)
    does not describe its datasets as they are (`differences`): `reader` would read episodes that are not there, or
    miss some that are."""
    found = differences(corpus_root, storage)
    if not found:
        return
    more = f" ({len(found)} differences in all)" if len(found) > SHOWN else ""
    raise CatalogMismatchError(
        f"{where}: the catalog does not describe the corpus's datasets: {'; '.join(found[:SHOWN])}{more}; {reader} "
        f"refuses it. `eidata catalog {where}` rebuilds it from the datasets as they are"
    )


@contextmanager
def open_catalog(
    where: Path | str, reader: str, options: StorageOptions | None = None, *, copy: bool = False
) -> Iterator[Corpus]:
    """The corpus at `where` opened for `reader` to read its catalog (`Corpus.read`; `copy`: with the episode files),
    refused with one line when a step that writes the catalog did not finish (`refuse_pending`) or the catalog does
    not describe the datasets (`check_census`). A bucket's copy holds its datasets' meta (from their commit records),
    so its census is checked as a folder's is."""
    with Corpus.read(where, options, copy=copy, meta=True) as corpus:
        refuse_pending(corpus.root, corpus.where, reader)
        check_census(corpus.root, corpus.where, reader, corpus.storage)
        yield corpus
