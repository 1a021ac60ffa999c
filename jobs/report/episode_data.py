"""What the page of one episode shows (`jobs.report.episode_page`, jobs/report/README.md), read for a dataset and an
episode index: its catalog row, the findings behind its tier (the `verdicts` view), its lineage, a strip of decoded
frames per camera (`ingest.lerobot.video_read.decode_frames`, the project's reader) and its signals over time. An
episode the corpus lacks is an `EpisodeNotFound` naming the dataset and the index.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ingest.lerobot.settled import settled_datasets
from jobs.catalog.query import run_query
from jobs.report.data import (
    FRAMES_PER_CAMERA,
    DatasetView,
    ReportError,
    dataset_view,
    frame_indices,
    has_hands,
    require_catalog,
    sql_text,
)
from schemas.canonical import ACTION, ACTION_NATIVE, HAND_VALID, HANDS, STATE, STATE_NATIVE
from schemas.corpus import DATASETS_DIR, LINEAGE_KEY, EpisodeLineage
from schemas.lerobot import EPISODES_PATH, INFO_PATH
from schemas.quirks import listing

# the catalog columns the page shows: `SELECT *` decoded every column of the 100k-episode catalog to keep one row
# (265 MB; these: 20 MB)
ROW_COLUMNS = ("episode_uid", "dataset", "episode_index", "tier", "task", "tier_reasons", "num_frames", "cameras")
KNOWN_SHOWN = 20  # datasets an unknown dataset's error names
PAGES_DIR = "report_episodes"  # beside the corpus report: the pages it links to
SIGNALS = (STATE, ACTION, STATE_NATIVE, ACTION_NATIVE, HAND_VALID)  # in page order
LINEAGE_NOTES = (  # lineage fields that say how the episode was built, shown as notes apart from the tier's reasons
    "hand_notes",
    "source_findings",
    "validity",
    "interpolated_frames",
    "native_windows",
    "native_discrete",
    "native_accumulated",
    "row_clock",
    "camera_size_split",
    "signature_split",
)


class EpisodeNotFound(ReportError):
    """The corpus has no such dataset, or the dataset no such episode index."""


@dataclass
class CameraStrip:
    """Frames of one camera at `frame_indices` (HxWx3 uint8 RGB, as decoded), and what could not be decoded."""

    key: str
    frame_indices: list[int]
    frames: list[np.ndarray]
    note: str = ""


@dataclass
class Signal:
    """One column of the episode over its frames: (T, k) values and the k dim names."""

    column: str
    names: list[str]
    values: np.ndarray


@dataclass
class EpisodeDetail:
    dataset: str  # as the catalog names it
    index: int
    fps: float
    length: int  # frames
    row: dict[str, Any]  # its catalog row
    lineage: EpisodeLineage
    findings: list[dict[str, Any]]  # verdicts rows: stage, code, tier, value, threshold, message
    strips: list[CameraStrip] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # signal columns the dataset lacks, said on the page


def parse_episode(text: str) -> tuple[str, int]:
    """`DATASET:INDEX` -> (dataset, index); a malformed one is an `EpisodeNotFound` saying the form."""
    name, sep, index = text.rpartition(":")
    if not sep or not name or not index.strip().isdigit():
        raise EpisodeNotFound(f"{text!r}: an episode is DATASET:INDEX (datasets/oxe/bridge:3 or oxe/bridge:3)")
    return dataset_name(name), int(index)


def resolve_episode(root: Path, text: str) -> tuple[str, int]:
    """What `report --episode` names -> (dataset, index): `DATASET:INDEX` (the corpus's index), else the catalog's
    `episode_uid` (`source/subset/raw id`), else the raw episode id (`raw_id`, or the raw episode a cut span came from,
    `raw_uid`); an id several episodes share, or none, is an `EpisodeNotFound` naming them or the forms. The first
    two are the catalog's rows; a raw id is sought in the lineage, each dataset's episodes.jsonl streamed and a line
    parsed only where its text holds the id."""
    name, sep, index = text.rpartition(":")
    known = f"SELECT 1 FROM episodes WHERE dataset = {sql_text(dataset_name(name))} LIMIT 1"
    if sep and name and index.strip().isdigit() and run_query(root, known).num_rows:
        return dataset_name(name), int(index)
    wanted = text.strip()
    sql = f"SELECT dataset, episode_index FROM episodes WHERE episode_uid = {sql_text(wanted)} ORDER BY ALL"
    by_uid = [(r["dataset"], int(r["episode_index"])) for r in run_query(root, sql).to_pylist()]
    # the raw ids only when no uid names it: their search streams every dataset's episodes.jsonl (48 s of the 78 s
    # of a page named by its uid at 1M episodes, issue 99)
    for fields, find in ((("episode_uid",), lambda: by_uid), (("raw_id", "raw_uid"), lambda: _raw_hits(root, wanted))):
        hits = find()
        if len(hits) == 1:
            return hits[0]
        if hits:
            named = listing((f"{n}:{k}" for n, k in hits), 8)
            raise EpisodeNotFound(f"{text!r} is the {' or '.join(fields)} of {len(hits)} episodes: {named}; name one")
    if sep and index.strip().isdigit():
        return parse_episode(text)  # the dataset's own error: which datasets the corpus has
    raise EpisodeNotFound(
        f"{text!r} names no episode of the corpus: an episode is DATASET:INDEX (oxe/bridge:3), the catalog's "
        "episode_uid (source/subset/raw id) or a raw episode id"
    )


def _raw_hits(root: Path, wanted: str) -> list[tuple[str, int]]:
    """(dataset, index) of each episode whose lineage's raw_id or raw_uid is `wanted`."""
    needles = {json.dumps(wanted).encode(), json.dumps(wanted, ensure_ascii=False).encode()}  # as a line spells it
    hits = []
    for ds in settled_datasets(root):
        if not (ds / EPISODES_PATH).is_file():
            continue
        with (ds / EPISODES_PATH).open("rb") as f:
            for raw in f:
                if not any(n in raw for n in needles):
                    continue
                line = json.loads(raw)
                lineage = line.get(LINEAGE_KEY) or {}
                if wanted in {lineage.get("raw_id"), lineage.get("raw_uid")}:
                    hits.append((ds.relative_to(root).as_posix(), int(line["episode_index"])))
    return hits


def dataset_name(name: str) -> str:
    """The catalog's spelling of a dataset (relative to the corpus root, under `datasets/`)."""
    name = name.strip().strip("/")
    return name if name.startswith(f"{DATASETS_DIR}/") else f"{DATASETS_DIR}/{name}"


def episode_href(dataset: str, index: int) -> str:
    """Where the corpus report links an episode's page, relative to the report (`PAGES_DIR/<dataset>_<index>.html`,
    the dataset's slashes as "__")."""
    slug = dataset_name(dataset).removeprefix(f"{DATASETS_DIR}/").replace("/", "__")
    return f"{PAGES_DIR}/{slug}_{int(index)}.html"


def find_episode(root: Path, dataset: str, index: int) -> DatasetView:
    """The view of `dataset` holding episode `index` alone (`jobs.report.data.dataset_view`: its episodes.jsonl read
    to that line, no other dataset opened); EpisodeNotFound naming the corpus's datasets or the dataset's indices."""
    if not (Path(root) / dataset / INFO_PATH).is_file():
        rows = run_query(root, "SELECT DISTINCT dataset FROM episodes ORDER BY dataset").column("dataset").to_pylist()
        raise EpisodeNotFound(
            f"no dataset {dataset} in the corpus (its datasets: {listing(rows, KNOWN_SHOWN) or 'none'})"
        )
    ds = dataset_view(root, dataset, [index])
    if not ds.episodes:
        sql = f"""SELECT min(episode_index) AS lo, max(episode_index) AS hi, count(*) AS n FROM episodes
                  WHERE dataset = {sql_text(dataset)}"""
        r = run_query(root, sql).to_pylist()[0]
        span = f"{r['lo']}..{r['hi']}, {r['n']} episodes" if r["n"] else "none"
        raise EpisodeNotFound(f"no episode {index} in dataset {dataset} (its episode indices: {span})")
    return ds


def camera_strips(ds: DatasetView, i: int, count: int = FRAMES_PER_CAMERA) -> list[CameraStrip]:
    """Per video camera of the dataset, `count` frames of episode `i`, decoded; a missing or short video noted."""
    ep, n = int(ds.episodes[i]["episode_index"]), int(ds.episodes[i]["length"])
    out = []
    for key in ds.info.video_keys:
        path = ds.root / ds.info.video_file(ep, key)
        if not path.is_file():
            out.append(CameraStrip(key, [], [], f"no video file {path}"))
            continue
        idx, frames = ds.frames(i, key, count)
        lost = [t for t in frame_indices(n, count) if t not in idx]
        note = f"frames {lost} not in {path.name} (the video is shorter than the episode's {n} frames)" if lost else ""
        out.append(CameraStrip(key, idx, frames, note))
    return out


def _names(ds: DatasetView, column: str, width: int) -> list[str]:
    ft = ds.info.features.get(column)
    names = (ft.flat_names() or []) if ft is not None else []
    return list(names) if len(names) == width else [f"{column}[{k}]" for k in range(width)]


def signals(ds: DatasetView, i: int) -> tuple[list[Signal], list[str]]:
    """The episode's signals (`SIGNALS` the dataset has), canonical ones cut to the dims its mask fills, and the
    columns it lacks (whether hands are tracked: only for a dataset of human hands)."""
    have = [c for c in SIGNALS if ds.info.features.get(c) is not None]
    cols = ds.columns(i, have)
    mask = ds.mask(i)
    out = []
    for c in have:
        v = cols.get(c)
        if v is None:  # declared in info.json, absent from this episode's file
            continue
        v = v.reshape(len(v), -1)
        names = _names(ds, c, v.shape[1]) if c != HAND_VALID else list(HANDS)
        if c in (STATE, ACTION) and mask is not None and len(mask) == v.shape[1]:
            used = np.flatnonzero(mask)
            v, names = v[:, used], [names[k] for k in used]
        out.append(Signal(c, names, v))
    return out, [c for c in SIGNALS if c not in {s.column for s in out} and (c != HAND_VALID or has_hands(ds.info))]


def _catalog_row(root: Path, dataset: str, index: int) -> dict[str, Any]:
    sql = f"""SELECT {", ".join(ROW_COLUMNS)} FROM episodes
              WHERE episode_index = {int(index)} AND dataset = {sql_text(dataset)}"""
    return next(iter(run_query(root, sql).to_pylist()), {})


def _findings(root: Path, dataset: str, uid: str | None) -> list[dict[str, Any]]:
    if uid is None:
        return []
    sql = f"""SELECT episode_uid, dataset, stage, code, tier, value, threshold, message FROM verdicts
              WHERE episode_uid = {sql_text(uid)} AND dataset = {sql_text(dataset)} ORDER BY stage, code"""
    return run_query(root, sql).to_pylist()


def episode_detail(root: Path, dataset: str, index: int, count: int = FRAMES_PER_CAMERA) -> EpisodeDetail:
    """Everything the page of episode `index` of `dataset` shows (EpisodeNotFound when the corpus lacks it, a
    ReportError when it has no catalog)."""
    root, dataset = Path(root), dataset_name(dataset)
    require_catalog(root)
    ds, i = find_episode(root, dataset, index), 0
    lineage = ds.lineage(i)
    row = _catalog_row(root, dataset, index)
    uid = row.get("episode_uid") or lineage.episode_uid
    found, missing = signals(ds, i)
    return EpisodeDetail(
        dataset=dataset,
        index=index,
        fps=float(ds.info.fps),
        length=int(ds.episodes[i]["length"]),
        row=row,
        lineage=lineage,
        findings=_findings(root, dataset, uid),
        strips=camera_strips(ds, i, count),
        signals=found,
        missing=missing,
    )


def lineage_notes(lineage: EpisodeLineage) -> list[tuple[str, str]]:
    """(field, value in words) of the lineage's notes that say something (a count of 0 or an empty entry says
    nothing: `validity` lists only the reasons that flagged frames); the keys of a mapping that share one value are
    said together ("a, b: the same evidence")."""
    out = []
    for name in LINEAGE_NOTES:
        value = getattr(lineage, name, None)
        items = value if isinstance(value, list) else [value]
        for v in items:
            if isinstance(v, dict):  # keys that share a value (columns with one evidence) said once
                said: dict[str, list[str]] = {}
                for k, x in v.items():
                    if x not in (None, "", [], {}, 0):
                        said.setdefault(str(x), []).append(str(k))
                v = "; ".join(f"{', '.join(keys)}: {x}" for x, keys in said.items())
            if v not in (None, "", [], {}, 0):
                out.append((name, str(v)))
    return out
