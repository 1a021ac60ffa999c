"""`eidata ingest SPEC --dry-run`: what the job would read and write, nothing written and Ray not started. Each source
is discovered by its adapter in this process, as a run's discovery task does without its work file: the episodes found
per dataset, those discovery flags unreadable, those the corpus already holds (a run skips them), and the adapter's
findings. Then the first episode of each source still to write is read as a run reads it, and what the run would make
of it is said (`sample`: written, or quarantined and why); `--no-sample` leaves that out. The corpus and
every local source root refuse writes meanwhile (`jobs.runtime.dry_run`).

The dry run's sample (issue 97 item 5): one raw episode of a source read as a run reads it, and what the run would
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
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from adapters import get_adapter
from adapters.base import EpisodeRef
from adapters.hostile.isolated import failure
from adapters.hostile.sandbox import Killed, answer, answer_refusing
from adapters.lerobot_format.files import read_jsonl
from adapters.storage.root import Root
from ingest.episode import Judged, JudgedEpisode
from ingest.steps import JUDGED
from jobs.catalog.parts import parquet_files
from jobs.ingest import reread as rereads
from jobs.ingest.discovery import source_findings
from jobs.ingest.readings import held_counts, readings_of
from jobs.ingest.reread import NO_REREAD, Reread
from jobs.ingest.task import EpisodeTask, Rejected, TaskSettings, WorkItem
from jobs.ingest.worker import Attempt, EnvironmentFault, died, failed, quarantined_parts, run_steps
from jobs.runtime.dry_run import refusing_writes
from jobs.spec_models import JobSpec, SourceSpec
from schemas.corpus import QUARANTINE_DIR, EpisodeLineage, dataset_dir, episode_uid
from schemas.faults import environment_fault
from schemas.findings import SourceFinding
from schemas.lerobot import EPISODES_PATH
from schemas.storage import DryRunWriteError
from schemas.tiers import QualityTier


@dataclass
class SourcePlan:
    source: SourceSpec
    found: Counter[str] = field(default_factory=Counter)  # subset -> episodes found
    flagged: Counter[str] = field(default_factory=Counter)  # subset -> of those, flagged unreadable by discovery
    done: Counter[str] = field(default_factory=Counter)  # subset -> of those, already in the corpus
    first_flag: str | None = None
    error: str | None = None  # the discovery itself failed
    findings: list[SourceFinding] = field(default_factory=list)
    first: WorkItem | None = None  # the first episode still to write, in discovery order (the sample's)
    sampled: Sampled | None = None  # what a run would make of `first`, once read

    @property
    def todo(self) -> int:
        """Episodes a run would read: found, neither flagged nor already in the corpus."""
        return sum(n - self.done[s] - self.flagged[s] for s, n in self.found.items())


def _quarantined(output: Path, source: str) -> set[str]:
    """The uids of the source's quarantine rows: a run counts them done and skips them, as their episodes written."""
    out: set[str] = set()
    for part in parquet_files(output, QUARANTINE_DIR):
        out.update(
            pq.read_table(part, columns=["episode_uid"], filters=[("source", "=", source)])["episode_uid"].to_pylist()
        )
    return out


def _written(output: Path, source: str, subset: str) -> set[str]:
    """The uids (and raw uids) of the episodes the corpus already holds in that dataset."""
    path = output / dataset_dir(source, subset) / EPISODES_PATH
    if not path.is_file():
        return set()
    out = set()
    for _, line in read_jsonl(path):
        lineage = EpisodeLineage.of(line)
        out |= {u for u in (lineage.episode_uid, lineage.raw_uid) if u}
    return out


def plan_source(source: SourceSpec, output: Path | None) -> SourcePlan:
    """In the parse process: the source discovered as a run's discovery task discovers it; a failure is raised, for
    `plan_ingest` to refuse the file it names and ask again, as the run does (`answer_refusing`)."""
    plan = SourcePlan(source)
    adapter = get_adapter(source.adapter, source.options, source.storage)
    refs: list[EpisodeRef] = list(adapter.discover(source.root))
    written: dict[str, set[str]] = {}
    quarantined = _quarantined(output, source.name) if output is not None else set()
    for k, ref in enumerate(refs):
        plan.found[ref.subset] += 1
        held = False
        if output is not None:
            done = written.setdefault(ref.subset, _written(output, source.name, ref.subset))
            uid = episode_uid(source.name, ref.subset, ref.raw_id)  # as a run keys it
            held = uid in done or uid in quarantined  # a run skips both (issue 98 item 6)
            plan.done[ref.subset] += held
        if ref.error is not None:
            plan.flagged[ref.subset] += 1
            plan.first_flag = plan.first_flag or f"{ref.raw_id}: {ref.error}"
        elif not held and plan.first is None:
            plan.first = WorkItem(k, source, ref)
    plan.findings = source_findings(source, adapter.findings(), len(refs))
    return plan


