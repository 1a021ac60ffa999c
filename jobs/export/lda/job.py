"""`eidata export ROOT --format lda --out DIR`: every canonical dataset as a LeRobot v2.1 dataset LDA-1B's own loader
reads as it is (jiangranlv/latent-dynamics-action@99bf08b, `lda/dataloader/gr00t_lerobot/`), planned first
(`plan.py`), each written whole (`Tree.write`); what each holds, what refuses the export and what fails a dataset:
jobs/export/README.md ("LDA-1B") and the contract `schemas/lda.py`. The summary prints what to paste into LDA's
repository (`config.py`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from adapters.lerobot_format.files import load_info
from adapters.storage.atomic import atomic_write
from adapters.storage.corpus import Corpus
from adapters.storage.root import Root
from adapters.storage.tree import Tree
from ingest.progress import Progress
from jobs.catalog.census import open_catalog
from jobs.catalog.manifest_arg import manifest_folder
from jobs.catalog.manifest_read import load_manifest
from jobs.export.gr00t import write_modality
from jobs.export.gr00t_copy import copy_episode_meta
from jobs.export.layout import flatten_column
from jobs.export.lda import config
from jobs.export.lda.columns import build_modality, build_native_modality, episode_columns, expected_names
from jobs.export.lda.plan import DatasetPlan, LdaExportError, missing_files, plan_export
from jobs.export.lda.stats import ColumnStats, dumps
from jobs.export.lda.video import as_written, transcode
from jobs.runtime.stage import Failed, Stage, Usage
from schemas.canonical import ACTION, ACTION_NATIVE, CANONICAL_DIM, HAND_KEYPOINTS, NATIVE_VALID, STATE, STATE_NATIVE
from schemas.faults import reraise_environment
from schemas.lda import ACTION_PARTS, LDA_ACTION, LDA_STATE, STATE_PARTS, STATS_PATH, Layout, column_names
from schemas.lerobot import INFO_PATH, MODALITY_PATH
from schemas.modality import check_modality
from schemas.storage import MARKER, CatalogError, NotACorpus, StorageError

Status = Literal["written", "to write", "error"]
STATE_NAMES, ACTION_NAMES = column_names(STATE_PARTS), column_names(ACTION_PARTS)
COPIED_META = ("meta/tasks.jsonl",)
NATIVE_COLUMNS = (STATE_NATIVE, ACTION_NATIVE)  # plan.native's widths, in this order


@dataclass
class DatasetResult:
    dataset: str
    status: Status
    layout: Layout | None = None
    episodes: int = 0
    frames: int = 0
    notes: list[str] = field(default_factory=list)
    native: tuple[int, int] | None = None


def _vectors(table: pa.Table, key: str, width: int) -> np.ndarray:
    arr = table.column(key).combine_chunks()
    return np.asarray(pc.list_flatten(arr), dtype=np.float32).reshape(len(arr), width)


def _fixed(values: np.ndarray) -> pa.FixedSizeListArray:
    return pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), values.shape[1])


def _feature(names: list[str]) -> dict[str, Any]:
    return {"dtype": "float32", "shape": [len(names)], "names": names}


def _check_native_samples(table: pa.Table, where: str) -> None:
    """A robot without a description goes to LDA as its natives read as they are, and LDA has no per-value mask (its
    mask is per row and key, `datasets.py:139-144`): a frame where a native column's stream had no sample would train
    as a value. Refused, naming the field and the first such frame."""
    for key in NATIVE_COLUMNS:
        valid = NATIVE_VALID[key]
        if valid in table.column_names:
            width = len(table.column(valid)[0])
            flags = _vectors(table, valid, width)
            if (flags <= 0).any():
                frame, col = np.argwhere(flags <= 0)[0]
                raise LdaExportError(f"{where}: {key} value {col} has no sample at frame {frame} ({valid} 0)")


def export_dataset(plan: DatasetPlan, tmp: Path) -> DatasetResult:
    """Write the LDA dataset of `plan` into the fresh folder `tmp` (`Tree.write`'s, renamed into place after)."""
    src, info, videos = plan.src, plan.info, plan.info.video_keys
    (tmp / "meta").mkdir()
    for rel in COPIED_META:
        if (src / rel).is_file():
            shutil.copyfile(src / rel, tmp / rel)
    copy_episode_meta(src, tmp, {int(line["episode_index"]) for line in plan.lines})
    widths = {STATE: CANONICAL_DIM, ACTION: CANONICAL_DIM}
    widths |= dict(zip(NATIVE_COLUMNS, plan.native, strict=True)) if plan.native else {}
    widths |= {} if plan.native else {LDA_STATE: len(STATE_NAMES), LDA_ACTION: len(ACTION_NAMES)}
    stats = ColumnStats(widths)
    result = DatasetResult(plan.name, "written", plan.layout, native=plan.native)
    for line, mask in zip(plan.lines, plan.masks, strict=True):
        index, length = int(line["episode_index"]), int(line["length"])
        rel = info.data_file(index)
        where = f"{src / rel} (episode {index})"
        table = pq.read_table(src / rel)
        if table.num_rows != length:
            raise LdaExportError(f"{where}: {table.num_rows} rows, episodes.jsonl says length {length}")
        values = {key: _vectors(table, key, width) for key, width in widths.items() if key in table.column_names}
        if plan.native:
            _check_native_samples(table, where)
        else:
            kp = None  # (T, 2 hands, 21 MANO keypoints, xyz)
            if HAND_KEYPOINTS in table.column_names:
                kp = np.asarray(flatten_column(table.column(HAND_KEYPOINTS), 126).flatten()).reshape(length, 2, 21, 3)
            columns = episode_columns(values[STATE], values[ACTION], kp, mask, plan.hands, where=where)
            values |= dict(zip((LDA_STATE, LDA_ACTION), columns, strict=True))
            table = table.append_column(LDA_STATE, _fixed(values[LDA_STATE]))
            table = table.append_column(LDA_ACTION, _fixed(values[LDA_ACTION]))
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, tmp / rel)
        stats.add(values)
        for key in videos:
            vrel = info.video_file(index, key)
            transcode(src / vrel, tmp / vrel, int(info.fps), length)
        result.episodes += 1
        result.frames += length

    raw = json.loads((src / INFO_PATH).read_text(encoding="utf-8"))
    if not plan.native:
        raw["features"][LDA_STATE] = _feature(STATE_NAMES)
        raw["features"][LDA_ACTION] = _feature(ACTION_NAMES)
    if plan.subset:
        raw |= {"total_episodes": result.episodes, "total_frames": result.frames}
        raw["total_videos"] = result.episodes * len(videos)
    atomic_write(tmp / INFO_PATH, json.dumps(as_written(raw, videos), indent=4) + "\n")
    modality = (
        build_native_modality(videos, plan.main, plan.native) if plan.native else build_modality(videos, plan.main)
    )
    problems = check_modality(modality, load_info(tmp / INFO_PATH), expected_names(modality))
    if problems:
        raise LdaExportError(f"{src}: modality does not fit: " + "; ".join(p.message for p in problems))
    write_modality(tmp / MODALITY_PATH, modality)
    atomic_write(tmp / STATS_PATH, dumps(stats.result()))
    # the completion record every eidata export leaves (`schemas.storage.MARKER`): what `report --exports` reads
    record = {"format": "lda", "layout": plan.layout, "native": plan.native, "skipped": {}, "notes": []}
    atomic_write(tmp / MARKER, json.dumps(record, indent=2) + "\n")
    return result


