"""A source re-read under a changed spec, exactly once (issue 98 item 3), and the check that stops a run whose spec
changed a source's reading unless the user asked for the re-read (item 2).

A re-read is the ordinary ingest of that one source into a corpus of its own, `reread/<source>/` in the corpus (a
folder, or a prefix of the bucket: the same steps, the same exactly-once resume, a kill there costs the episodes in
flight), then a swap into the corpus, step by step, each step idempotent and its progress in `job/reread.json` (put in
the bucket at each step: `Corpus.persist`), so that a rerun of the same command after a kill anywhere ends where an
uninterrupted re-read ends, byte for byte:

1. `read`: the nested ingest (resumed by a rerun like any ingest);
2. `swap`: the source's datasets (their latents and captions inside them) replaced by the re-read's
   (`Corpus.replace_tree`): in a folder the old ones renamed to `reread/<source>.retired`, the new ones renamed in; in a
   bucket the old objects deleted, their commit records first, the new ones copied in, their records last;
3. `rows`: the new reading's quarantine parts copied in under names of this re-read (`reread-<source>-<token>-...`),
   then every other row of the source dropped from the corpus's parts (rewritten atomically, an emptied one removed),
   and the source's findings file replaced by the re-read's (a bucket's `catalog/` then put);
4. `catalog`: the catalog rebuilt from the datasets' meta (a bucket's put, with the readings' history);
5. the old datasets and the re-read's corpus removed, the intent cleared.

What a reader sees meanwhile. Until step 2 the old episodes are the corpus's and the catalog is consistent with them;
after step 4 the new ones, and the catalog with them. In between the catalog still names the old episodes: in a
folder the source's dataset files are the old ones, then (one rename later) the new ones; in a bucket, whose readers
trust commit records, the source's datasets are absent from the first record deleted until the last record copied,
then the new ones. A kill in the window leaves the corpus so until the rerun.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from adapters.storage.corpus import Corpus
from jobs.catalog.parts import drop_quarantine_rows, parquet_files, write_parquet_atomic
from jobs.catalog.source_findings import findings_file
from jobs.ingest.readings import READINGS, changed, recorded
from jobs.spec_models import JobSpec
from schemas.corpus import DATASETS_DIR, JOB_DIR, QUARANTINE_DIR
from schemas.reading import ReadingChange, SourceReading

REREAD_DIR = "reread"  # outside `job/`, which a bucket's job copies whole into its scratch
INTENT = f"{JOB_DIR}/reread.json"


class RereadError(Exception):
    """A run that cannot start as asked: a re-read of a source the spec has not, an unfinished re-read whose spec
    changed since (exit 2, nothing read or replaced)."""


class ReadingsChangedError(RereadError):
    """The spec changes how sources the corpus holds were read, and the run was not asked to re-read them: nothing
    was read or replaced (exit 2)."""

    def __init__(self, changes: list[ReadingChange], spec: str) -> None:
        self.changes = changes
        lines = [
            f"the spec changes how {len(changes)} source(s) of the corpus were read; nothing was read or replaced:"
        ]
        for c in changes:
            lines.append(
                f"  {c.source}: {c.episodes} episodes and {c.quarantined} quarantine rows read as {c.before}, "
                f"the spec now gives {c.after}:"
            )
            lines += [f"    {line}" for line in c.changes]
        names = " ".join(c.source for c in changes)
        lines.append(
            f"re-read them (their episodes and quarantine rows replaced once the re-read commits): `eidata ingest "
            f"{spec} --reread {names}`, or `--reread-changed`; or restore the spec"
        )
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Reread:
    """What the user asked to re-read: sources by name, and/or every source whose reading changed."""

    names: tuple[str, ...] = ()
    changed: bool = False
    spec: str = "SPEC"  # the spec's path as given, for the line that says how to re-read


NO_REREAD = Reread()


def read_intent(path: Path) -> dict[str, Any]:
    """An intent file (a re-read's, a removal's: what it does and how far it got); empty when none."""
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def write_intent(corpus: Corpus, rel: str, intent: dict[str, Any]) -> None:
    """The intent file `rel` written whole or not at all (a kill leaves the last one), and made the corpus's before
    the step it announces (`Corpus.persist`); an empty one removes the file."""
    path = corpus.root / rel
    if not intent:
        path.unlink(missing_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(intent, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    corpus.persist(rel)


def plan(
    output: Path, readings: dict[str, SourceReading], held: Callable[[], dict[str, tuple[int, int]]], asked: Reread
) -> list[str]:
    """The sources this run re-reads, in the spec's order: those asked for, those whose reading changed when
    `asked.changed`, and an unfinished re-read (its reading unchanged since). Raises `ReadingsChangedError` for a
    changed reading not asked for, and `RereadError` for a name no source has. `held` counts each source's episodes
    and quarantine rows (called only when a recorded reading differs: an unchanged rerun pays nothing for it)."""
    unknown = [n for n in asked.names if n not in readings]
    if unknown:
        raise RereadError(f"--reread {' '.join(unknown)}: no such source in the spec; sources: {sorted(readings)}")
    pending = read_intent(output / INTENT).get("sources", {})
    for name, fingerprint in pending.items():
        now = readings.get(name)
        if now is None or now.fingerprint != fingerprint["to"]:
            raise RereadError(
                f"a re-read of source {name} to reading {fingerprint['to']} is unfinished, and the spec now "
                f"{'has no such source' if now is None else f'gives {now.fingerprint}'}: restore the spec it was "
                "started with and rerun, to finish it"
            )
    before = recorded(output)
    differs = [n for n, r in readings.items() if n in before and before[n] != r]
    found = changed(output, {n: readings[n] for n in differs}, held()) if differs else []
    asked_for = {*asked.names, *pending}
    stopping = [c for c in found if not (c.code_only or asked.changed or c.source in asked_for)]
    if stopping:
        raise ReadingsChangedError(stopping, asked.spec)
    chosen = {*asked.names, *pending, *(c.source for c in found if asked.changed)}
    return [n for n in readings if n in chosen]


def reread(
    corpus: Corpus,
    given: JobSpec,
    names: list[str],
    readings: dict[str, SourceReading],
    ingest: Callable[[JobSpec], Any],
) -> dict[str, Any]:
    """Each of `names` re-read into `corpus` (see the module): `ingest(spec)` runs the nested ingest of one source
    and answers its report; returns each nested run's report (a resumed swap has none)."""
    output = corpus.root
    intent = read_intent(output / INTENT) or {"token": uuid.uuid4().hex[:12], "sources": {}}
    reports: dict[str, Any] = {}
    for name in names:
        entry = intent["sources"].setdefault(name, {"to": readings[name].fingerprint, "phase": "read"})
        write_intent(corpus, INTENT, intent)
        stage = f"{REREAD_DIR}/{name}"
        if entry["phase"] == "read":
            source = next(s for s in given.sources if s.name == name)
            reports[name] = ingest(given.model_copy(update={"output": corpus.where_of(stage), "sources": [source]}))
            entry["phase"] = "swap"
            write_intent(corpus, INTENT, intent)
        if entry["phase"] == "swap":
            swap_in(corpus, name, stage)
            entry["phase"] = "rows"
            write_intent(corpus, INTENT, intent)
        if entry["phase"] == "rows":
            with Corpus.read(corpus.where_of(stage), corpus.options) as staged:
                replace_rows(corpus, name, staged.root, f"reread-{_safe(name)}-{intent['token']}-")
            entry["phase"] = "catalog"
            write_intent(corpus, INTENT, intent)
    settle(corpus, names, INTENT, [f"{REREAD_DIR}/{name}" for name in names])
    return reports


