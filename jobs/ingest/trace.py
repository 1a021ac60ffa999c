"""`eidata trace SPEC EPISODE`: one raw episode through the ingest steps (`ingest.steps.CHAIN`), what each step
made of it, as lerobot's `step_through` shows one sample after each processor step. The question it answers is the one
every curator asks of the catalog: why is this episode `low` (or gone)? Each verdict is printed with the tier it
allows, in the order the steps appended them, so the first line that lowers is the answer.

Nothing is written to the corpus: the write step runs only with `--write`, into a temporary folder removed after."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters import get_adapter
from adapters.base import RawEpisode
from adapters.hostile.isolated import failure
from adapters.hostile.sandbox import Killed, answer_refusing
from ingest.episode import Kept
from ingest.steps import CHAIN, JUDGED, Encoded
from jobs.ingest.task import EpisodeTask, Rejected, Staged, TaskSettings, WorkItem
from jobs.ingest.worker import MEMORY_LIMIT, Attempt, run_steps
from jobs.runtime.exits import fail
from jobs.spec_models import JobSpec
from schemas.corpus import episode_uid


@dataclass(frozen=True)
class Trace:
    """What `eidata trace` prints, and whether a step refused the episode or a part of it (the exit code: decided by
    the values the steps answered, never by reading the printed text)."""

    lines: list[str]
    refused: bool


class TraceError(Exception):
    """The episode asked for is not in the spec's sources (the message says what was looked at)."""


def find_episode(spec: JobSpec, episode: str, source: str | None = None) -> WorkItem:
    """The raw episode `episode` names, its uid (`source/subset/raw_id`, a `#part` suffix ignored) or its raw id, in
    the spec's sources (or `source` alone): discovered as the ingest job discovers it."""
    wanted = episode.split("#", 1)[0]
    sources = [s for s in spec.sources if source is None or s.name == source]
    if not sources:
        raise TraceError(f"no source named {source!r} in the spec; its sources: {[s.name for s in spec.sources]}")
    for s in sources:
        for k, ref in enumerate(get_adapter(s.adapter, s.options, s.storage).discover(s.root)):
            if wanted in (episode_uid(s.name, ref.subset, ref.raw_id), ref.raw_id):
                return WorkItem(k, s, ref)
    names = ", ".join(s.name for s in sources)
    raise TraceError(f"{episode!r}: no raw episode of source(s) {names} has that uid or raw id")


def describe(step: str, value: Any) -> list[str]:
    """What a step answered, as lines a person reads."""
    if isinstance(value, Rejected):
        where = "".join(f" {k}={v}" for k, v in (("file", value.file), ("field", value.field)) if v)
        return [f"{step}: rejected ({value.error_class}{where}): {value.message}"]
    if isinstance(value, RawEpisode):
        return _raw(step, value)
    if isinstance(value, Kept):
        return _episodes(step, value)
    if isinstance(value, Encoded):
        return [f"{step}: staged {e.dataset} ({e.staged.length} frames)" for e in value.episodes]
    if isinstance(value, Staged):  # the cameras judged on what the write measured: each episode's tier after them
        return [f"{step}: {o.staged.label}: tier {o.tier}, cameras judged" for o in value.episodes] + [
            f"{step}: part quarantined {r.uid} ({r.stage}): {r.message}" for r in value.parts
        ]
    return [f"{step}: {value!r}"]


def _raw(step: str, raw: RawEpisode) -> list[str]:
    width = {k: s.values.shape[1] if s.values.ndim > 1 else 1 for k, s in {**raw.states, **raw.actions}.items()}
    head = f"{step}: {raw.ref.uid}: embodiment {raw.embodiment}, default tier {raw.tier.value}"
    out = [
        f"{head}, native fps {raw.native_fps}",
        f"{step}:   states {[f'{k} [{width[k]}]' for k in raw.states]}",
        f"{step}:   actions {[f'{k} [{width[k]}]' for k in raw.actions]}",
        f"{step}:   cameras {[f'{k} {c.height}x{c.width} ({len(c)} frames)' for k, c in raw.cameras.items()]}",
    ]
    return out + [f"{step}:   {v.tier.value:>10}  {v.code or '-'}: {v.reason}" for v in raw.verdicts]


def _episodes(step: str, result: Kept) -> list[str]:
    out = []
    for ep in result.episodes:
        a, b = ep.span_s
        out.append(
            f"{step}: {ep.uid}: {ep.num_frames} frames ({a:.2f}..{b:.2f} s), {int(ep.mask.sum())} canonical dims, "
            f"tier {ep.tier.value}"
        )
        out += [f"{step}:   {v.tier.value:>10}  {v.code or '-'}: {v.reason}" for v in ep.verdicts]
    return out + [f"{step}: rejected ({r.stage}) {r.note}" for r in result.rejections]


def trace(spec: JobSpec, item: WorkItem, write: bool = False) -> Trace:
    """The lines `eidata trace` prints for `item`: each step's answer, until one rejects or fails."""
    lines = [f"trace of {item.uid} (source {item.source.name}, adapter {item.source.adapter})"]
    refused = False
    with tempfile.TemporaryDirectory(prefix="eidata-trace-") as tmp:
        settings = TaskSettings.of(spec, Path(tmp))  # a write goes here, never to the corpus
        run = Attempt(EpisodeTask(item, settings), [])
        chain = CHAIN if write else JUDGED
        try:
            for step, value in run_steps(run, chain):
                lines += describe(step, value)
                refused = refused or _refuses(value)
        except BaseException as e:  # what the worker would file as this step's rejection: shown, not raised
            if not failure(e):
                raise
            kind = MEMORY_LIMIT if isinstance(e, MemoryError) else type(e).__name__  # past the parse process's limit
            lines.append(f"{run.stage}: failed ({kind}): {getattr(e, 'reason', None) or e}")
            refused = True
    return Trace(lines, refused)


def _refuses(value: Any) -> bool:
    """A step's answer that loses the episode or a part of it (a span, a part quarantined beside kept siblings)."""
    if isinstance(value, Kept):
        return bool(value.rejections)
    return isinstance(value, Rejected) or (isinstance(value, Staged) and bool(value.parts))


def _found(spec: JobSpec, episode: str, source: str | None, write: bool) -> Trace:
    return trace(spec, find_episode(spec, episode, source), write)


def cli_trace(args: Any) -> int:
    from jobs.spec import SpecError, load_spec

    try:  # the source's bytes parsed in a process of its own under the job's memory limit (adapters.hostile.sandbox)
        spec = load_spec(Path(args.spec))
        mib = spec.parallelism.task_memory_mib
        result = answer_refusing(_found, spec, args.episode, args.source, args.write, mib=mib, what="eidata trace")
    except (SpecError, TraceError) as e:
        return fail(2, str(e))
    except Killed as e:
        return fail(1, str(e))
    print("\n".join(result.lines))
    return 1 if result.refused else 0
