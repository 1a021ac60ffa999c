"""What a LeRobot loader trips on beyond `DatasetMeta`'s and the adapter's own findings, for `eidata validate`: each
check takes a `LoadedDataset` (v2.x or v3.0) and returns quirks, one per code (and severity), naming the file and a
few episodes:
- stats shapes (`episodes_stats.jsonl`, `meta/stats.json`, v3's `stats/*` columns of `meta/episodes/`): min/max/mean/
  std must have the feature's shape (`expected_stats_shape`), `count` one value; lerobot aggregates and normalizes
  with them (`stats_shape_mismatch`, `stats_not_finite`);
- default columns in the data parquet: `timestamp`, `episode_index`, `task_index` are read for every item
  (`missing_default_column`, error), `index` less so (warning); v3 `frame_index` (`no_frame_index_column`);
- v3 rows: timestamps per episode against `frame_index / fps` (as `DatasetMeta` does for v2), task indices, and the
  rows an episode has against its `[dataset_from_index, dataset_to_index)` (`episode_rows_mismatch`);
- video frame counts from packet headers (no decoding) against the rows a loader indexes, for v3 from the episode's
  `from_timestamp` over its rows (as lerobot seeks: `_episode_frames`): fewer frames fail a loader at the last
  timestamps (`video_too_short`), more in its `[from, to)` span are a warning (`video_frame_count_mismatch`), a
  `to_timestamp` short of the last row's frame only a note (`video_span_short_in_meta`); a v3 mp4 missing for any
  episode, ghost cameras included (`missing_video_files`; v2: `DatasetMeta` reports it);
- `meta/modality.json` (GR00T) against info.json (`schemas.modality.check_modality`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from adapters.cameras import decoding, packet_times
from adapters.hostile import bounds
from adapters.lerobot_format.files import lfs_pointer_message, read_jsonl
from adapters.lerobot_format.layout import V3_EPISODES_DIR, LoadedDataset
from adapters.lerobot_format.rows import EpisodeFindings
from adapters.lerobot_format.stats import expected_stats_shape
from schemas.containment import OutsideRoot
from schemas.lerobot import EPISODES_STATS_PATH, LEGACY_STATS_PATH
from schemas.lerobot_features import FeatureSpec
from schemas.modality import ModalityJson, check_modality
from schemas.quirks import Quirk, Severity, listing, quirk

# lerobot reads these for every item; `index` only for bookkeeping
DEFAULT_COLUMNS: dict[str, Severity] = {
    "timestamp": "error",
    "episode_index": "error",
    "task_index": "error",
    "index": "warning",
}
CORE_STATS = ("min", "max", "mean", "std")
DTYPES = {"timestamp": np.float64, "frame_index": np.int64}  # task_index as stored


def _stat_findings(
    stats: dict[str, Any], features: dict[str, FeatureSpec], *, v3: bool = False
) -> tuple[list[str], list[str]]:
    """(shape problems, non-finite values) of one stats block `{feature: {stat: values}}`."""
    shapes, nonfinite = [], []
    for name, block in stats.items():
        ft = features.get(name)
        want = expected_stats_shape(ft, v3=v3) if ft is not None else None
        if want is None or not isinstance(block, dict):
            continue  # stats of undeclared features or of strings are never read
        for stat, value in block.items():
            try:
                arr = np.asarray(value, dtype=np.float64)
            except (ValueError, TypeError):
                shapes.append(f"{name}.{stat} ragged")
                continue
            need = (1,) if stat == "count" else want
            if arr.shape != need:
                shapes.append(f"{name}.{stat} {list(arr.shape)} != {list(need)}")
            elif stat in CORE_STATS and not np.isfinite(arr).all():
                nonfinite.append(f"{name}.{stat}")
    return shapes, nonfinite


def _stats_sources(ds: LoadedDataset) -> Iterable[tuple[str, str, dict[str, Any]]]:
    """(file, where in it, stats block) of every stats record the dataset has."""
    root = ds.root
    if (root / LEGACY_STATS_PATH).is_file():  # v2.0's global stats, v3.0's only stats file: one path
        yield LEGACY_STATS_PATH, "global", bounds.load_json(root / LEGACY_STATS_PATH, LEGACY_STATS_PATH)
    if not ds.is_v3 and (root / EPISODES_STATS_PATH).is_file():
        for _, obj in read_jsonl(root / EPISODES_STATS_PATH):
            yield EPISODES_STATS_PATH, f"episode {obj.get('episode_index')}", obj.get("stats") or {}
    for path in sorted((root / V3_EPISODES_DIR).glob("chunk-*/file-*.parquet")) if ds.is_v3 else []:
        with root.file(path).readable() as src:
            pf = pq.ParquetFile(src)
            cols = [c for c in pf.schema_arrow.names if c.startswith("stats/")]
            rows = pf.read(columns=[*cols, "episode_index"]).to_pylist() if cols else []
        for row in rows:
            block: dict[str, dict[str, Any]] = defaultdict(dict)
            for c in cols:
                _, feature, stat = c.rsplit("/", 2) if c.count("/") >= 2 else (c, c, c)
                if row[c] is not None:
                    block[feature][stat] = row[c]
            yield path.relative_to(root).as_posix(), f"episode {row['episode_index']}", dict(block)


def check_stats(ds: LoadedDataset) -> list[Quirk]:
    shapes: dict[str, list[str]] = defaultdict(list)
    nonfinite: dict[str, list[str]] = defaultdict(list)
    try:
        for rel, where, stats in _stats_sources(ds):
            bad, nan = _stat_findings(stats, ds.info.features, v3=ds.is_v3)
            shapes[rel] += [f"{where}: {b}" for b in bad]
            nonfinite[rel] += [f"{where}: {n}" for n in nan]
    except (OSError, ValueError, pa.ArrowException) as err:  # invalid JSON / parquet (DatasetMeta names jsonl ones)
        return [quirk("unreadable_stats", "error", f"stats cannot be read ({err})")]
    kinds: tuple[tuple[dict[str, list[str]], str, Severity, str], ...] = (
        (shapes, "stats_shape_mismatch", "error", "stats whose shape is not the feature's"),
        (nonfinite, "stats_not_finite", "warning", "NaN/inf stats (normalization yields NaN)"),
    )
    return [
        quirk(c, sev, f"{rel}: {what}: {listing(xs)}", rel) for f, c, sev, what in kinds for rel, xs in f.items() if xs
    ]


def _data_files(ds: LoadedDataset) -> dict[str, list[int]]:
    """Readable data files -> the episodes they hold (problem files are reported already)."""
    files: dict[str, list[int]] = defaultdict(list)
    for ep, loc in sorted(ds.episodes.items()):
        if ep not in ds.problems or ds.problems[ep][2] != "data_path":
            files[loc.data_file].append(ep)
    return files


def check_default_columns(ds: LoadedDataset) -> list[Quirk]:
    missing: dict[str, list[int]] = defaultdict(list)
    first: dict[str, str] = {}
    wanted = {**DEFAULT_COLUMNS, **({"frame_index": "warning"} if ds.is_v3 else {})}
    for rel, eps in _data_files(ds).items():
        try:
            with ds.root.file(rel).readable() as src:
                names = set(pq.read_schema(src).names)
        except (OSError, pa.ArrowException, OutsideRoot):
            continue  # unreadable_parquet is reported by DatasetMeta / the adapter
        for col in wanted:
            if col not in names:
                missing[col] += eps
                first.setdefault(col, rel)
    out = []
    if "frame_index" in missing:
        msg = f"parquet files have no 'frame_index' column: episodes {listing(missing.pop('frame_index'))}"
        out.append(quirk("no_frame_index_column", "warning", msg, first["frame_index"]))
    for sev in ("error", "warning"):
        cols = [c for c in missing if wanted[c] == sev]
        if cols:
            what = "; ".join(f"{c} (episodes {listing(missing[c])})" for c in cols)
            msg = f"data parquet lacks lerobot's default column(s): {what}"
            out.append(quirk("missing_default_column", sev, msg, first[cols[0]]))  # type: ignore[arg-type]
    return out


def check_v3_rows(ds: LoadedDataset) -> list[Quirk]:
    """v3: per episode of each shared data file, timestamps / frame_index / task_index / row count."""
    if not ds.is_v3:
        return []
    found = EpisodeFindings()
    rows_off: list[str] = []
    first_rel = None
    for rel, eps in _data_files(ds).items():
        try:
            with ds.root.file(rel).readable() as src:
                pf = pq.ParquetFile(src)
                wanted = ("episode_index", "timestamp", "frame_index", "task_index")
                cols = [c for c in wanted if c in pf.schema_arrow.names]
                table = pf.read(columns=cols)
        except (OSError, pa.ArrowException, OutsideRoot):
            continue
        if "episode_index" not in cols:
            continue  # missing_default_column
        arr = {c: np.asarray(table[c].to_numpy(), DTYPES.get(c)) for c in cols if c != "episode_index"}
        by_ep = np.asarray(table["episode_index"].to_numpy(), np.int64)
        for ep in eps:
            sel = np.flatnonzero(by_ep == ep)
            loc = ds.episodes[ep]
            if loc.rows is not None and len(sel) != loc.rows[1] - loc.rows[0]:
                rows_off.append(f"episode {ep}: {len(sel)} rows, [{loc.rows[0]}, {loc.rows[1]}) in meta")
                first_rel = first_rel or rel
            if len(sel):
                found.frames(ep, rel, {c: arr[c][sel] for c in arr}, len(sel), ds.info.fps, set(ds.tasks) or None)
    out = found.quirks(has_video=bool(ds.info.video_keys))
    if rows_off:
        msg = f"rows of the data file differ from the episode's index range: {listing(rows_off)}"
        out.append(quirk("episode_rows_mismatch", "error", msg, first_rel))
    return out


def _rows(ds: LoadedDataset, ep: int, cache: dict[str, int | None]) -> int | None:
    """Rows a loader indexes for the episode: v3 its index range, v2 its parquet's row count (footer only)."""
    loc = ds.episodes[ep]
    if loc.rows is not None:
        return loc.rows[1] - loc.rows[0]
    if loc.data_file not in cache:
        try:
            with ds.root.file(loc.data_file).readable() as src:
                cache[loc.data_file] = pq.read_metadata(src).num_rows
        except (OSError, pa.ArrowException, OutsideRoot):
            cache[loc.data_file] = None  # missing / unreadable: reported elsewhere
    return cache[loc.data_file]


