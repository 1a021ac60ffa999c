"""The dry run's sample (issue 97 item 5): one raw episode of a source read as a run reads it, and what the run would
make of it, in the words its summary and quarantine row would use.

A plan that only discovers promised "5 of 5 to write" for five UR5e logs whose preset's `timestamp` column was absent;
the run then quarantined all five at their read (newcomer review 10, F2). So `eidata ingest SPEC --dry-run` reads the
first episode of each source still to write through the run's own steps up to the judging (`ingest.steps.JUDGED`,
what `eidata trace` runs without `--write`) in a parse process under the job's memory limit, and files a failure as
the worker files it (`jobs.ingest.worker.failed`). The write step is not run (it encodes every camera frame: minutes
for a long episode), so the cameras' own verdicts are left to the run, and the sample says so.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from adapters.hostile.isolated import failure
from adapters.hostile.sandbox import Killed, answer
from ingest.episode import Judged, JudgedEpisode
from ingest.steps import JUDGED
from jobs.ingest.task import EpisodeTask, Rejected, TaskSettings, WorkItem
from jobs.ingest.worker import Attempt, EnvironmentFault, died, failed, quarantined_parts, run_steps
from jobs.spec_models import JobSpec
from schemas.faults import environment_fault
from schemas.storage import DryRunWriteError
from schemas.tiers import QualityTier


@dataclass(frozen=True)
class Sampled:
    """What a run would make of one raw episode: quarantined whole (`rejected`, the run's row), or its episodes kept
    (`kept`: one line each, its frames and tier) with the parts quarantined beside them (`parts`); or the
    environment failed its read (`environment`: a run waits that out and quarantines nothing)."""

    uid: str
    rejected: Rejected | None = None
    kept: tuple[tuple[str, str], ...] = ()  # (uid, its frames and tier) of each episode kept
    parts: tuple[Rejected, ...] = ()
    environment: str | None = None


def sample(spec: JobSpec, item: WorkItem) -> Sampled:
    """`item` through the run's steps up to the judging in a parse process under the job's memory limit (see the
    module); a parse process that dies is filed as the run files the same death twice."""
    mib = spec.parallelism.task_memory_mib
    try:
        return answer(_sampled, spec, item, mib=mib, what=f"episode {item.uid}")
    except Killed as e:  # the run tries once more, then quarantines it so
        return Sampled(item.uid, rejected=died(item.uid, e))


def _sampled(spec: JobSpec, item: WorkItem) -> Sampled:
    with tempfile.TemporaryDirectory(prefix="eidata-sample-") as tmp:  # the task's output, never written (no write)
        task = EpisodeTask(item, TaskSettings.of(spec, Path(tmp)))
        run = Attempt(task, [])
        try:
            *_, (_, value) = run_steps(run, JUDGED)
        except DryRunWriteError:
            raise  # an adapter that writes under a guarded folder: the dry run's own failure, not the episode's
        except BaseException as e:
            if not failure(e):
                raise
            try:
                return Sampled(item.uid, rejected=failed(task, run.stage, e))
            except EnvironmentFault as fault:
                return Sampled(item.uid, environment=environment_fault(fault) or str(fault))
    if isinstance(value, Rejected):  # a step kept no episode
        return Sampled(item.uid, rejected=value)
    assert isinstance(value, Judged), value
    kept = tuple((ep.uid, _kept(ep)) for ep in value.episodes)
    return Sampled(item.uid, kept=kept, parts=quarantined_parts(item.uid, value))


def _kept(ep: JudgedEpisode) -> str:
    """One kept episode: its frames and tier, and below high the first verdict that set it (`eidata trace` lists
    them all)."""
    tier = ep.tier
    why = next((v.reason for v in ep.verdicts if v.tier is tier), None) if tier is not QualityTier.high else None
    return f"{ep.num_frames} frames, tier {tier.value}" + (f" ({why})" if why else "")


def sample_lines(s: Sampled, todo: int) -> list[str]:
    """The sample as the dry run prints it, under its source's plan; `todo` the source's episodes still to write."""
    head = f"  sample (1 of {todo} to write, read as a run reads it): {s.uid}"
    if s.environment is not None:
        return [f"{head}: the environment failed its read (a run waits it out, quarantines nothing): {s.environment}"]
    if (r := s.rejected) is not None:
        where = "".join(f" {k} {v}" for k, v in (("file", r.file), ("field", r.field)) if v)
        return [f"{head}: would be quarantined at {r.stage} ({r.error_class}{where}): {r.message}"]
    cameras = "its cameras are judged only as a run writes them"
    if len(s.kept) == 1 and s.kept[0][0] == s.uid and not s.parts:  # the raw episode kept whole
        return [f"{head}: would be written: {s.kept[0][1]}; {cameras}"]
    out = [f"{head}: would be written as {len(s.kept)} episode(s); {cameras}"]
    out += [f"    {uid}: {kept}" for uid, kept in s.kept]
    return out + [f"    part quarantined {p.uid} ({p.stage}): {p.message}" for p in s.parts]
