"""`eidata export ROOT --format lda --out DIR`: every canonical dataset as a LeRobot v2.1 dataset LDA-1B's own loader
reads as it is (jiangranlv/latent-dynamics-action@99bf08b, `lda/dataloader/gr00t_lerobot/`), DIR/<its path below
datasets/>, one dataset per canonical dataset (one embodiment each, LDA's mixture unit).

Each keeps the canonical files and adds what LDA needs (contract `schemas/lda.py`): the columns `observation.state.lda`
and `action.lda` in every episode parquet (`columns.py`), every camera re-encoded as all-intra H.264 (`video.py`),
`meta/modality.json` in LDA's names (checked against the new info.json before it is written), and
`meta/stats_gr00t.json` (`stats.py`). A dataset is written into `DIR/.<name>.partial` and renamed into place when
complete (a rerun replaces it whole). The summary prints what to paste into LDA's repository (`config.py`).
A dataset LDA cannot train on (no wrist in use, no camera, not canonical) is skipped and named with the reason; an
episode whose values cannot be converted fails its dataset, naming file, episode and field.
"""

from __future__ import annotations

import argparse
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

from ingest.files.atomic import write_text_atomic
from ingest.lerobot.settled import settled_datasets
from ingest.progress import Progress
from jobs.export.gr00t import is_canonical
from jobs.export.layout import flatten_column
from jobs.export.lda import config
from jobs.export.lda.columns import build_modality, episode_columns, expected_names, layout_of
from jobs.export.lda.stats import ColumnStats, dumps
from jobs.export.lda.video import KEYFRAME_INTERVAL, transcode
from jobs.runtime.stage import Failed, Stage, Usage
from schemas.canonical import ACTION, CANONICAL_DIM, HAND_KEYPOINTS, MAIN_CAMERA_ORDER, STATE
from schemas.corpus import EpisodeLineage
from schemas.dataset_meta import MODALITY_PATH
from schemas.lda import (
    ACTION_PARTS,
    LDA_ACTION,
    LDA_STATE,
    STATE_PARTS,
    STATS_PATH,
    Layout,
    column_names,
)
from schemas.lerobot import EPISODES_PATH, INFO_PATH, load_info, read_jsonl
from schemas.modality import VIDEO_PREFIX, ModalityJson, check_modality

Status = Literal["written", "skipped", "error"]
STATE_NAMES, ACTION_NAMES = column_names(STATE_PARTS), column_names(ACTION_PARTS)
COPIED_META = ("meta/tasks.jsonl", "meta/episodes.jsonl", "meta/episodes_stats.jsonl")


class LdaExportError(ValueError):
    """A dataset that cannot be exported (names the dataset, and the file, episode and field where one is at fault)."""


@dataclass
class DatasetResult:
    dataset: str
    status: Status
    layout: Layout | None = None
    episodes: int = 0
    frames: int = 0
    notes: list[str] = field(default_factory=list)


def _vectors(table: pa.Table, key: str, width: int) -> np.ndarray:
    arr = table.column(key).combine_chunks()
    return np.asarray(pc.list_flatten(arr), dtype=np.float32).reshape(len(arr), width)


def _fixed(values: np.ndarray) -> pa.FixedSizeListArray:
    return pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), values.shape[1])


def _episode_masks(lines: list[dict[str, Any]], info_mask: list[int] | None) -> list[np.ndarray]:
    out = []
    for line in lines:
        mask = EpisodeLineage.of(line).mask or info_mask
        out.append(np.ones(CANONICAL_DIM, dtype=bool) if mask is None else np.asarray(mask, dtype=bool))
    return out


def _feature(names: list[str]) -> dict[str, Any]:
    return {"dtype": "float32", "shape": [len(names)], "names": names}