def _next_starts(ds: LoadedDataset, key: str) -> dict[str, list[float]]:
    """v3: each mp4 of a camera -> the `from_timestamp`s of the episodes it holds, sorted (where one's frames end)."""
    starts: dict[str, list[float]] = defaultdict(list)
    for loc in ds.episodes.values():
        clip = loc.videos.get(key)
        if clip is not None:
            starts[clip.file].append(clip.start_s)
    return {f: sorted(s) for f, s in starts.items()}


def _episode_frames(t: np.ndarray, start: float, end: float | None, rows: int, fps: float, after: list[float]):
    """(frames a loader finds for the episode's rows, frames inside its metadata span) of one clip's frame times.

    lerobot seeks `from_timestamp + timestamp` for each row and never reads `to_timestamp` (lerobot 0.6.1 as installed
    in `.venv-oracle-v30`: `_query_videos`, huggingface/lerobot src/lerobot/datasets/dataset_reader.py): an episode
    holds the frames from its start over `rows / fps`, up to the next episode's start in the same file; its metadata
    span `[from_timestamp, to_timestamp)` is counted apart (v2: the whole file, both alike)."""
    tol = 0.25 / fps if fps > 0 else 0.0
    if end is None:
        n = len(t)
        return n, n
    stop = start + rows / fps if fps > 0 else end
    stop = min([stop, *(s for s in after if s > start + tol)])
    found = int(np.count_nonzero((t >= start - tol) & (t < stop - tol)))
    return found, int(np.count_nonzero((t >= start - tol) & (t < end - tol)))