def _remove_empty_parents(path: Path, top: Path) -> None:
    """Remove the folders between `path` and `top` (both kept) that a failed dataset left empty."""
    for parent in path.parents:
        if parent == top or not parent.is_relative_to(top):
            return
        with contextlib.suppress(OSError):  # not empty: another dataset's
            parent.rmdir()


def export_lda(
    corpus_root: Path, out: Path, *, manifest: str | None = None, progress: bool | None = None
) -> list[DatasetResult]:
    """Every dataset under ROOT/datasets/ (or the manifest's episodes) into OUT, planned first: a dataset LDA cannot
    take refuses the export before anything is written (`plan.Refused`); one that fails while written is reported,
    its partial folder and the empty folders above it removed, and the others go on."""
    plans, tree, results = plan_export(Path(corpus_root), manifest), Tree(out), []
    with closing(Progress(len(plans), "export lda", unit="dataset", enabled=progress)) as bar:
        for plan in plans:
            try:
                with tree.write(plan.name) as tmp:  # `.<name>.partial-<id>`, removed on an error
                    results.append(export_dataset(plan, tmp))
            except (ValueError, OSError) as e:  # LdaExportError, ColumnsError, unreadable files: named, next
                _remove_empty_parents(out / plan.name, out)
                reraise_environment(e)  # a full disk stops the export (exit 75), as every export's
                results.append(DatasetResult(plan.name, "error", notes=[str(e)]))
            bar.update(1)
    return results