def settle(corpus: Corpus, names: list[str], intent: str, staged: list[str]) -> None:
    """The last steps of a re-read or a removal of `names`: the catalog rebuilt and made the corpus's with the
    readings' history, the old datasets and the trees `staged` dropped, the intent file `intent` cleared."""
    from jobs.catalog.build import rebuild_catalog  # imported when there is a catalog to rebuild

    rebuild_catalog(corpus)
    corpus.persist("catalog")
    corpus.persist(READINGS)
    for rel in [*(_retired(name) for name in names), *staged]:
        corpus.drop_tree(rel)
    with contextlib.suppress(OSError):  # a folder's, empty once every re-read is in
        (corpus.root / REREAD_DIR).rmdir()
    write_intent(corpus, intent, {})


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def _retired(name: str) -> str:
    return f"{REREAD_DIR}/{name}.retired"


def swap_in(corpus: Corpus, name: str, stage: str) -> None:
    """The source's datasets replaced by those of the corpus `stage` (a folder of the corpus; none: removed), once."""
    corpus.replace_tree(f"{DATASETS_DIR}/{name}", f"{stage}/{DATASETS_DIR}/{name}", aside=_retired(name))


def replace_rows(corpus: Corpus, name: str, stage: Path, prefix: str) -> None:
    """The quarantine parts of the local corpus folder `stage` in (named `prefix...`), then the source's other rows
    out; its findings file replaced by the stage's; both made the corpus's."""
    output = corpus.root
    target = output / QUARANTINE_DIR
    target.mkdir(parents=True, exist_ok=True)
    for part in parquet_files(stage, QUARANTINE_DIR):
        write_parquet_atomic(pq.read_table(part), target / f"{prefix}{part.name}")
    drop_quarantine_rows(output, lambda t: pc.equal(t["source"], name), skip=lambda p: p.name.startswith(prefix))
    new, old = findings_file(stage, name), findings_file(output, name)
    if new.is_file():
        old.parent.mkdir(parents=True, exist_ok=True)
        tmp = old.with_name(f".{old.name}.tmp")
        shutil.copyfile(new, tmp)
        os.replace(tmp, old)
    else:
        old.unlink(missing_ok=True)
    corpus.persist(QUARANTINE_DIR)
    corpus.persist(old.relative_to(output).as_posix())
