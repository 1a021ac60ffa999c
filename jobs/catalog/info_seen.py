"""What each dataset's `meta/info.json` held when it was last read, by the file's stat, so that the census check that
precedes every command reading the catalog (`jobs.catalog.census`) stats an unchanged info.json instead of reading it.

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
from pathlib import Path

from adapters.storage.atomic import atomic_write

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
