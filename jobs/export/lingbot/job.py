"""`eidata export ROOT --format lingbot-va --out DIR`: each canonical dataset as a LeRobot v2.1 dataset LingBot-VA's
post-training reads (seed 004, "Post-training"), with Wan2.2 VAE latents per segment, on Ray (jobs/export/README.md,
"LingBot-VA" and "Buckets").

`action` is the 30-dim LingBot-VA vector (`ingest.lingbot.action`); a latent file per segment and camera holds exactly
the README's keys (`schemas.lingbot.LatentRecord`). A segment shorter than 1 + 4 sampled frames gets none (LingBot-VA's
loader skips a segment without one). Datasets without any EEF or gripper dim (actionless video) are not exported.
Resumable: what matches the plan is kept and meta files are rewritten only when their bytes change, so a finished
export's rerun writes nothing; a rerun with other settings than `DIR/job/lingbot_export.json` is refused rather than
mixing latents of two encoders. A bucket output gets the settings record and `empty_emb.pt` first, each dataset once
its meta is written, its completion record last (`Done`).
"""

from __future__ import annotations

import json
import logging
import pickle
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from adapters.lerobot_format.files import load_entries
from adapters.storage.atomic import atomic_write, remove_temp_files
from adapters.storage.corpus import Corpus
from adapters.storage.root import Root
from adapters.storage.tree import Tree
from ingest.encoders.wan_config import WanModelError
from ingest.lerobot.settled import settled_datasets
from ingest.lingbot.dataset import NotCanonicalError
from jobs.export.lerobot_v3.job import fingerprint
from jobs.export.lingbot.plan import (
    EMPTY_EMB,
    FORMAT,
    SETTINGS_PATH,
    DatasetPlan,
    DatasetTally,
    ExportError,
    Models,
    check_models,
    check_settings,
    plan_dataset,
    portable,
    settings_record,
    work_item,
)
from jobs.export.lingbot.spec import LingbotExportSpec, build_spec
from jobs.runtime.job_lock import JobLock, JobLockedError
from jobs.runtime.ray_pool import place_actors, ray_session
from jobs.runtime.stage import Stage, drain
from schemas.canonical import ACTION
from schemas.lerobot import (
    EPISODES_PATH,
    EPISODES_STATS_PATH,
    INFO_PATH,
    TASKS_PATH,
    EpisodeStatsEntry,
    FeatureStats,
    dump_info,
    dump_lines,
)
from schemas.storage import MARKER, SOURCE_KEY, StorageError, StorageOptions

log = logging.getLogger(__name__)

LOST = "worker: its Ray task failed past its retries"


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
        atomic_write(path, text)


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
    spec: LingbotExportSpec,
    *,
    address: str | None = None,
    progress: bool | None = None,
    dry_run: bool = False,
    storage: StorageOptions | None = None,
) -> ExportReport:
    """The export of `spec`; ROOT and --out may be bucket URLs (`storage`: their options, else the AWS environment),
    each opened through its handle (a dry run's output only read)."""
    t0 = time.perf_counter()
    models = check_models(spec)
    root, out = str(Root(spec.root).where), str(Root(spec.out).where)
    if out == root or out == f"{root}/datasets" or out.startswith(f"{root}/datasets/"):
        raise ExportError(f"--out {spec.out} must not be the corpus or inside its datasets/")
    with (
        Corpus.read(spec.root, storage, meta=True) as corpus,
        Tree.open(spec.out, storage, f"export-{FORMAT}", dry_run=dry_run) as tree,
    ):
        local = spec.model_copy(update={"root": corpus.root, "out": tree.root})
        sources = settled_datasets(local.root)
        if not sources:
            raise ExportError(f"no dataset under {local.root / 'datasets'}")
        report = ExportReport(spec.out, dry_run=dry_run)
        settings = settings_record(local, models)
        for rel in (SETTINGS_PATH, EMPTY_EMB):  # so that other settings are refused, and a run with nothing left loads
            tree.fetch(rel)  # no model
        check_settings(local.out, settings, write=False)
        done = Done(tree, json.dumps({"settings": portable(settings), "cameras": local.cameras}, sort_keys=True))
        if dry_run:  # tallied dataset by dataset, no plan kept: one dataset's entries alive at a time
            _plan_all(local, models, corpus, sources, report, done, keep=False)
        else:
            local.out.mkdir(parents=True, exist_ok=True)
            with JobLock(local.out, "export-lingbot-va"):
                plans, works = _plan_all(local, models, corpus, sources, report, done)
                for plan in plans:
                    if not plan.pending:
                        write_meta(plan)
                        done.publish(plan)
                if works or not (local.out / EMPTY_EMB).exists():
                    by_rel = {p.rel: p for p in plans}

                    def accept(result: dict[str, Any]) -> None:
                        _accept(by_rel[result["dataset"]], report, result, done.publish)

                    # the settings are recorded once the models have loaded, before anything is encoded with them
                    try:
                        _run_on_ray(local, models, works, accept, address, progress, settings)
                    finally:  # Ray is down: what a worker its shutdown ended (no `finally` runs) was writing
                        remove_temp_files(local.out, "**/*")
                else:
                    check_settings(local.out, settings)
                done.top()
    report.seconds = time.perf_counter() - t0
    return report