def export_dataset(src: Path, dst: Path, name: str) -> DatasetResult:
    """Write the LDA dataset of canonical dataset `src` at `dst` (replaced whole)."""
    info = load_info(src / INFO_PATH)
    if not is_canonical(info):
        return DatasetResult(name, "skipped", notes=["not a canonical eidata dataset (50-dim state/action)"])
    lines = [line for _, line in read_jsonl(src / EPISODES_PATH)]
    masks = _episode_masks(lines, (info.features[ACTION].info or {}).get("mask"))
    used = np.any(masks, axis=0) if masks else np.zeros(CANONICAL_DIM, dtype=bool)
    found = layout_of(info.robot_type or "", used)
    if found is None:
        return DatasetResult(name, "skipped", notes=["no wrist pose in use: LDA trains on end-effector actions"])
    layout, hands = found
    videos = info.video_keys
    main = next((f"{VIDEO_PREFIX}{c}" for c in MAIN_CAMERA_ORDER if f"{VIDEO_PREFIX}{c}" in videos), None)
    if main is None:
        return DatasetResult(name, "skipped", notes=[f"no camera among {list(MAIN_CAMERA_ORDER)}: LDA reads images"])

    tmp = dst.parent / f".{dst.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "meta").mkdir(parents=True)
    for rel in COPIED_META:
        if (src / rel).is_file():
            shutil.copyfile(src / rel, tmp / rel)
    widths = {STATE: CANONICAL_DIM, ACTION: CANONICAL_DIM}
    stats = ColumnStats({**widths, LDA_STATE: len(STATE_NAMES), LDA_ACTION: len(ACTION_NAMES)})
    result = DatasetResult(name, "written", layout)
    has_kp = HAND_KEYPOINTS in info.features
    for line, mask in zip(lines, masks, strict=True):
        index, length = int(line["episode_index"]), int(line["length"])
        rel = info.data_file(index)
        where = f"{src / rel} (episode {index})"
        table = pq.read_table(src / rel)
        if table.num_rows != length:
            raise LdaExportError(f"{where}: {table.num_rows} rows, episodes.jsonl says length {length}")
        state, action = _vectors(table, STATE, CANONICAL_DIM), _vectors(table, ACTION, CANONICAL_DIM)
        kp = None
        if has_kp:
            kp = np.asarray(flatten_column(table.column(HAND_KEYPOINTS), 126).flatten()).reshape(length, 2, 21, 3)
        s_lda, a_lda = episode_columns(state, action, kp, mask, hands, where=where)
        table = table.append_column(LDA_STATE, _fixed(s_lda)).append_column(LDA_ACTION, _fixed(a_lda))
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, tmp / rel)
        stats.add({STATE: state, ACTION: action, LDA_STATE: s_lda, LDA_ACTION: a_lda})
        for key in videos:
            vrel = info.video_file(index, key)
            transcode(src / vrel, tmp / vrel, int(info.fps), length)
        result.episodes += 1
        result.frames += length

    raw = json.loads((src / INFO_PATH).read_text(encoding="utf-8"))
    raw["features"][LDA_STATE] = _feature(STATE_NAMES)
    raw["features"][LDA_ACTION] = _feature(ACTION_NAMES)
    for key in videos:
        vinfo = raw["features"][key].setdefault("info", {})
        vinfo.update({"video.codec": "h264", "video.pix_fmt": "yuv420p", "video.keyframe_interval": KEYFRAME_INTERVAL})
    write_text_atomic(tmp / INFO_PATH, json.dumps(raw, indent=4) + "\n")
    modality = build_modality(videos, main)
    problems = check_modality(modality, load_info(tmp / INFO_PATH), expected_names(modality))
    if problems:
        raise LdaExportError(f"{src}: modality does not fit: " + "; ".join(p.message for p in problems))
    write_text_atomic(tmp / MODALITY_PATH, modality.dumps())
    if ModalityJson.load(tmp / MODALITY_PATH) != modality:
        raise LdaExportError(f"{tmp / MODALITY_PATH}: reads back different from what was written")
    write_text_atomic(tmp / STATS_PATH, dumps(stats.result()))
    if dst.exists():
        shutil.rmtree(dst)
    tmp.rename(dst)
    return result


def export_lda(corpus_root: Path, out: Path, *, progress: bool | None = None) -> list[DatasetResult]:
    """Every dataset under ROOT/datasets/ into OUT; one that fails is reported, the others go on."""
    datasets = settled_datasets(corpus_root)
    results = []
    with closing(Progress(len(datasets), "export lda", unit="dataset", enabled=progress)) as bar:
        for ds in datasets:
            rel = ds.relative_to(Path(corpus_root) / "datasets").as_posix()
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            try:
                results.append(export_dataset(ds, out / rel, rel))
            except (ValueError, OSError) as e:  # LdaExportError, ColumnsError, unreadable files: named, next
                shutil.rmtree((out / rel).parent / f".{Path(rel).name}.partial", ignore_errors=True)
                results.append(DatasetResult(rel, "error", notes=[str(e)]))
            bar.update(1)
    return results


@dataclass
class Job:
    root: Path
    out: Path
    results: list[DatasetResult] = field(default_factory=list)


def _build(args: argparse.Namespace) -> Job:
    if not getattr(args, "out", None):
        raise Usage("eidata export: --format lda writes new datasets: give --out DIR")
    if getattr(args, "dry_run", False):
        raise Usage("eidata export: --format lda has no --dry-run (it re-encodes every video to check it)")
    root, out = Path(args.root), Path(args.out)
    if not (root / "datasets").is_dir():
        raise Usage(f"eidata export: {root} is not a corpus (no datasets/ folder)")
    if str(args.root).startswith("s3://") or str(args.out).startswith("s3://"):
        raise Usage("eidata export: --format lda reads and writes local folders only")
    return Job(root, out)


def _run(job: Job, args: argparse.Namespace) -> Job:
    job.results = export_lda(job.root, job.out)
    if not job.results:
        raise Failed(f"eidata export: no dataset under {job.root}/datasets")
    return job


def summary(job: Job) -> str:
    lines = []
    for r in job.results:
        what = f" {r.layout}, {r.episodes} episodes, {r.frames} frames" if r.status == "written" else ""
        lines.append(f"{r.status:8s} {r.dataset}{what}")
        lines += [f"         note: {n}" for n in r.notes]
    written = [(r.dataset, r.layout) for r in job.results if r.status == "written" and r.layout]
    if written:
        lines += ["", "Paste into LDA's repository:", config.entry(written, str(job.out.resolve()))]
    counts = {s: sum(r.status == s for r in job.results) for s in ("written", "skipped", "error")}
    return "\n".join(lines) + "\nlda: " + ", ".join(f"{n} {s}" for s, n in counts.items())


cli = Stage("export", _build, _run, summary, lambda job: any(r.status == "error" for r in job.results))
