"""One LeRobot episode (v2.x or v3.0 rows, mp4 spans) read into a `RawEpisode`; used by `adapters.lerobot.adapter`.

Per-episode findings become quirks in `metadata["episode_quirks"]`; what makes the episode unreadable raises the
`AdapterError` built by the adapter's `error` (file, episode, field named).

The language of one LeRobot episode (`episode_language`): which columns hold instructions, descriptions and
annotation labels (`adapters.lerobot.columns`' vocabularies) and the spans their runs cover.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from adapters.base import AdapterError, CameraSource, EpisodeRef, Language, RawEpisode, Stream, reraised
from adapters.cameras import EncodedImagesCamera, VideoClipCamera, VideoFileCamera
from adapters.lerobot import columns
from adapters.lerobot.columns import BOOKKEEPING, MODALITY_DEFAULT, SUCCESS_COLUMNS, hand_signals, is_action_column
from adapters.lerobot_format.files import unreadable
from adapters.lerobot_format.layout import EpisodeLocation, LoadedDataset, column_to_numpy, is_numeric, read_v3_rows
from schemas.canonical import Camera
from schemas.containment import OutsideRoot
from schemas.lerobot import ActionSegment
from schemas.quirks import TOLERANCE_S, Quirk, Severity, quirk
from schemas.robots.registry import UNKNOWN_EMBODIMENT
from schemas.settings import TooLarge, check, limit
from schemas.tiers import NO_DESCRIPTION, QualityTier, TierVerdict

OUTCOME_PREFIX = "next."  # a step outcome column (`RawEpisode.outcomes`)


@dataclass(frozen=True)
class ReadSettings:
    """The adapter's decisions an episode read needs (options resolved against the dataset)."""

    timestamp_offset: Literal["auto", "none"] | float
    split_modality: bool
    robot_type: str | None
    embodiment: str
    embodiment_from: str
    tier: QualityTier