class Done:
    """What the output `tree` holds finished: per dataset a completion record (`MARKER`: a fingerprint of the
    settings and cameras, `base`, and the source's meta) put after the dataset's files, which a bucket's needs and a
    folder's does not (its files are kept and resumed one by one: `Tree.publish`)."""

    def __init__(self, tree: Tree, base: str) -> None:
        self.tree, self.base = tree, base

    def fingerprint(self, plan: DatasetPlan) -> str:
        return fingerprint(self.base, plan.corpus, [plan.src])

    def complete(self, plan: DatasetPlan) -> bool:
        record = self.tree.read(f"{plan.rel}/{MARKER}")
        return record is not None and json.loads(record).get("fingerprint") == self.fingerprint(plan)

    def top(self) -> None:
        for rel in (SETTINGS_PATH, EMPTY_EMB):  # the settings before any dataset's file
            if (self.tree.root / rel).exists():
                self.tree.publish_file(rel)

    def publish(self, plan: DatasetPlan) -> None:
        """A dataset whose meta was just written."""
        self.top()
        record = json.dumps({"fingerprint": self.fingerprint(plan), SOURCE_KEY: plan.corpus.named(plan.src)}, indent=2)
        record += "\n"  # `source`: where the linked videos came from (adapters.storage.hard_links)
        self.tree.publish(plan.rel, retract=[MARKER, INFO_PATH], last=[INFO_PATH], record=record.encode())


def _plan_all(
    spec: LingbotExportSpec,
    models: Models,
    corpus: Corpus,
    sources: list[Path],
    report: ExportReport,
    done: Done,
    keep: bool = True,
) -> tuple[list[DatasetPlan], list[dict[str, Any]]]:
    """Every dataset's plan and the episodes left to do; a dataset that cannot be exported is tallied as skipped, one
    the output holds complete is kept whole. Without `keep` (a dry run) each is tallied and let go: none returned."""
    root = spec.root.resolve()
    plans, works = [], []
    for src in sources:
        rel = src.resolve().relative_to(root).as_posix()
        tally = report.tallies.setdefault(rel, DatasetTally())
        try:
            plan = plan_dataset(corpus, rel, spec, models, tally)
        except (NotCanonicalError, ValueError) as e:
            tally.skipped = f"skipped: {e}"
            continue
        if done.complete(plan):
            tally.kept += sum(len(v) for v in plan.latents.values())
            continue
        for entry in plan.entries:
            item = work_item(plan, entry, spec, tally)
            if item is None:
                continue
            plan.pending.add(entry.episode_index)
            if keep:
                works.append(item)
            if report.dry_run:
                tally.written += len(item["latents"])
        if keep:
            plans.append(plan)
    return plans, works


def _accept(
    plan: DatasetPlan, report: ExportReport, result: dict[str, Any], done: Callable[[DatasetPlan], None]
) -> None:
    """One episode came back: count it, keep its action stats, and write the dataset's meta after its last one
    (then `done(plan)`: the dataset is finished at the output)."""
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
            done(plan)


