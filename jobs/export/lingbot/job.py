"""`eidata export ROOT --format lingbot-va --out DIR`: each canonical dataset as a LeRobot v2.1 dataset LingBot-VA's
post-training reads (seed 004, "Post-training"), with Wan2.2 VAE latents per segment, on Ray.

Per dataset `ROOT/datasets/<rel>` the export writes `DIR/datasets/<rel>`:
- `data/`: each episode's frame table with `action` as the 30-dim LingBot-VA vector (`ingest.lingbot.action`), and
  `info.json`'s `action` feature (names, mask of the real dims) and per-episode stats recomputed for it; videos are
  hard links (copies across file systems); tasks and other stats are the source's.
- `meta/episodes.jsonl`: every episode gets `action_config` segments: the source's own (AgiBot's, English text where
  the source has it), else one segment [0, length) with the episode's caption (caption lineage), else its task.
- `latents/chunk-XXX/<video_key>/episode_{index:06d}_{start}_{end}.pth`: one file per segment and camera, exactly the
  README's keys (`schemas.lingbot.LatentRecord`), frames every `ori_fps / fps` of the segment trimmed to 1 + 4k.
Segments shorter than 1 + 4 sampled frames get no latent file (LingBot-VA's loader skips a segment without one).
`DIR/empty_emb.pt` holds the text embedding of "" (LingBot-VA's `empty_emb_path`). Datasets without any EEF or
gripper dim (actionless video) are not exported.

Resumable: an existing frame table, video link or latent file that matches the plan (same text, frames, shapes) is
kept, meta files are rewritten only when their bytes change, so a finished export's rerun writes nothing. The
settings (fps, size, text length, model fingerprints) are kept in `DIR/job/lingbot_export.json`; a rerun with other
settings is refused rather than mixing latents of two encoders.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.encoders.wan import WanModelError
from ingest.files.atomic import write_text_atomic
from ingest.lingbot.dataset import NotCanonicalError
from ingest.progress import Progress
from jobs.export.lingbot.plan import (
    EMPTY_EMB,
    FORMAT,
    DatasetPlan,
    DatasetTally,
    ExportError,
    LingbotExportSpec,
    Models,
    check_models,
    check_settings,
    plan_dataset,
    settings_record,
    work_item,
)
from jobs.runtime.job_lock import JobLock, JobLockedError
from jobs.runtime.options import Opt, job_values
from jobs.runtime.ray_pool import PoolError, place_actors
from jobs.runtime.stage import ADDRESS, Stage, Usage, placement_options, ray_session
from schemas.canonical import ACTION
from schemas.corpus import find_datasets
from schemas.lerobot import (
    EPISODES_PATH,
    EPISODES_STATS_PATH,
    INFO_PATH,
    TASKS_PATH,
    EpisodeStatsEntry,
    FeatureStats,
    dump_info,
    dump_lines,
    load_entries,
)

log = logging.getLogger(__name__)


@dataclass
class ExportReport:
    out: Path
    tallies: dict[str, DatasetTally] = field(default_factory=dict)
    seconds: float = 0.0
    dry_run: bool = False  # `written` then counts the latent files a real run would make

    @property
    def errors(self) -> int:
        return sum(len(t.errors) for t in self.tallies.values())

    def table(self) -> str:
        rows = [f"{'dataset':36s} {'episodes':>8s} {'segments':>8s} {'written':>8s} {'kept':>6s} {'short':>6s}  note"]
        for rel, t in self.tallies.items():
            note = t.skipped or (f"{len(t.errors)} error(s): {t.errors[0]}" if t.errors else "")
            rows.append(f"{rel:36s} {t.episodes:8d} {t.segments:8d} {t.written:8d} {t.kept:6d} {t.short:6d}  {note}")
        dry = " (dry run: nothing written; 'written' = to make)" if self.dry_run else ""
        rows.append(f"{FORMAT} -> {self.out}: {self.errors} error(s), {self.seconds:.1f} s{dry}")
        return "\n".join(rows)


# -- meta -----------------------------------------------------------------------------------------------------------
def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        write_text_atomic(path, text)


def write_meta(plan: DatasetPlan) -> None:
    """The exported dataset's meta; info.json last, since its presence makes the folder a dataset to loaders."""
    stats = []
    for e in load_entries(plan.src / EPISODES_STATS_PATH, EpisodeStatsEntry):
        e.stats[ACTION] = FeatureStats.model_validate(plan.action_stats[e.episode_index])
        stats.append(e)
    _write_if_changed(plan.out / TASKS_PATH, (plan.src / TASKS_PATH).read_text(encoding="utf-8"))
    _write_if_changed(plan.out / EPISODES_PATH, dump_lines(plan.entries))
    _write_if_changed(plan.out / EPISODES_STATS_PATH, dump_lines(stats))
    _write_if_changed(plan.out / INFO_PATH, dump_info(plan.info_out))