class EpisodeReader:
    """Reads one episode of a loaded dataset (one instance per read)."""

    def __init__(
        self,
        ds: LoadedDataset,
        loc: EpisodeLocation,
        ref: EpisodeRef,
        settings: ReadSettings,
        error: Callable[..., AdapterError],
    ) -> None:
        self.ds, self.loc, self.ref, self.settings, self._error = ds, loc, ref, settings, error
        self.data_path = ds.root / loc.data_file
        self.fps = float(ds.info.fps)
        self.quirks: list[Quirk] = []
        self.layout: dict[str, list[list[Any]]] = {}

    def fail(self, message: str, *, file: Path | str | None = None, field: str | None = None) -> AdapterError:
        return self._error(message, file=file or self.data_path, episode=self.ref.raw_id, field=field)

    def note(self, code: str, severity: Severity, message: str) -> None:
        self.quirks.append(quirk(code, severity, message, self.loc.data_file))

    def table(self) -> pa.Table:
        with reraised(OutsideRoot, lambda err: self.fail(str(err), field="data_path")):
            self.ds.root.file(self.loc.data_file)
        try:
            if self.ds.is_v3:
                return read_v3_rows(self.data_path, self.loc.episode_index, self.loc.rows or (0, 0))
            with self.data_path.readable() as src, pq.ParquetFile(src) as pf:
                columns = pf.metadata.num_columns  # leaf columns, from the footer: checked before any is read
                check("parquet columns", columns, limit("COLUMNS"), "the COLUMNS limit")
                return pf.read()
        except TooLarge as err:
            raise self.fail(str(err), field="data_path") from err
        except (OSError, ValueError, pa.ArrowException) as err:
            raise self.fail(unreadable("parquet", self.data_path, err), field="data_path") from err

    def timestamps(self, table: pa.Table) -> np.ndarray:
        n = table.num_rows
        with reraised(ValueError, lambda err: self.fail(f"bad time column ({err})", field="timestamp")):
            if "frame_index" in table.column_names:
                fi = column_to_numpy(table["frame_index"]).astype(np.int64).reshape(n)
            else:
                fi = np.arange(n, dtype=np.int64)
                self.note("no_frame_index", "info", "no 'frame_index' column: row order taken as frame order")
            if "timestamp" in table.column_names:
                return column_to_numpy(table["timestamp"]).astype(np.float64).reshape(n)
        self.note("no_timestamp", "warning", "no 'timestamp' column: frame_index / fps used")
        return fi.astype(np.float64) / self.fps

    def offset(self, ts: np.ndarray, cams: dict[str, CameraSource]) -> float:
        """Seconds to subtract from the parquet timestamps (`timestamp_offset`, see the adapter's docstring)."""
        mode = self.settings.timestamp_offset
        if mode == "none" or not len(ts):
            return 0.0
        if not isinstance(mode, str):
            self.note("timestamp_offset_corrected", "info", f"{mode:.6g}s subtracted (timestamp_offset option)")
            return float(mode)
        video = [(k, c.timestamps) for k, c in sorted(cams.items()) if not isinstance(c, EncodedImagesCamera)]
        video = [(k, t) for k, t in video if len(t)]
        if not video:
            if abs(ts[0]) <= TOLERANCE_S:
                return 0.0
            self.note("timestamp_offset_corrected", "info", f"no video: first row at {ts[0]:.6g}s moved to 0 s")
            return float(ts[0])
        key, vt = video[0]
        m = min(len(ts), len(vt))
        d = ts[:m] - vt[:m]
        off = float(d[0])
        if np.max(np.abs(d - off)) > 0.5 / self.fps:
            msg = f"parquet - {key} PTS is not constant ({d.min():.6g}..{d.max():.6g}s): parquet timestamps kept"
            self.note("timestamp_video_drift", "warning", msg + self.retime(ts, cams))
            return 0.0
        if abs(off) <= TOLERANCE_S:
            return 0.0
        msg = f"parquet timestamps are {off:.6g}s after the {key} PTS over {m} frames: subtracted"
        self.note("timestamp_offset_corrected", "info", msg)
        return off

    def retime(self, ts: np.ndarray, cams: dict[str, CameraSource]) -> str:
        """With a drifting clock (a hand-made recorder writing wall-clock timestamps at 18.8 Hz into a dataset whose
        mp4s play at the declared 20), a video holding exactly one frame per row gets the rows' timestamps: lerobot
        records an observation's images and state in one frame (`LeRobotDataset.add_frame`) and encodes the episode's
        images in that order, so frame i is row i (huggingface/lerobot lerobot/common/datasets/lerobot_dataset.py).
        Other videos keep their PTS. Returns the words for the drift quirk."""
        same = sorted(k for k, c in cams.items() if not isinstance(c, EncodedImagesCamera) and len(c) == len(ts))
        for k in same:
            cams[k].timestamps = np.asarray(ts, dtype=np.float64)
        if len(ts) > 1 and ts[-1] > ts[0]:
            rate = f" (rows at {(len(ts) - 1) / (ts[-1] - ts[0]):.4g} Hz, declared {self.fps:g})"
        else:
            rate = ""
        if not same:
            return f"{rate}; videos left on their PTS (no video has one frame per row)"
        return f"{rate}; {same} hold one frame per row: frame i takes row i's timestamp"

    def cameras(self, table: pa.Table, ts_rows: np.ndarray) -> dict[str, CameraSource]:
        out: dict[str, CameraSource] = {}
        for key, canonical in self.ds.cameras.items():
            if self.ds.info.features[key].dtype == "image":
                out[key] = self.image_camera(table, key, canonical, ts_rows)
                continue
            clip = self.loc.videos[key]
            path = self.ds.root / clip.file
            try:
                self.ds.root.file(clip.file)
            except OutsideRoot as err:
                raise self.fail(str(err), file=path, field=key) from err
            try:
                if self.ds.is_v3:
                    end = clip.end_s if clip.end_s is not None else clip.start_s + self.loc.length / self.fps
                    out[key] = VideoClipCamera(path, key, canonical, clip.start_s, end, tolerance_s=0.25 / self.fps)
                else:
                    out[key] = VideoFileCamera(path, key, canonical)
            except (OSError, av.FFmpegError, IndexError) as err:
                raise self.fail(unreadable("mp4", path, err), file=path, field=key) from err
            if len(out[key]) != table.num_rows:
                msg = f"{key}: {len(out[key])} video frames for {table.num_rows} parquet rows"
                self.note("video_frame_count_mismatch", "warning", msg)
        return out

    def image_camera(self, table: pa.Table, key: str, canonical: Camera | None, ts: np.ndarray) -> CameraSource:
        """`dtype: image` features: PNG/JPEG bytes embedded in the parquet rows (HF `Image()` struct)."""
        if key not in table.column_names:
            raise self.fail("image feature has no parquet column", field=key)
        col = table[key].combine_chunks()
        if not pa.types.is_struct(col.type) or col.type.get_field_index("bytes") < 0:
            raise self.fail(f"image column is {col.type}, not a struct with 'bytes'", field=key)
        images = col.field("bytes").to_pylist()
        if any(b is None for b in images):
            raise self.fail("image rows without embedded bytes", field=key)
        with reraised(ValueError, lambda err: self.fail(f"undecodable image ({err})", field=key)):
            return EncodedImagesCamera(images, key, canonical, ts)

    def streams(self, table: pa.Table, ts: np.ndarray) -> tuple[dict[str, Stream], ...]:
        """(states, actions, signals) of every numeric column but bookkeeping and cameras: `observation.*`, `state.*`,
        `states.*` -> states, `action*` / `actions*` -> actions (`is_action_column`), the rest (`next.reward`,
        `next.done`, `annotation.*` task indexes, ...) -> signals; canonicalization keeps all three as natives."""
        states: dict[str, Stream] = {}
        actions: dict[str, Stream] = {}
        signals: dict[str, Stream] = {}
        for col in table.column_names:
            spec = self.ds.info.features.get(col)
            if col in BOOKKEEPING or col in self.ds.cameras or (spec is not None and spec.is_visual):
                continue
            if not is_numeric(table.schema.field(col).type):
                continue
            try:
                values = column_to_numpy(table[col])
            except (ValueError, pa.ArrowException) as err:
                raise self.fail(f"column cannot be read as an array ({err})", field=col) from err
            names = spec.flat_names() if spec is not None else None
            names = tuple(names) if names and values.ndim == 2 and len(names) == values.shape[1] else None
            stream = Stream(ts, values, names)
            if is_action_column(col):
                actions.update(self.split("action", col, stream))
            elif col.startswith("observation.") or col.split(".")[0] in ("state", "states"):
                states.update(self.split("state", col, stream))
            else:
                signals[col] = stream
        return states, actions, signals

    def split(self, group: str, col: str, stream: Stream) -> dict[str, Stream]:
        """GR00T modality.json: `[start, end)` slices of `col` as `<group>.<key>` streams (+ `<col>.unassigned`)."""
        entries = ((self.ds.modality or {}).get(group) or {}) if self.settings.split_modality else {}
        mine = {
            k: e
            for k, e in entries.items()
            if isinstance(e, dict) and e.get("original_key", MODALITY_DEFAULT[group]) == col
        }
        if not mine:
            return {col: stream}
        width = stream.values.shape[1] if stream.values.ndim == 2 else 0
        try:
            slices = sorted((int(e["start"]), int(e["end"]), k) for k, e in mine.items())
        except (KeyError, TypeError, ValueError):
            slices = []
        covered = np.zeros(width, dtype=int)
        for s, e, _ in slices:
            covered[max(s, 0) : e] += 1
        if not slices or any(s < 0 or e > width or s >= e for s, e, _ in slices) or covered.max(initial=0) > 1:
            msg = f"modality.json {group} slices {slices} do not fit {col} (width {width}): kept whole"
            self.note("modality_invalid", "warning", msg)
            return {col: stream}
        out = {}
        for s, e, k in slices:
            names = stream.names[s:e] if stream.names else None
            out[f"{group}.{k}"] = Stream(stream.timestamps, stream.values[:, s:e], names, stream.unit, stream.frame)
        self.layout[col] = [[f"{group}.{k}", s, e] for s, e, k in slices]
        rest = np.flatnonzero(covered == 0)
        if len(rest):
            names = tuple(stream.names[i] for i in rest) if stream.names else None
            out[f"{col}.unassigned"] = Stream(stream.timestamps, stream.values[:, rest], names)
            self.layout[col].append([f"{col}.unassigned", rest.tolist()])
        return out

    def success(self, table: pa.Table) -> tuple[bool | None, str | None]:
        """A success flag only from columns that mean it; `next.done` marks the end of every recorded episode."""
        for col in SUCCESS_COLUMNS:
            if col in table.column_names and is_numeric(table.schema.field(col).type):
                return bool(np.any(column_to_numpy(table[col]))), col
        flag = self.loc.extra.get("success")
        return (flag, "episode meta 'success'") if isinstance(flag, bool) else (None, None)

    def check_rows(self, table: pa.Table) -> None:
        n, loc = table.num_rows, self.loc
        if n == 0:
            raise self.fail("episode has no rows", field="data_path")
        if n != loc.length:
            msg = f"meta length {loc.length} but {n} parquet rows (rows read)"
            self.note("episode_length_mismatch", "warning", msg)
        if self.ds.is_v3 and "index" in table.column_names and loc.rows is not None:
            idx = column_to_numpy(table["index"]).reshape(-1)
            if idx[0] != loc.rows[0] or idx[-1] != loc.rows[1] - 1:
                msg = f"'index' spans {idx[0]}..{idx[-1]} but the episode meta says [{loc.rows[0]}, {loc.rows[1]})"
                self.note("index_range_mismatch", "warning", msg)

    def read(self) -> RawEpisode:
        ds, loc, st = self.ds, self.loc, self.settings
        table = self.table()
        self.check_rows(table)
        raw_ts = self.timestamps(table)
        cams = self.cameras(table, raw_ts)
        offset = self.offset(raw_ts, cams)
        ts = raw_ts - offset
        for cam in cams.values():
            if isinstance(cam, EncodedImagesCamera):
                cam.timestamps = ts
        if len(ts) > 1 and np.any(np.diff(ts) < 0):
            self.note("timestamps_not_monotonic", "warning", "parquet timestamps decrease somewhere")
        states, actions, signals = self.streams(table, ts)
        language, annotations = episode_language(table, ts, self.ds.tasks, self.loc.tasks, self.note)
        success, success_from = self.success(table)
        try:
            segments = [ActionSegment.model_validate(s) for s in loc.extra.get("action_config") or []]
        except ValueError as err:
            path = ds.root / "meta/episodes.jsonl"
            raise self.fail(f"bad action_config ({err})", file=path, field="action_config") from err
        metadata: dict[str, Any] = {
            "dataset": str(ds.root),
            "codebase_version": ds.version,
            "episode_index": loc.episode_index,
            "data_file": loc.data_file,
            "meta_length": loc.length,
            "meta_tasks": list(loc.tasks),
            "episode_meta": {k: v for k, v in loc.extra.items() if k != "action_config"},
            "quirks": [q.model_dump() for q in ds.quirks],
            "episode_quirks": [q.model_dump() for q in self.quirks],
            "timestamp_offset_s": offset,
            "first_parquet_timestamp_s": float(raw_ts[0]),
            "camera_map": {k: (c.value if c else None) for k, c in ds.cameras.items()},
            "camera_notes": dict(ds.camera_notes),
            "embodiment_from": st.embodiment_from,
            "success_from": success_from,
            "annotations": annotations,
        }
        if "index" in table.column_names:
            idx = column_to_numpy(table["index"]).reshape(-1)
            metadata["global_index"] = [int(idx[0]), int(idx[-1])]
        if ds.modality is not None:
            metadata["modality"] = ds.modality
            metadata["stream_layout"] = self.layout
        return RawEpisode(
            ref=self.ref,
            robot_type=st.robot_type,
            embodiment=st.embodiment,
            tier=st.tier,
            native_fps=self.fps,
            states=states,
            actions=actions,
            cameras=cams,
            language=language,
            action_config=segments or None,
            success=success,
            # lerobot's own name for a step's outcome: `next.reward`, `next.done`, `next.success` (the features of its
            # pusht dataset and of the real GR00T sample); the other columns stay signals
            signals={k: s for k, s in signals.items() if not k.startswith(OUTCOME_PREFIX)},
            outcomes={k: s for k, s in signals.items() if k.startswith(OUTCOME_PREFIX)},
            metadata=metadata,
            verdicts=_unknown_robot(st),
            hands=hand_signals(states, actions),
        )