def _run_on_ray(
    spec: LingbotExportSpec,
    models: Models,
    works: list[dict[str, Any]],
    accept: Callable[[dict], None],
    address: str | None,
    progress: bool | None,
    settings: dict[str, Any],
) -> None:
    """The episodes left, on Ray Data: `prepare_row` CPU tasks (at most `max_in_flight` at once) -> the
    `EncodeEpisodes` actor pool -> `accept` each result on the driver, with progress."""
    import ray
    from ray.util.annotations import RayDeprecationWarning

    from jobs.export.lingbot.work import PAYLOAD, EncodeEpisodes, prepare_row, write_empty_embedding

    with ray_session(address, spec.num_cpus, spec.object_store_mb):
        place = place_actors(spec.device, spec.actors, ray.cluster_resources())
        encoder = {
            "vae": str(spec.vae),
            "text_encoder": str(spec.text_encoder),
            "tokenizer": str(models.tokenizer),
            "device": place.device,
            "text_len": spec.text_len,
            "threads": place.threads,
        }
        out = str(spec.out)
        try:
            if not works:  # nothing to encode, only the empty-text embedding to make
                task = ray.remote(write_empty_embedding).options(**place.resources)
                kw = {k: encoder[k] for k in ("tokenizer", "device", "text_len")}
                ray.get(task.remote(out, settings, encoder["text_encoder"], **kw))
                return
            log.info("%d episode(s), %d encoder actor(s) on %s", len(works), place.actors, place.device)
            rows = [{PAYLOAD: pickle.dumps(w, protocol=5)} for w in works]
            seen: set[tuple[str, int]] = set()
            with _lost_blocks_allowed(len(rows)):
                with warnings.catch_warnings():
                    # Ray 2.60 names no parameter for a task's retries and warns on its remote args (pyproject pins
                    # ray < 2.61); without them Ray Data retries a dead worker's task forever
                    warnings.simplefilter("ignore", RayDeprecationWarning)
                    prepared = ray.data.from_items(rows, override_num_blocks=len(rows)).map(  # a block per episode
                        prepare_row,
                        num_cpus=1,
                        concurrency=min(spec.max_in_flight, len(rows)),
                        max_retries=spec.task_retries,
                    )
                stream = prepared.map_batches(
                    EncodeEpisodes,
                    batch_size=1,
                    batch_format="numpy",
                    concurrency=place.actors,
                    fn_constructor_kwargs={"out": out, "settings": settings, **encoder},
                    **place.resources,
                ).iter_batches(batch_size=None, batch_format="numpy")
                take = partial(_take, accept=accept, seen=seen)
                drain(stream, len(works), f"export {FORMAT}", "ep", progress, take)
            for item in works:  # a task that died past its retries: that episode only
                if (item["dataset"], item["episode_index"]) not in seen:
                    accept({**{k: item[k] for k in ("dataset", "episode_index")}, "stats": None, "error": LOST})
        except ray.exceptions.RayActorError as e:  # a model that fails to load stops the job here, not per episode
            cause = str(e).strip().splitlines()[-1]  # the exception line of the actor's traceback
            raise ExportError(f"the encoder actors did not start: {cause}") from None


def _take(batch: dict[str, Any], accept: Callable[[dict], None], seen: set[tuple[str, int]]) -> tuple[int, int]:
    """Hand each episode's result to `accept`; (episodes, frames) for the progress bar."""
    from jobs.export.lingbot.work import PAYLOAD

    payloads, frames = batch[PAYLOAD], 0
    for p in payloads:
        result = pickle.loads(p)
        seen.add((result["dataset"], result["episode_index"]))
        accept(result)
        frames += result.get("frames", 0)
    return len(payloads), frames


@contextmanager
def _lost_blocks_allowed(n: int) -> Iterator[None]:
    """Ray Data goes on past up to `n` failed blocks (a block is one episode), for this job only."""
    from ray.data import DataContext

    ctx = DataContext.get_current()
    before, ctx.max_errored_blocks = ctx.max_errored_blocks, n
    try:
        yield
    finally:
        ctx.max_errored_blocks = before


# Exit 0 when every dataset exported fully, 1 when an episode or dataset failed, 2 for a bad call
cli = Stage(
    "export",
    build_spec,
    lambda spec, args: run_lingbot_export(spec, address=args.address, dry_run=bool(getattr(args, "dry_run", False))),
    ExportReport.table,
    lambda report: bool(report.errors),
    # a held --out and a store that cannot be reached are a bad call here (the stage skeleton's machinery maps the
    # rest: a placement that cannot work 2, another job's lease 1)
    usage_errors=(ExportError, WanModelError, JobLockedError, ValueError, StorageError),
)
