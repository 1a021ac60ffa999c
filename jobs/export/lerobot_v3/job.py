"""`eidata export ROOT --format lerobot-v3 --out DIR [--manifest NAME|DIR]`: LeRobot v3.0 datasets for lerobot >= 0.4;
`--format lerobot-v21`: the same plans as LeRobot v2.1 (`write_v21.py`) for lerobot 0.3.3, LDA and openpi.

lerobot 0.6.1 refuses v2.1 (`BackwardCompatibilityError`) and its converter cannot read a v2.1 dataset with a
multi-dimensional feature (jobs/export/README.md), so v3.0 is written directly: without `--manifest` every dataset to
DIR/<its path below datasets/>; with it the manifest's episodes as ONE dataset DIR/NAME (`plan.py`), or one per robot
where their actions differ in width (`settle.py`).

Each dataset is a tree of the output written whole (`adapters.storage.tree`), its completion record
`.eidata-export.json` last, holding a fingerprint of its sources (their meta files' `Corpus.identity`, the manifest,
the options): a rerun skips a dataset whose fingerprint matches and rewrites one whose sources changed or that a
killed run left unfinished.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from adapters.storage.corpus import Corpus
from adapters.storage.tree import Tree
from ingest.lerobot.settled import settled_datasets
from ingest.progress import Progress
from jobs.catalog.census import open_catalog
from jobs.catalog.manifest_arg import manifest_folder, missing_hint
from jobs.catalog.manifest_current import check_current
from jobs.catalog.manifest_read import entries_file
from jobs.export import FRAME_OPTIONS, PathOrUrl
from jobs.export.lerobot_v3.cameras import PlanError
from jobs.export.lerobot_v3.entries import ManifestEntries
from jobs.export.lerobot_v3.episodes import OWN, Kind
from jobs.export.lerobot_v3.masked_stats import masked_stats
from jobs.export.lerobot_v3.native import ConstantActionError, check_action_moves
from jobs.export.lerobot_v3.plan import ExportPlan, dataset_plan, lacking_datasets, manifest_plan
from jobs.export.lerobot_v3.settle import Settled, labels, settle
from jobs.export.lerobot_v3.source import SourceDataset
from jobs.export.lerobot_v3.spaces import NoActionInSpace
from jobs.export.lerobot_v3.write import V30Writer
from jobs.export.lerobot_v3.write_v21 import V21Writer
from jobs.runtime.options import Opt, job_values, opts
from jobs.runtime.stage import Stage
from schemas.actions import ActionSpace
from schemas.canonical import ACTION
from schemas.export_frames import ExportFrames
from schemas.faults import reraise_environment
from schemas.frozen import Frozen
from schemas.lerobot import EPISODES_PATH, EPISODES_STATS_PATH, INFO_PATH, TASKS_PATH
from schemas.lerobot_features import video_keys
from schemas.lerobot_v3 import DATA_FILE_SIZE_IN_MB, INFO_PATH_V30, VIDEO_FILE_SIZE_IN_MB
from schemas.manifest import MANIFEST_JSON
from schemas.storage import MARKER, CatalogError, NotACorpus, OutputLeasedError, StorageError, StorageOptions

log = logging.getLogger(__name__)

Status = Literal["written", "to write", "unchanged", "error"]  # "to write": a dry run's plan
Version = Literal["v3.0", "v2.1"]


SOURCE_META = (INFO_PATH, EPISODES_PATH, TASKS_PATH, EPISODES_STATS_PATH)  # what a fingerprint identifies


def fingerprint(head: str, corpus: Corpus, sources: Iterable[Path], extra_files: Sequence[Path] = ()) -> str:
    """What an export depends on (lerobot-v3's and lingbot-va's): `head` (its options as JSON), the meta files of its
    source datasets (`Corpus.identity`) and `extra_files` (a manifest's)."""
    h = hashlib.sha256(head.encode())
    for root in sources:
        h.update("".join(f"{corpus.identity(root / rel)}\n" for rel in SOURCE_META).encode())
    for p in extra_files:
        h.update(p.read_bytes())
    return h.hexdigest()


WRITERS: dict[str, type[V30Writer] | type[V21Writer]] = {"v3.0": V30Writer, "v2.1": V21Writer}


def _fill(
    plan: ExportPlan,
    root: Path,
    fp: str,
    options: dict[str, Any],
    on_file: Callable[[Path], None] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write the plan's dataset (in `options["version"]`) into the fresh folder `root`, its completion record
    (`MARKER`) last; on a failure the folder is left to the caller to remove."""
    action = next((c for c in plan.layout.columns if c.key == ACTION), None)
    if action is not None and (note := check_action_moves(plan.episodes, action.source, plan.name, action.select)):
        plan.notes.append(note)  # never a constant column standing in for an action an episode claims
        log.warning("%s: %s", plan.name, note)
    masked = masked_stats(plan) if plan.masked_stats else None  # before any frame: it fills the unused dims
    writer = WRITERS[options["version"]](root, plan, options["data_mb"], options["video_mb"], masked)
    writer.on_file = on_file
    try:
        if plan.keep_tasks is not None:
            writer.tasks.keep(plan.keep_tasks)
        for ref in plan.episodes:
            writer.add(ref)
            if progress is not None:
                progress.update(1, frames=int(ref.source.episodes[ref.episode_index]["length"]))
        info = writer.finish(plan.splits)
    except BaseException:
        writer.abort()
        raise
    report = {"fingerprint": fp, "skipped": dict(plan.skipped), "notes": plan.notes}
    if plan.resizing is not None and plan.resizing.episodes:
        report["resized"] = plan.resizing.record()
    (root / MARKER).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return info


def export_plan(
    plan: ExportPlan,
    corpus: Corpus,
    out: Tree,
    tree: str,
    options: dict[str, Any],
    extra: Sequence[Path] = (),
    progress: Progress | None = None,
) -> Status:
    """Export one plan of `corpus` to the tree `tree` of the output `out`, unless it holds it already; `progress`
    counts its episodes (those already there at once)."""
    fp = fingerprint(json.dumps(options, sort_keys=True), corpus, sorted(plan.sources), list(extra))
    recorded, marker = None, out.read(f"{tree}/{MARKER}")
    with contextlib.suppress(ValueError):  # an unreadable record is no match
        recorded = json.loads(marker).get("fingerprint") if marker is not None else None
    if recorded == fp:
        out.keep(tree)
        if progress is not None:
            progress.update(len(plan.episodes))
        return "unchanged"
    written = out.fill(
        tree,
        lambda folder: _fill(plan, folder, fp, options, on_file=partial(out.closed, tree), progress=progress),
        lambda: estimated_bytes(plan),
        retract=[MARKER, INFO_PATH_V30],
        last=[INFO_PATH_V30, MARKER],
    )
    return "written" if written else "to write"


def estimated_bytes(plan: ExportPlan) -> int:
    """What the plan's dataset would take: its episodes' data and video files (a resized camera's scaled by its
    pixels), the meta left out."""
    total, keys, episodes = 0, video_keys(plan.features), plan.episodes
    for code, positions in episodes.by_kind():  # per kind: its dataset, cameras and fits, then its episodes' files
        kind = episodes.kinds[code]
        src, indices = kind.source, episodes.index[positions].tolist()
        total += sum(src.corpus.sizes(src.root, [src.meta.data_file(i) for i in indices]))
        for key in keys:
            fit = kind.resize.get(key)
            scale = 1.0 if fit is None else (fit.out_hw[0] * fit.out_hw[1]) / (fit.in_hw[0] * fit.in_hw[1])
            camera = kind.cameras.get(key, key)
            videos = src.corpus.sizes(src.root, [src.meta.video_file(i, camera) for i in indices])
            total += sum(round(n * scale) for n in videos)
    return total


def export_corpus(
    root: str | Path, out: str | Path, *, storage: StorageOptions | None = None, **options: Any
) -> dict[str, tuple[Status, str]]:
    """Export every dataset (or the manifest) of corpus `root` under `out` with the options of `V30ExportJob`;
    returns name -> (status, detail). Either may be a bucket URL (`storage`: its options; else the AWS environment
    decides)."""
    job = V30ExportJob(root=root, out=out, **options)
    settings = job.model_dump(mode="json", exclude={"root", "out", "manifest", "plan_only"})
    layout = {k: settings[k] for k in ("keep_nd", "caption_as_task")} | {"frames": job.frames}
    space = ActionSpace(job.action_space) if job.action_space else None
    spaces = {"space": space, "skip_without_action": job.skip_without_action}
    manifest, results = job.manifest, {}
    # a manifest was selected from the catalog, which must describe the datasets (`open_catalog`); every dataset's
    # export reads no catalog
    opened = open_catalog(root, "export", storage) if manifest is not None else Corpus.read(root, storage, meta=True)
    with opened as corpus, Tree.open(out, storage, "export-lerobot-v3", dry_run=job.plan_only) as tree:
        plans: dict[str, ExportPlan] = {}  # every plan first: the progress line's total and ETA cover the export
        extra: list[Path] = []
        if manifest is not None:
            mdir = _manifest_dir(manifest, job.root, corpus)
            manifest = mdir.name
            settled = manifest_groups(corpus, mdir, **spaces)
            groups = settled.groups
            names = [manifest] if len(groups) == 1 else [f"{manifest}/{x}" for x in labels(groups)]
            if len(groups) > 1 and tree.read(f"{manifest}/{INFO_PATH_V30}") is not None:
                raise PlanError(
                    f"{manifest}: OUT/{manifest} holds a dataset of an earlier export, and this one is one dataset per "
                    f"robot under it ({', '.join(names)}): remove it or choose another --out"
                )
            for name, group in zip(names, groups, strict=True):
                plans[name] = manifest_plan(
                    corpus, mdir, job.cameras, **layout, allow_dropped_sources=job.allow_dropped_sources, group=group
                )
                plans[name].notes[:0] = settled.left_out  # the episodes left out: logged, and in its record
                plans[name].skipped.update(settled.skipped)  # and counted where the summary says what was skipped
            extra = [mdir / MANIFEST_JSON, entries_file(mdir)]
        for ds in settled_datasets(corpus.root) if manifest is None else ():
            rel = ds.relative_to(corpus.root / "datasets").as_posix()
            results[rel] = ("error", "")  # its place in the table
            try:
                plans[rel] = dataset_plan(corpus, ds, rel, job.cameras, **layout, **spaces)
            except DATASET_ERRORS as e:
                results[rel] = _failed(rel, e)
        total = sum(len(p.episodes) for p in plans.values())  # no bar for a dry run, which writes nothing
        bar = None if job.plan_only else Progress(total, "export", unit="ep")
        with contextlib.closing(bar) if bar is not None else contextlib.nullcontext():
            for name, plan in plans.items():
                try:
                    status = export_plan(plan, corpus, tree, name, settings, extra, progress=bar)
                except DATASET_ERRORS as e:
                    if manifest is not None:  # a manifest's dataset (one per robot): its failure is the export's
                        raise
                    results[name] = _failed(name, e)
                    continue
                said = f"{len(plan.episodes)} episodes, action {plan.of.said()}{_planned(tree, name)}"
                if manifest is None:  # e.g. the native command as action
                    results[name] = (status, said + "".join(f"; {n}" for n in plan.notes) + _resized(plan))
                    continue
                for note in plan.notes:  # what the one dataset could not hold: said, not only logged at debug
                    log.warning("%s: %s", name, note)
                skipped = ", ".join(f"{n} {why}" for why, n in sorted(plan.skipped.items())) or "none"
                results[name] = (status, f"{said}, skipped: {skipped}{_resized(plan)}")
        return results


def manifest_groups(corpus: Corpus, mdir: Path, space: ActionSpace | None, skip_without_action: bool) -> Settled:
    """The manifest's episodes in the action space, as the datasets they leave as (`settle.settle`), with the lines
    of those left out (`--skip-without-action`), one per dataset. Datasets the corpus lacks are refused, naming
    them, once the others' episodes are settled (`plan.lacking_datasets`)."""
    entries = ManifestEntries.read(entries_file(mdir))  # columns: no Python row per entry (issue 99)
    named = entries.named()
    here = [ds for ds in named if (corpus.root / ds / INFO_PATH).is_file()]
    shared: dict[str, Any] = {}  # the features datasets declare alike, one object each
    planned = corpus.plan_lines({ds: named[ds] for ds in here})  # the catalog's, not each episodes.jsonl
    sources = {ds: SourceDataset(corpus.root / ds, corpus, named[ds], shared, planned.get(ds)) for ds in here}
    del planned
    # the episodes `manifest_plan` gives their columns: those alive, one kind per dataset and catalog text
    episodes = entries.episodes(
        sources, lambda src, ds, _: Kind(src, {"source_dataset": ds, "episode_uid": OWN}, dataset=ds)
    )
    del entries  # not held while the plans are made (a manifest of 1M episodes)
    rel = {id(s): ds for ds, s in sources.items()}
    settled = settle(episodes, space, skip_without_action, f"manifest {mdir.name}", lambda src: rel[id(src)])
    if len(here) < len(named):  # refused, naming them, once the episodes here are settled (as the plan did)
        lacking_datasets(corpus, mdir.name, list(named))
    return settled


# one dataset's failure does not stop the others (ConstantActionError too); a full disk does (`_failed`)
DATASET_ERRORS = (PlanError, ValueError, OSError, KeyError)


def _failed(rel: str, e: Exception) -> tuple[Status, str]:
    """A dataset's failure as its result's row, logged; a full disk stops the export: one line and 75 (jobs.cli)."""
    reraise_environment(e)
    log.error("%s: %s", rel, e)
    return "error", f"{type(e).__name__}: {e}"


def _manifest_dir(given: str, root: PathOrUrl, corpus: Corpus) -> Path:
    """The folder `--manifest given` names (`jobs.catalog.manifest_arg`: a NAME in ROOT, a folder or a file of it)
    as this process reads it (`Corpus.local`: a bucket corpus's from its local copy); one that is not there refused
    with what to run."""
    folder = corpus.local(manifest_folder(given, root))
    if folder is None:
        raise PlanError(f"--manifest {given}: a bucket manifest is read from the corpus ROOT; give its NAME")
    entries = entries_file(folder)
    if not entries.is_file():
        raise PlanError(f"{folder}: no {entries.name}{missing_hint(given, root)}")
    check_current(corpus.root, folder, root)  # its episodes as it was made, else refused (a CatalogError: exit 1)
    return folder


def _planned(tree: Tree, name: str) -> str:
    """A dry run's estimate of what the tree `name` would take (`PlanTree.planned`), as a part of its detail."""
    n = getattr(tree, "planned", {}).get(name)
    return "" if n is None else f" (~{n / 1e6:.1f} MB)" if n >= 1e6 else f" (~{n / 1e3:.0f} kB)"


def _resized(plan: ExportPlan) -> str:
    """The plan's table of the frames it resizes, a row per source (`jobs/export/resize.py`), under its result."""
    table = plan.resizing.table() if plan.resizing is not None else None
    return f"\n{table}" if table else ""


class V30ExportJob(Frozen):
    """One `eidata export --format lerobot-v3` run; ROOT, --out and --cameras are the export command's own flags
    (`jobs/cli.py`, `jobs.export.lingbot.spec.OPTIONS`), read into `root`, `out` and `cameras`; ROOT and --out may be
    bucket URLs (kept as text)."""

    root: PathOrUrl
    out: PathOrUrl
    manifest: str | None = Field(
        None,
        description="a manifest: its NAME in ROOT (ROOT/manifests/NAME/, made by `eidata curate --name NAME`) or its "
        "folder's path, as `eidata train --manifest` takes it; its episodes exported as ONE dataset OUT/NAME (one "
        "per robot OUT/NAME/<robot> only where --action-space joints/native gives robots actions of different widths)",
    )
    cameras: list[str] | None = None
    data_mb: int = Field(DATA_FILE_SIZE_IN_MB, ge=1, description="data parquet file size limit in MB (lerobot's)")
    video_mb: int = Field(VIDEO_FILE_SIZE_IN_MB, ge=1, description="video file size limit in MB (lerobot's)")
    keep_nd: bool = Field(False, description="keep multi-dimensional features (default: flattened to 1-D with names)")
    caption_as_task: bool = Field(False, description="an episode's caption, where it has one, becomes its task")
    version: Version = Field("v3.0", description="the LeRobot format written: --format lerobot-v3 or lerobot-v21")
    allow_dropped_sources: bool = Field(
        False,
        description="a manifest export that would leave out a whole source (no camera it can fill) writes the "
        "others instead of failing; the sources left out are said",
    )
    action_space: Literal["canonical", "joints", "native"] | None = Field(
        None,
        description="what `action` (and `observation.state`) hold: canonical (the 50-dim hand-centric space), joints "
        "(a described robot's joint targets from action.native, its joint positions as state, named by "
        "schemas/robots/joint_space.yaml) or native (the recording's own command and state). Default: canonical, "
        "or native where no episode has a canonical dim (a robot without a description). An episode with no action "
        "in the space is refused, naming it (--skip-without-action leaves it out). A manifest is ONE dataset "
        "OUT/NAME, except in joints/native when robots' widths differ: lerobot holds one shape per feature, so then "
        "one dataset per robot OUT/NAME/<robot> and nothing at OUT/NAME; the export names every dataset written",
    )
    skip_without_action: bool = Field(
        False,
        description="leave out the episodes that have no action in the space, each dataset they come from named in "
        "one line, instead of refusing the export",
    )
    frames: ExportFrames = Field(
        default_factory=ExportFrames, description="every exported camera's frame size (--frame-size, --frame-fit)"
    )
    plan_only: bool = False  # the command's --dry-run: plan and print, the output a `PlanTree` that writes nothing


# the lerobot-v3 group of `eidata export`, in the flags' order; the sizes are not given unless passed (None in the
# parsed flags), so lerobot's limits stay the model's defaults
OPTIONS = (
    Opt(V30ExportJob, "manifest"),
    Opt(V30ExportJob, "data_mb", flags=("--data-file-size-mb",), unset=True),
    Opt(V30ExportJob, "video_mb", flags=("--video-file-size-mb",), unset=True),
    *opts(V30ExportJob, "keep_nd", "caption_as_task", "allow_dropped_sources", "action_space", "skip_without_action"),
)


FORMAT_VERSIONS: dict[str, Version] = {"lerobot-v3": "v3.0", "lerobot-v21": "v2.1"}


def build_job(args: argparse.Namespace) -> V30ExportJob:
    values = job_values(args, OPTIONS, V30ExportJob) | {"version": FORMAT_VERSIONS[args.format]}
    values["frames"] = job_values(args, FRAME_OPTIONS, ExportFrames)  # its own field: an error names `frames.size`
    values["plan_only"] = bool(getattr(args, "dry_run", False))
    return V30ExportJob.model_validate({"root": args.root, "out": args.out, "cameras": args.cameras, **values})


def results_table(results: dict[str, tuple[Status, str]]) -> str:
    lines = [f"{name:40s} {status:9s} {detail}" for name, (status, detail) in results.items()]
    done = [
        f"{name} ({detail.split(' (~')[0].split(', skipped')[0]})"
        for name, (s, detail) in results.items()
        if s != "error"
    ]
    if done:  # one line naming every dataset, its episodes and its action space
        lines.append(f"{len(done)} dataset{'s' if len(done) > 1 else ''}: " + "; ".join(done))
    if any(status == "to write" for status, _ in results.values()):
        lines.append("dry run: nothing written")
    return "\n".join(lines)


# Exit 0 when every dataset (or the manifest) is exported, 1 when one failed or the manifest cannot be planned (a
# source it would leave out, unless --allow-dropped-sources), 2 for a bad call (no --out, a size limit below 1 MB)
cli = Stage(
    "export",
    build_job,
    lambda job, args: export_corpus(job.root, job.out, **job.model_dump(exclude={"root", "out"})),
    results_table,
    lambda results: any(s == "error" for s, _ in results.values()),
    usage_errors=(ValidationError, StorageError, NotACorpus),
    job_errors=(PlanError, OutputLeasedError, ConstantActionError, NoActionInSpace, CatalogError),
)