# -- the job --------------------------------------------------------------------------------------------------------
def run_lingbot_export(
    spec: LingbotExportSpec, *, address: str | None = None, progress: bool | None = None, dry_run: bool = False
) -> ExportReport:
    t0 = time.perf_counter()
    models = check_models(spec)
    root, out = spec.root.resolve(), spec.out.resolve()
    if out == root or out.is_relative_to(root / "datasets"):
        raise ExportError(f"--out {spec.out} must not be the corpus or inside its datasets/")
    sources = find_datasets(spec.root)
    if not sources:
        raise ExportError(f"no dataset under {spec.root / 'datasets'}")
    report = ExportReport(spec.out, dry_run=dry_run)
    settings = settings_record(spec, models)
    check_settings(spec.out, settings, write=False)
    if dry_run:
        _plan_all(spec, models, sources, report)
        report.seconds = time.perf_counter() - t0
        return report
    spec.out.mkdir(parents=True, exist_ok=True)
    with JobLock(spec.out, "export-lingbot-va"):
        plans, works = _plan_all(spec, models, sources, report)
        for plan in plans:
            if not plan.pending:
                write_meta(plan)
        if works or not (spec.out / EMPTY_EMB).exists():
            by_rel = {p.rel: p for p in plans}

            def accept(result: dict[str, Any]) -> None:
                _accept(by_rel[result["dataset"]], report, result)

            # the settings are recorded once the models have loaded, before anything is encoded with them
            _run_on_ray(spec, models, works, accept, address, progress, lambda: check_settings(spec.out, settings))
        else:
            check_settings(spec.out, settings)
    report.seconds = time.perf_counter() - t0
    return report


def _plan_all(
    spec: LingbotExportSpec, models: Models, sources: list[Path], report: ExportReport
) -> tuple[list[DatasetPlan], list[dict[str, Any]]]:
    """Every dataset's plan and the episodes left to do; a dataset that cannot be exported is tallied as skipped."""
    root = spec.root.resolve()
    plans, works = [], []
    for src in sources:
        rel = src.resolve().relative_to(root).as_posix()
        tally = report.tallies.setdefault(rel, DatasetTally())
        try:
            plan = plan_dataset(src, rel, spec, models, tally)
        except (NotCanonicalError, ValueError) as e:
            tally.skipped = f"skipped: {e}"
            continue
        for entry in plan.entries:
            item = work_item(plan, entry, spec, tally)
            if item is not None:
                works.append(item)
                plan.pending.add(entry.episode_index)
                if report.dry_run:
                    tally.written += len(item["latents"])
        plans.append(plan)
    return plans, works


def _accept(plan: DatasetPlan, report: ExportReport, result: dict[str, Any]) -> None:
    """One episode came back: count it, keep its action stats, and write the dataset's meta after its last one."""
    tally = report.tallies[plan.rel]
    ep = result["episode_index"]
    tally.written += result.get("written", 0)
    if result.get("error"):
        tally.errors.append(f"episode {ep}: {result['error']}")
    if result.get("stats") is None:  # no frame table: the dataset cannot be loaded, so its meta is not written
        plan.failed = True
    else:
        plan.action_stats[ep] = result["stats"]
    plan.pending.discard(ep)
    if not plan.pending:
        if plan.failed:
            tally.errors.append("meta not written: an episode's frame table or videos failed")
        else:
            write_meta(plan)