def _unknown_robot(st: ReadSettings) -> tuple[TierVerdict, ...]:
    said = f"no kinematic description for robot_type {st.robot_type!r} (unknown robot: {st.embodiment_from})"
    return (TierVerdict.note(f"{said}: natives only", NO_DESCRIPTION),) if st.embodiment == UNKNOWN_EMBODIMENT else ()


def episode_language(
    table: pa.Table,
    ts: np.ndarray,
    tasks: Mapping[int, str],
    fallback: Sequence[str],
    note: Callable[[str, Severity, str], None],
) -> tuple[list[Language], dict[str, list[dict[str, Any]]]]:
    """The instructions and descriptions of one episode's rows with their spans: `task_index` and numeric
    `annotation.*` columns (indices into the dataset's `tasks`; a label column's runs go to the annotations), per-frame
    string columns (ports that store the instruction itself), else the episode meta's `fallback` tasks. An index not
    in `tasks` is `note`d (`task_index_unknown`) and skipped; the same text over the same span is kept once."""
    out: list[Language] = []
    annotations: dict[str, list[dict[str, Any]]] = {}
    for col in ["task_index", *sorted(c for c in table.column_names if c.startswith("annotation."))]:
        if col not in table.column_names or not is_numeric(table.schema.field(col).type):
            continue
        kind_words, label_words = col.lower(), col.lower().split(".")[-1]
        instruction = col == "task_index" or any(w in kind_words for w in columns.INSTRUCTION_ANNOTATION)
        kind = "instruction" if instruction else "description"
        is_label = col != "task_index" and any(w in label_words for w in columns.LABEL_ANNOTATION)
        for start, end, value in columns.runs(column_to_numpy(table[col]).reshape(-1)):
            text = tasks.get(int(value))
            if text is None:
                note("task_index_unknown", "warning", f"{col} value {value} is not a task index")
                continue
            s, e = columns.span_s(ts, start, end)
            if is_label:
                annotations.setdefault(col, []).append({"text": text, "start_s": s, "end_s": e})
            else:
                out.append(Language(text, kind, s, e))
    for col in table.column_names:  # per-frame strings (some ports store the instruction itself)
        t = table.schema.field(col).type
        if col not in BOOKKEEPING and (pa.types.is_string(t) or pa.types.is_large_string(t)):
            for start, end, value in columns.runs(np.asarray(table[col].to_pylist(), dtype=object)):
                if value:
                    out.append(Language(str(value), "instruction", *columns.span_s(ts, start, end)))
    if not out and "task_index" not in table.column_names:
        out = [Language(t) for t in fallback]
    return list(dict.fromkeys(out)), annotations  # the same text over the same span once
