"""Finished work kept across a kill: a raw episode's staged result recorded by its worker, adopted by the next run.

Why: commits go in discovery order, so a kill finds finished episodes not yet committed (`parallelism.commit_lag`,
`commit_window`) whose files are whole in staging; recovery used to remove them (review 6: 52 staged episodes thrown
away, 81 of 81 redone).

A worker writes its answer (`Staged`) last, after each staged file was synced, as `job/staged/<key>.json` (atomic):
the answer, the output it was written under, and every staged folder's files with their sizes. A record is adopted
only when all of it holds at restart (each folder there, no live builder holds it, exactly the files recorded at the
sizes recorded), only for a raw episode discovery still has to do, and only after recovery waited out the killed run's
writers; its answer is then committed at its place in discovery order, so the dataset's bytes are an uninterrupted
run's. A commit removes the staged folders it names, so a committed episode's record never passes again; no staged
folder is moved before its commit (an episode routed to a sibling dataset is committed from its subset's staging area,
`ingest.lerobot.routing`), so it is adopted too. Done again instead: a record whose folders are gone, whose files
differ (but for the parquet a commit killed before its journal left, which the commit writes over), that this version
cannot read, or that was made under other settings (`made_by`).
The answer round-trips exactly (`_encode`, `_decode`: NaN, the infinities, -0.0, float digits, key order as
`schemas.lerobot.dump_jsonl_line` writes them; review 7: NaN was recorded as null, and 19 adopted episodes said
`clamp_value: null`); an answer JSON cannot hold is not recorded. Sizes, not digests, are checked: the files were
synced before the record, so a kill leaves them whole or leaves no record; a file changed in place at its own size is
not detected.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json

from adapters.storage.atomic import atomic_write, fsync_path, remove_temp_files
from ingest.lerobot.commit_part import STAGED_PARQUET
from ingest.lerobot.staging import OWNER_FILE, is_stage_in_use
from jobs.ingest.order import Tasks
from jobs.ingest.task import EpisodeResult, EpisodeTask, Staged
from schemas.corpus import JOB_DIR

log = logging.getLogger(__name__)

STAGED_DIR = f"{JOB_DIR}/staged"  # one record per raw episode staged and not yet committed
_RECORD = TypeAdapter(dict[str, Any])
_STAGED = TypeAdapter(Staged)


def _encode(body: dict[str, Any]) -> str:
    """A record as JSON, every value as it is: the answer dumped as Python values (no model's JSON settings, which
    write NaN and the infinities as null), then written with NaN, Infinity and -Infinity as `json.dumps` writes them."""
    return to_json(body, inf_nan_mode="constants").decode()


def _decode(path: Path) -> dict[str, Any]:
    """A record as `_encode` wrote it (the constants read back as the floats they were)."""
    return _RECORD.validate_json(path.read_bytes())


def _path(output: Path, uid: str) -> Path:
    return Path(output) / STAGED_DIR / f"{hashlib.sha256(uid.encode()).hexdigest()[:32]}.json"


def _files(stage_dir: Path) -> dict[str, int]:
    """Each file of a staged folder (its builder's lock file aside) and its size."""
    return {
        str(p.relative_to(stage_dir)): p.stat().st_size
        for p in sorted(stage_dir.rglob("*"))
        if p.is_file() and p.name != OWNER_FILE
    }


def made_by(task: EpisodeTask) -> str:
    """What decides a staged episode's bytes besides its raw episode: its source's spec, the canonicalization and
    the codec, as one digest. A record made under other settings is not adopted (a spec edited between the kill and
    the rerun gives the episodes left to do its new settings)."""
    made = [task.source.model_dump(mode="json"), task.settings.canonicalize.model_dump(mode="json")]
    made.append(task.settings.codec.model_dump(mode="json"))
    return hashlib.sha256(json.dumps(made, sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Record:
    """A recorded answer that holds (`adoptable`), with the settings it was made under (`made_by`)."""

    result: Staged
    made_by: str


def record(output: Path, task: EpisodeTask, result: Staged) -> None:
    """Record `result` of `task` once its files are synced (the worker, last). A record that cannot be written costs
    only the adoption: the raw episode is done again after a kill, as before."""
    try:
        folders = {}
        for ep in result.episodes:
            stage_dir = ep.staged.stage_dir
            folders[str(stage_dir.relative_to(output))] = files = _files(stage_dir)
            for name in files:
                fsync_path(stage_dir / name)
            fsync_path(stage_dir)
        answer = _STAGED.dump_python(result)
        body = {"output": str(output), "folders": folders, "made_by": made_by(task), "result": answer}
        path = _path(output, result.uid)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, _encode(body))
    except (OSError, ValueError) as e:
        log.warning("%s: its staged result was not recorded (a kill now would have it done again): %s", result.uid, e)


def forget(output: Path, uid: str) -> None:
    """The record of `uid` removed: its raw episode is committed or quarantined."""
    _path(output, uid).unlink(missing_ok=True)


def clear(output: Path) -> None:
    """Every record removed (a run's clean end: each was adopted, or names folders that are gone)."""
    shutil.rmtree(Path(output) / STAGED_DIR, ignore_errors=True)


def drop_torn(output: Path) -> None:
    """The temp files of records whose worker was killed mid-write removed (Ray's shutdown ends a worker without its
    `finally`): only once no worker of this run can write, under the job's lock."""
    remove_temp_files(Path(output) / STAGED_DIR)


def adoptable(output: Path) -> dict[str, Record]:
    """The records that hold (see the module), by raw episode uid, rebased onto `output`; the others removed."""
    kept: dict[str, Record] = {}
    for path in sorted((Path(output) / STAGED_DIR).glob("*.json")):
        found, why = _check(output, path)
        if found is None:
            log.warning("%s: not adopted, done again: %s", path.name, why)
            path.unlink(missing_ok=True)
        else:
            kept[found.result.uid] = found
    return kept


def recorded_folders(output: Path) -> frozenset[Path]:
    """Every staged folder a record names, unchecked: the killed run's writers may still hold their datasets until
    the rerun's recovery waits them out, so the records are checked (`adoptable`) after it, and it keeps these."""
    named = set()
    for path in (Path(output) / STAGED_DIR).glob("*.json"):
        with contextlib.suppress(OSError, ValueError, KeyError, ValidationError):
            named |= {Path(output) / rel for rel in _decode(path)["folders"]}
    return frozenset(named)


def kept_folders(adopted: dict[str, Record]) -> frozenset[Path]:
    """The staged folders the adopted records name: recovery leaves them where they are."""
    return frozenset(ep.staged.stage_dir for r in adopted.values() for ep in r.result.episodes)


def _check(output: Path, path: Path) -> tuple[Record | None, str]:
    try:
        body = _decode(path)
        result = _STAGED.validate_python(body["result"])
        was = Path(body["output"])
        rebased = []
        for ep in result.episodes:
            rel = str(ep.staged.stage_dir.relative_to(was))
            stage_dir = Path(output) / rel
            if rel not in body["folders"] or not stage_dir.is_dir():
                return None, f"its staged folder {rel} is gone"
            if is_stage_in_use(stage_dir):
                return None, f"{rel} is held by a live builder"
            files = _files(stage_dir)
            if STAGED_PARQUET not in body["folders"][rel]:  # a commit killed before its journal: it writes it again
                files.pop(STAGED_PARQUET, None)
            if files != body["folders"][rel]:
                return None, f"{rel} does not hold the files recorded"
            rebased.append(replace(ep, staged=ep.staged.model_copy(update={"stage_dir": stage_dir})))
    except (OSError, ValueError, KeyError, ValidationError) as e:
        return None, f"unreadable ({type(e).__name__}: {str(e)[:200]})"
    return Record(replace(result, episodes=tuple(rebased)), str(body["made_by"])), ""


@dataclass(frozen=True, eq=False)  # a handle is itself: hashed by identity, as a Ray ref
class _Adopted:
    """The handle of a task not run: its raw episode's recorded answer."""

    result: Staged


@dataclass
class AdoptingTasks:
    """`inner` (`jobs.ingest.order.Tasks`), except for the raw episodes in `adopted`: those are not run, their
    recorded answer is their result, at their own place in discovery order (`in_order` orders handles, not work)."""

    inner: Tasks
    adopted: dict[str, Record]
    used: list[Staged] = field(default_factory=list)

    def submit(self, task: EpisodeTask) -> Any:
        found = self.adopted.pop(task.uid, None)
        if found is None or found.made_by != made_by(task):  # made under other settings: run again
            return self.inner.submit(task)
        self.used.append(found.result)
        return _Adopted(found.result)

    def wait(self, handles: list[Any]) -> list[Any]:
        return [h for h in handles if isinstance(h, _Adopted)] or self.inner.wait(handles)

    def get(self, handle: Any) -> EpisodeResult:
        return handle.result if isinstance(handle, _Adopted) else self.inner.get(handle)

    def report(self) -> None:
        """The log line of what was adopted (`benchmarks/kill_resume.py` reads its count)."""
        if self.used:
            episodes = sum(len(r.episodes) for r in self.used)
            log.warning(
                "adopted %d staged episodes of %d raw episodes a killed run had finished: committed, not done again",
                episodes,
                len(self.used),
            )
