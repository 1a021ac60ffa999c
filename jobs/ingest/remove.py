"""`eidata remove CORPUS SOURCE...`: sources taken out of a corpus (issue 98 item 4), exactly once, in a folder or
a bucket alike.

A source's datasets (their latents and captions inside them), its quarantine rows and its findings file leave the
corpus, its readings' history says it was removed, and the catalog is rebuilt: the same steps a re-read's swap takes
with nothing read in their place (`jobs.ingest.reread.swap_in`, `replace_rows`, `settle`: a bucket's datasets deleted
by its commit protocol, records first), under the same kind of intent file, so that a kill anywhere and the same
command again end where an uninterrupted removal ends. The manifests that select its episodes are named (they stay as
they are: a manifest made before says so when it is used).
"""

from __future__ import annotations

import json
import logging
from argparse import Namespace
from pathlib import Path

import pyarrow.parquet as pq

from adapters.storage.corpus import Corpus
from jobs.catalog.manifest_read import entries_file
from jobs.catalog.parts import parquet_files
from jobs.ingest.readings import READINGS, recorded
from jobs.ingest.reread import REREAD_DIR, read_intent, replace_rows, settle, swap_in, write_intent
from jobs.output_lock import OutputLock
from jobs.runtime.exits import fail
from schemas.corpus import DATASETS_DIR, JOB_DIR, MANIFESTS_DIR, QUARANTINE_DIR

log = logging.getLogger(__name__)

REMOVE_INTENT = f"{JOB_DIR}/remove.json"  # the sources a removal takes out, until it is done


def held_sources(output: Path) -> set[str]:
    """Every source the corpus holds anything of: datasets, quarantine rows, recorded readings."""
    folder = output / DATASETS_DIR
    names = {p.name for p in folder.iterdir() if p.is_dir()} if folder.is_dir() else set()
    for part in parquet_files(output, QUARANTINE_DIR):
        names |= set(pq.read_table(part, columns=["source"])["source"].to_pylist())
    return names | set(recorded(output))


def selecting_manifests(corpus: Corpus, names: list[str]) -> dict[str, int]:
    """Each manifest of `corpus` that selects episodes of `names`: how many."""
    out = {}
    with Corpus.read(corpus.where, corpus.options, meta=True) as reader:  # a bucket's manifests/ copied
        folder = reader.root / MANIFESTS_DIR
        for manifest in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
            try:
                uids = pq.read_table(entries_file(manifest), columns=["episode_uid"])["episode_uid"].to_pylist()
            except (OSError, ValueError) as e:  # named, never skipped silently
                log.warning("manifest %s: its entries cannot be read (%s): not checked for %s", manifest.name, e, names)
                continue
            if n := sum(1 for u in uids if u.split("/", 1)[0] in names):
                out[manifest.name] = n
    return out


def remove_sources(corpus: Corpus, names: list[str]) -> None:
    """`names` out of the corpus (see the module); each step done once, its progress in the intent file."""
    output = corpus.root
    intent = read_intent(output / REMOVE_INTENT) or {"removing": names}
    write_intent(corpus, REMOVE_INTENT, intent)
    empty = f"{REREAD_DIR}/.nothing"  # a re-read that read nothing: no dataset, no row, no finding
    for name in intent["removing"]:
        swap_in(corpus, name, empty)
        replace_rows(corpus, name, output / empty, prefix="\0")  # no part is this removal's own
    history = output / READINGS
    before = recorded(output)
    with history.open("a", encoding="utf-8") as f:  # said once: a source already said removed is not recorded
        f.write("".join(json.dumps({"source": n, "removed": True}) + "\n" for n in intent["removing"] if n in before))
    settle(corpus, intent["removing"], REMOVE_INTENT, [])


def cli_remove(args: Namespace) -> int:
    """Exit 0 when removed, 2 for a bad call (a source the corpus does not hold), 1 when another job holds it."""
    from jobs.runtime.job_lock import JobLockedError

    names = list(dict.fromkeys(args.sources))
    with Corpus.open(args.corpus, None, "ingest", existing=True) as corpus:
        output = corpus.root
        pending = read_intent(output / REMOVE_INTENT).get("removing", [])  # a killed removal: finished, not refused
        if unknown := [n for n in names if n not in held_sources(output) and n not in pending]:
            held = sorted(held_sources(output))
            return fail(2, f"error: the corpus holds no source {', '.join(unknown)}; it holds {held}")
        manifests = selecting_manifests(corpus, names)
        if args.dry_run:
            print(f"would remove {', '.join(names)}; manifests selecting their episodes: {manifests or 'none'}")
            return 0
        try:
            with OutputLock(output, "ingest"):
                remove_sources(corpus, names)
        except JobLockedError as e:
            return fail(1, f"error: {e}")
    print(f"removed {', '.join(names)}: datasets, quarantine rows, findings; the catalog rebuilt")
    for name, n in manifests.items():
        print(f"  manifest {name} selected {n} of their episodes: remake it with `eidata curate`")
    return 0