def planned(corpus_root: Path, manifest: str | None = None) -> list[DatasetResult]:
    """What `export_lda` would write, as its results (status "to write"), from the plan alone: nothing read past the
    meta, nothing encoded or written (`plan.Refused` as for the export); a dataset missing an episode file it would
    read is the error its export would be."""
    out = []
    for p in plan_export(Path(corpus_root), manifest):
        lost = missing_files(p)
        if lost:
            more = f" and {len(lost) - 3} more" if len(lost) > 3 else ""
            out.append(DatasetResult(p.name, "error", notes=[f"missing: {', '.join(lost[:3])}{more}"]))
            continue
        frames = sum(int(x["length"]) for x in p.lines)
        out.append(DatasetResult(p.name, "to write", p.layout, len(p.lines), frames, [], p.native))
    return out


@dataclass
class Job:
    root: Path
    out: Path
    manifest: str | None = None
    dry_run: bool = False  # the plan alone (`plan.py`: datasets, episodes, layouts, refusals), nothing encoded
    results: list[DatasetResult] = field(default_factory=list)


def _build(args: argparse.Namespace) -> Job:
    root, out = Path(args.root), Path(args.out)
    try:  # what the storage can do, asked of its one handle: a URL is never taken for a folder (`gs:/b/out`)
        for given in (args.root, args.out):
            if refused := Root(str(given)).refusal("paths", "--format lda reads and writes local folders only"):
                raise Usage(f"eidata export: {refused}")
        manifest = getattr(args, "manifest", None)  # a manifest's catalog checked (`jobs.catalog.census`)
        with open_catalog(root, "export") if manifest is not None else Corpus.read(root):  # "not a corpus" alike
            pass
    except (StorageError, NotACorpus) as e:
        raise Usage(f"eidata export: {e}") from e
    except CatalogError as e:
        raise Failed(f"eidata export: {e}") from e
    return Job(root, out, manifest, dry_run=bool(getattr(args, "dry_run", False)))


def _run(job: Job, args: argparse.Namespace) -> Job:
    try:
        job.results = (
            planned(job.root, job.manifest) if job.dry_run else export_lda(job.root, job.out, manifest=job.manifest)
        )
    except LdaExportError as e:  # Refused, or a manifest that is not there: nothing written
        raise Failed(f"eidata export --format lda: {e}") from e
    if not job.results:
        raise Failed(f"eidata export: no dataset under {job.root}/datasets")
    return job


def summary(job: Job) -> str:
    lines = []
    for r in job.results:
        what = f" {r.layout}, {r.episodes} episodes, {r.frames} frames" if r.status != "error" else ""
        lines.append(f"{r.status:8s} {r.dataset}{what}")
        if r.status == "to write":
            lines.append(f"         into {job.out / r.dataset}")
        lines += [f"         note: {n}" for n in r.notes]
    written = [(r.dataset, r.layout, r.native) for r in job.results if r.status == "written" and r.layout]
    if written:
        weights = None if job.manifest is None else config.manifest_weights(_mixture(job.root, job.manifest))
        lines += ["", "Paste into LDA's repository:", config.entry(written, str(job.out.resolve()), weights)]
    counts = {s: sum(r.status == s for r in job.results) for s in ("written", "to write", "error")}
    counts = {s: n for s, n in counts.items() if n or s != "to write"}
    return "\n".join(lines) + "\nlda: " + ", ".join(f"{n} {s}" for s, n in counts.items())


def _mixture(root: Path, manifest: str) -> list[tuple[str, float]]:
    """The manifest's mixture: (dataset, its share of the draws) per dataset and robot (`schemas.manifest`)."""
    return [(m.dataset, m.weight) for m in load_manifest(Path(manifest_folder(manifest, root))).mixture]


cli = Stage("export", _build, _run, summary, lambda job: any(r.status == "error" for r in job.results))
