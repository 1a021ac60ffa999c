"""A source re-read under a changed spec, exactly once (issue 98 item 3), and the check that stops a run whose spec
changed a source's reading unless the user asked for the re-read (item 2).

A re-read is the ordinary ingest of that one source into a corpus of its own, `job/reread/<source>/` (the same steps,
the same exactly-once resume: a kill there costs the episodes in flight), then a swap into the corpus, step by step,
each step idempotent and its progress in `job/reread.json`, so that a rerun of the same command after a kill anywhere
ends where an uninterrupted re-read ends, byte for byte:

1. `read`: the nested ingest (resumed by a rerun like any ingest);
2. `swap`: the source's datasets (their latents and captions inside them) moved aside to `job/reread/<source>.retired`
   (a marker folder when it had none), then the new ones moved in: renames in one file system;
3. `rows`: the new reading's quarantine parts copied in under names of this re-read (`reread-<source>-<token>-...`),
   then every other row of the source dropped from the corpus's parts (rewritten atomically, an emptied one removed),
   and the source's findings file replaced by the re-read's;
4. `catalog`: the catalog rebuilt from the datasets' meta;
5. the old datasets and the re-read's corpus removed, the intent cleared.

Until step 2 the old episodes are the corpus's and the catalog is consistent with them; after step 4 it is
consistent with the new ones. A kill between 2 and 4 leaves a catalog that names the old episodes until the rerun.
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

from adapters.storage.root import Root
from jobs.catalog.parts import drop_quarantine_rows, write_parquet_atomic
from jobs.catalog.source_findings import findings_file
from jobs.ingest.readings import changed, recorded
from jobs.spec_models import JobSpec, PreparedSpec
from schemas.corpus import DATASETS_DIR, JOB_DIR, QUARANTINE_DIR, parquet_files
from schemas.reading import ReadingChange, SourceReading

REREAD_DIR = f"{JOB_DIR}/reread"
INTENT = f"{JOB_DIR}/reread.json"
PHASES = ("read", "swap", "rows", "catalog")


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


def in_place_refusal(corpus: Any, what: str) -> str | None:
    """Why `what` (a re-read's swap, a removal: folders renamed in the corpus) cannot be done on the corpus at `corpus`:
    a bucket's publish carries commits, not renames; the way round named. None for a folder."""
    why = Root(str(corpus)).refusal("paths", what)
    return None if why is None else f"{why}; copy the corpus to a folder (`aws s3 sync`), do it there, sync it back"


def read_intent(path: Path) -> dict[str, Any]:
    """An intent file (a re-read's, a removal's: what it does and how far it got); empty when none."""
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def write_intent(path: Path, intent: dict[str, Any]) -> None:
    """`intent` written whole or not at all (a kill leaves the last one); an empty one removes the file."""
    if not intent:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(intent, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def plan(
    output: Path,
    readings: dict[str, SourceReading],
    held: Callable[[], dict[str, tuple[int, int]]],
    asked: Reread,
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
    job: PreparedSpec,
    given: JobSpec,
    names: list[str],
    readings: dict[str, SourceReading],
    ingest: Callable[[JobSpec], Any],
    rebuild: Callable[[], None],
) -> dict[str, Any]:
    """Each of `names` re-read (see the module): `ingest(spec)` runs the nested ingest of one source and answers its
    report, `rebuild()` rebuilds the corpus's catalog; returns each nested run's report (a resumed swap has none)."""
    output = job.output
    intent = read_intent(output / INTENT) or {"token": uuid.uuid4().hex[:12], "sources": {}}
    reports: dict[str, Any] = {}
    for name in names:
        entry = intent["sources"].setdefault(name, {"to": readings[name].fingerprint, "phase": "read"})
        write_intent(output / INTENT, intent)
        stage = output / REREAD_DIR / name
        if entry["phase"] == "read":
            source = next(s for s in given.sources if s.name == name)
            reports[name] = ingest(given.model_copy(update={"output": stage, "sources": [source]}))
            entry["phase"] = "swap"
            write_intent(output / INTENT, intent)
        if entry["phase"] == "swap":
            swap_in(output, name, stage)
            entry["phase"] = "rows"
            write_intent(output / INTENT, intent)
        if entry["phase"] == "rows":
            replace_rows(output, name, stage, f"reread-{_safe(name)}-{intent['token']}-")
            entry["phase"] = "catalog"
            write_intent(output / INTENT, intent)
    rebuild()
    for name in names:
        shutil.rmtree(output / REREAD_DIR / f"{name}.retired", ignore_errors=True)
        shutil.rmtree(output / REREAD_DIR / name, ignore_errors=True)
    with contextlib.suppress(OSError):  # empty once every re-read is in
        (output / REREAD_DIR).rmdir()
    write_intent(output / INTENT, {})
    return reports


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def swap_in(output: Path, name: str, stage: Path) -> None:
    """The source's datasets aside (a marker when none), then the re-read's in their place: each rename done once."""
    live, new = output / DATASETS_DIR / name, stage / DATASETS_DIR / name
    retired = output / REREAD_DIR / f"{name}.retired"
    if not retired.exists():
        retired.parent.mkdir(parents=True, exist_ok=True)
        if live.exists():
            live.rename(retired)
        else:
            retired.mkdir(parents=True)
    if new.exists():
        live.parent.mkdir(parents=True, exist_ok=True)
        new.rename(live)


def replace_rows(output: Path, name: str, stage: Path, prefix: str) -> None:
    """The re-read's quarantine parts in (named `prefix...`), then the source's other rows out; its findings file
    replaced by the re-read's."""
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