def check_videos(ds: LoadedDataset) -> list[Quirk]:
    """Frames each episode's clip holds (packet headers) against its rows; a v3 `to_timestamp` ending before the last
    row's frame is a note (the loader reads by `from_timestamp`); v3 clips missing per episode."""
    short: list[str] = []
    long: list[str] = []
    span_short: list[str] = []
    missing: dict[str, list[int]] = defaultdict(list)
    unreadable: list[str] = []
    first: dict[str, str] = {}
    times: dict[str, np.ndarray | None] = {}
    row_counts: dict[str, int | None] = {}
    for key in ds.info.video_keys:  # ghost cameras too: a loader decodes every declared one
        starts = _next_starts(ds, key)
        for ep, loc in sorted(ds.episodes.items()):
            clip = loc.videos.get(key)
            if clip is None or not (ds.root / clip.file).is_file():
                missing[key].append(ep)
                first.setdefault("missing", clip.file if clip else key)
                continue
            if clip.file not in times:
                try:
                    with decoding(ds.root.file(clip.file)) as (c, s):
                        times[clip.file] = packet_times(c, s)[1]
                except (OSError, av.FFmpegError, IndexError, OutsideRoot) as err:
                    times[clip.file] = None
                    why = err if isinstance(err, OutsideRoot) else lfs_pointer_message(ds.root / clip.file) or err
                    unreadable.append(f"{clip.file} ({why})")
            t = times[clip.file]
            rows = _rows(ds, ep, row_counts)
            if t is None or rows is None:
                continue
            n, in_span = _episode_frames(t, clip.start_s, clip.end_s, rows, ds.info.fps, starts.get(clip.file, []))
            note = f"episode {ep} {key}: {n} frames for {rows} rows"
            if n < rows:
                short.append(note)
                first.setdefault("short", clip.file)
            elif in_span > rows:
                long.append(f"episode {ep} {key}: {in_span} frames for {rows} rows")
                first.setdefault("long", clip.file)
            elif in_span < rows:
                span_short.append(f"episode {ep} {key}: to_timestamp {clip.end_s:g} s spans {in_span} of {rows} frames")
                first.setdefault("span", clip.file)
    out = []
    if ds.is_v3 and missing:  # v2: DatasetMeta's missing_video_files
        what = "; ".join(f"{k} (episodes {listing(eps)})" for k, eps in missing.items())
        out.append(quirk("missing_video_files", "error", f"no mp4 for {what}", first["missing"]))
    if unreadable:
        out.append(quirk("unreadable_video", "error", f"mp4 files PyAV cannot open: {listing(unreadable)}"))
    too_short = "videos with fewer frames than the episode has rows (a loader fails at the last ones)"
    too_long = "videos with more frames than the episode has rows"
    span = "meta/episodes to_timestamp ends before the last row's frame, every frame present (lerobot seeks "
    span += "from_timestamp + timestamp and decodes it)"
    kinds: tuple[tuple[list[str], str, Severity, str, str], ...] = (
        (short, "video_too_short", "error", too_short, "short"),
        (long, "video_frame_count_mismatch", "warning", too_long, "long"),
        (span_short, "video_span_short_in_meta", "info", span, "span"),
    )
    return out + [quirk(c, sev, f"{what}: {listing(xs)}", first[k]) for xs, c, sev, what, k in kinds if xs]


def check_modality_file(ds: LoadedDataset) -> list[Quirk]:
    if ds.modality is None:
        return []
    try:
        modality = ModalityJson.parse(ds.modality)
    except ValueError as err:
        return [quirk("modality_invalid", "error", str(err), "meta/modality.json")]
    return check_modality(modality, ds.info)


def loader_checks(ds: LoadedDataset, *, data: bool = True, videos: bool = True) -> list[Quirk]:
    """Every check above; `data` reads parquet footers and v3 rows, `videos` demuxes every mp4 once."""
    out = check_stats(ds) + check_modality_file(ds)
    if data:
        out += check_default_columns(ds) + check_v3_rows(ds)
    if videos:
        out += check_videos(ds)
    return out