def plan_ingest(spec: JobSpec, *, sampled: bool = True, reread: Collection[str] = ()) -> list[SourcePlan]:
    """Every source's plan, its corpus and local roots refusing writes while adapters discover, each discovery in a
    parse process under the memory limit as a run's discovery task is (`adapters.hostile.sandbox`); with `sampled`, the
    first episode each source has to write read as a run reads it (`sample`); the sources of `reread` planned as a
    re-read reads them: every raw episode again, none skipped. A file whose parse fails or is killed is refused and
    the source discovered again, its episodes flagged naming it, as a run's discovery does; a discovery that still
    fails is said as the run quarantines the source."""
    output = Root.folder_of(spec.output)
    guarded = Root.local_folders([spec.output, *(s.root for s in spec.sources)])
    plans = []
    with refusing_writes(guarded):
        for s in spec.sources:
            mib = spec.parallelism.task_memory_mib
            try:
                held = None if s.name in reread else output
                plans.append(answer_refusing(plan_source, s, held, mib=mib, what=f"{s.name}: discovery"))
            except DryRunWriteError:
                raise  # an adapter that writes under a guarded folder: the dry run's own failure, not the source's
            except Exception as e:  # a run quarantines the source with this error and goes on
                why = str(e) if isinstance(e, Killed) else f"{type(e).__name__}: {e}"
                plans.append(SourcePlan(s, error=why, findings=source_findings(s, [], 0, failure=why)))
                continue
            if sampled and plans[-1].first is not None:
                plans[-1].sampled = sample(spec, plans[-1].first)
    return plans


def render(spec: JobSpec, plans: list[SourcePlan]) -> str:
    lines = [f"ingest dry run -> {spec.output}"]
    for p in plans:
        s = p.source
        head = f"source {s.name} (adapter {s.adapter}, root {s.root})"
        if p.error is not None:
            lines.append(f"{head}: discovery fails, a run quarantines the source: {p.error}")
            continue
        total, flagged = sum(p.found.values()), sum(p.flagged.values())
        lines.append(f"{head}: {total} episodes found in {len(p.found)} dataset(s), {flagged} flagged unreadable")
        for subset, n in sorted(p.found.items()):
            todo = n - p.done[subset] - p.flagged[subset]
            kept = f", {p.done[subset]} already done (skipped: written or quarantined)" if p.done[subset] else ""
            bad = f", {p.flagged[subset]} flagged (quarantined)" if p.flagged[subset] else ""
            lines.append(f"  to write  {dataset_dir(s.name, subset)}  {todo} of {n} episodes{kept}{bad}")
        if p.first_flag:
            lines.append(f"  first flagged: {p.first_flag}")
        if p.sampled is not None:
            lines += sample_lines(p.sampled, p.todo)
        lines += [f"  {f.severity:8s}{f.code}: {f.message}" for f in p.findings]
    found = sum(sum(p.found.values()) for p in plans)
    read = sum(p.sampled is not None for p in plans)
    said = f"{read} episode(s) read as a sample, one per source" if read else "no episode read"
    lines.append(
        f"ingest: {len(plans)} source(s), {found} episodes found; dry run: {said}, nothing written, Ray not started"
    )
    return "\n".join(lines)


def dry_run_ingest(spec: JobSpec, *, sampled: bool = True, reread: Reread = NO_REREAD) -> int:
    """Print the plan; exit 0 (a source whose discovery fails, or whose sample a run would quarantine, is said, as a
    run would quarantine it), or 2 where the run would stop before any work: a spec that changes how a source the
    corpus holds was read, not asked to re-read (said as the run says it: `jobs.ingest.reread`)."""
    output = Root.folder_of(spec.output)
    readings = readings_of(spec)
    try:
        names = (
            []
            if output is None
            else rereads.plan(output, readings, lambda: held_counts(output, list(readings)), reread)
        )
    except rereads.RereadError as e:
        print(render(spec, plan_ingest(spec, sampled=sampled)))
        print(f"a run stops here, exit 2: {e}")
        return 2
    lines = render(spec, plan_ingest(spec, sampled=sampled, reread=names))
    if names:
        held = held_counts(output, names) if output is not None else {}
        for n in names:
            episodes, rows = held.get(n, (0, 0))
            lines += f"\nre-read {n}: its {episodes} episodes and {rows} quarantine rows replaced by the plan above"
    print(lines)
    return 0


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