def _run_on_ray(
    spec: LingbotExportSpec,
    models: Models,
    works: list[dict[str, Any]],
    accept: Callable[[dict], None],
    address: str | None,
    progress: bool | None,
    on_ready: Callable[[], None],
) -> None:
    import ray

    from jobs.export.lingbot.work import LatentEncoder, prepare_episode

    with ray_session(address, spec.num_cpus, spec.object_store_mb, preserve_order=None):
        place = place_actors(spec.device, spec.actors, ray.cluster_resources())
        actor_cls = ray.remote(LatentEncoder)
        actors = [
            actor_cls.options(**place.resources).remote(  # type: ignore[attr-defined]
                str(spec.vae),
                str(spec.text_encoder),
                str(models.tokenizer),
                device=place.device,
                text_len=spec.text_len,
                threads=place.threads,
            )
            for _ in range(place.actors)
        ]
        try:
            devices = ray.get([a.ready.remote() for a in actors])
        except ray.exceptions.RayActorError as e:  # a model that fails to load stops the job here, not per episode
            cause = str(e).strip().splitlines()[-1]  # the exception line of the actor's traceback
            raise ExportError(f"the encoder actors did not start: {cause}") from None
        log.info("%d encoder actor(s) on %s", len(actors), ", ".join(devices))
        on_ready()
        if not (spec.out / EMPTY_EMB).exists():
            ray.get(actors[0].write_empty_embedding.remote(str(spec.out / EMPTY_EMB)))
        task = ray.remote(num_cpus=1, max_retries=spec.task_retries)(prepare_episode)
        bar = Progress(len(works), f"export {FORMAT}", unit="ep", enabled=progress)
        pending: dict[Any, dict[str, Any]] = {}

        def collect() -> None:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                item = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as e:  # the task or actor died past its retries: this episode only
                    result = {
                        "dataset": item["dataset"],
                        "episode_index": item["episode_index"],
                        "stats": None,
                        "error": f"worker: {type(e).__name__}: {str(e)[:500]}",
                    }
                accept(result)
                bar.update(1, frames=result.get("frames", 0))

        for i, item in enumerate(works):
            while len(pending) >= spec.max_in_flight:
                collect()
            pending[actors[i % len(actors)].encode.remote(task.remote(item))] = item
        while pending:
            collect()
        bar.close()


def _size(text: str) -> tuple[int, int]:
    h, _, w = text.lower().partition("x")
    return int(h), int(w or h)


# the lingbot-va group of `eidata export`, in the flags' order (root, --out, --dry-run are the command's own)
OPTIONS = (
    Opt(LingbotExportSpec, "vae", help="local Wan2.2 VAE folder (diffusers AutoencoderKLWan; required)"),
    Opt(LingbotExportSpec, "text_encoder", help="local UMT5 encoder folder (required)"),
    Opt(LingbotExportSpec, "tokenizer"),
    Opt(LingbotExportSpec, "fps"),
    Opt(
        LingbotExportSpec,
        ("height", "width"),
        flags=("--size",),
        parse=_size,
        show="{}x{}".format,
        help="frame size HxW, multiples of 16",
    ),
    Opt(LingbotExportSpec, "text_len"),
    Opt(LingbotExportSpec, "cameras"),
    *placement_options(LingbotExportSpec),
    Opt(LingbotExportSpec, "max_in_flight"),
    ADDRESS,
)


def build_spec(args: argparse.Namespace) -> LingbotExportSpec:
    if not getattr(args, "out", None):
        raise Usage(f"eidata export: --format {FORMAT} needs --out DIR")
    values = job_values(args, OPTIONS, LingbotExportSpec)
    return LingbotExportSpec.model_validate({"root": Path(args.root), "out": Path(args.out), **values})


# Exit 0 when every dataset exported fully, 1 when an episode or dataset failed, 2 for a bad call
cli = Stage(
    "export",
    build_spec,
    lambda spec, args: run_lingbot_export(spec, address=args.address, dry_run=bool(getattr(args, "dry_run", False))),
    ExportReport.table,
    lambda report: bool(report.errors),
    usage_errors=(ExportError, WanModelError, PoolError, JobLockedError, ValueError),
)
