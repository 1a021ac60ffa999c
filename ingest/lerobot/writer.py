"""A LeRobot v2.1 dataset writer with atomic episodes.

Episodes are staged in `.eidata/staging/<id>/` (see `ingest.lerobot.staging`). A commit assigns the next episode
index, writes the parquet, then records every remaining step (file moves, jsonl appends, the new info.json) in a
journal written atomically: the journal is the commit point. Applying a journal is idempotent, so a crash while
applying is rolled forward when the dataset is next opened, and a crash before it leaves only a staging folder, which
opening removes, as it removes the temp files of atomic writes that a crash cut short. A dataset has one writer at a
time (an exclusive lock on `.eidata/writer.lock`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ingest.files.atomic import fsync_path, remove_temp_files, write_text_atomic
from ingest.lerobot.errors import DatasetError, EpisodeError
from ingest.lerobot.staging import (
    TASK_COLUMN,
    TIMESTAMP64_COLUMN,
    EpisodeBuilder,
    StagedEpisode,
    is_stage_in_use,
    read_frames,
)
from ingest.lerobot.stats import numeric_stats
from ingest.lerobot.table import arrow_schema, table_features
from ingest.lerobot.video import VideoCodec, probe_video_info
from schemas.lerobot import (
    CODEBASE_VERSION,
    DEFAULT_CHUNK_SIZE,
    EPISODES_PATH,
    EPISODES_STATS_PATH,
    INFO_PATH,
    TASKS_PATH,
    EpisodeEntry,
    EpisodeStatsEntry,
    FeatureSpec,
    InfoJson,
    TaskEntry,
    default_features,
    dump_info,
    dump_jsonl_line,
    load_entries,
    load_info,
)

log = logging.getLogger(__name__)

STATE_DIR = ".eidata"
JOURNAL = f"{STATE_DIR}/commit.json"
STAGING = f"{STATE_DIR}/staging"
LOCK = f"{STATE_DIR}/writer.lock"


def _validate_features(features: Mapping[str, FeatureSpec]) -> None:
    for name, ft in features.items():
        if "/" in name:
            raise ValueError(f"feature name {name!r} contains '/', which lerobot forbids")
        if name in default_features():
            raise ValueError(f"feature {name!r} is added by the writer itself; do not declare it")
        if ft.is_video and (len(ft.shape) != 3 or ft.shape[2] != 3):
            raise ValueError(f"video feature {name!r} must have shape (height, width, 3), got {ft.shape}")
    table_features(features)  # rejects image/string dtypes and unstorable shapes


class LeRobotWriter:
    """Writes one LeRobot v2.1 dataset. Use `create` for a new dataset, `open` to continue an existing one."""

    def __init__(
        self, root: Path, info: InfoJson, codec: VideoCodec, *, durable: bool = True, recover: bool = True
    ) -> None:
        self.root = Path(root)
        self.info = info
        self.codec = codec
        self.durable = durable
        self._lock_fd: int | None = None
        self._acquire_lock()
        try:
            self._remove_temp_files()
            if recover:
                self._recover()
            self.info = load_info(self.root / INFO_PATH)
            self._tasks: dict[str, int] = {}
            if (self.root / TASKS_PATH).exists():
                self._tasks = {t.task: t.task_index for t in load_entries(self.root / TASKS_PATH, TaskEntry)}
        except BaseException:
            self.close()
            raise

    # -- construction -------------------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        root: Path,
        *,
        fps: int,
        features: Mapping[str, FeatureSpec],
        robot_type: str | None = None,
        codec: VideoCodec | None = None,
        chunks_size: int = DEFAULT_CHUNK_SIZE,
        durable: bool = True,
    ) -> LeRobotWriter:
        root = Path(root)
        if (root / INFO_PATH).exists():
            raise DatasetError(f"{root}: a dataset already exists here; use LeRobotWriter.open to continue it")
        if int(fps) != fps or fps <= 0:
            raise ValueError(f"fps must be a positive integer, got {fps}")
        features = dict(features)
        _validate_features(features)
        has_video = any(ft.is_video for ft in features.values())
        info = InfoJson(
            robot_type=robot_type,
            fps=int(fps),
            chunks_size=chunks_size,
            video_path=InfoJson.model_fields["video_path"].default if has_video else None,
            features={**{k: ft.model_copy(deep=True) for k, ft in features.items()}, **default_features()},
        )
        (root / "meta").mkdir(parents=True, exist_ok=True)
        (root / STATE_DIR).mkdir(exist_ok=True)
        write_text_atomic(root / INFO_PATH, dump_info(info))
        # a new dataset has nothing to recover, and its staging area may already hold episodes parallel workers
        # finished for it: they must survive until committed
        return cls(root, info, codec or VideoCodec(), durable=durable, recover=False)

    @classmethod
    def open(
        cls, root: Path, *, codec: VideoCodec | None = None, durable: bool = True, recover: bool = True
    ) -> LeRobotWriter:
        """Continue an existing dataset. `recover=False` leaves its staging area alone: for a job that recovered
        it already and whose parallel workers are staging into it now."""
        root = Path(root)
        if not (root / INFO_PATH).exists():
            raise DatasetError(f"{root}: no {INFO_PATH}; not a dataset (use LeRobotWriter.create)")
        info = load_info(root / INFO_PATH)
        if info.codebase_version != CODEBASE_VERSION:
            raise DatasetError(f"{root}: codebase_version {info.codebase_version!r}, this writer appends to v2.1 only")
        (root / STATE_DIR).mkdir(exist_ok=True)
        return cls(root, info, codec or VideoCodec(), durable=durable, recover=recover)

    @classmethod
    def create_or_open(cls, root: Path, *, recover: bool = True, **kw: Any) -> LeRobotWriter:
        """Open when a dataset with the same features and fps exists (see `open` for `recover`), else create it."""
        root = Path(root)
        if not (root / INFO_PATH).exists():
            return cls.create(root, **kw)
        w = cls.open(root, codec=kw.get("codec"), durable=kw.get("durable", True), recover=recover)
        want = {k: (ft.dtype, tuple(ft.shape)) for k, ft in kw["features"].items()}
        have = {k: (ft.dtype, tuple(ft.shape)) for k, ft in w.user_features.items()}
        if want != have or int(w.info.fps) != int(kw["fps"]):
            w.close()
            raise DatasetError(f"{root}: the existing dataset has other features or fps than asked for")
        return w

    # -- lock ---------------------------------------------------------------------------------------------------
    def _acquire_lock(self) -> None:
        path = self.root / LOCK
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DatasetError(f"{self.root}: another writer (pid {holder}) holds this dataset") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def close(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> LeRobotWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- properties ---------------------------------------------------------------------------------------------
    @property
    def user_features(self) -> dict[str, FeatureSpec]:
        defaults = default_features()
        return {k: ft for k, ft in self.info.features.items() if k not in defaults}

    @property
    def num_episodes(self) -> int:
        return self.info.total_episodes

    @property
    def name(self) -> str:
        return self.root.name

    # -- episodes -----------------------------------------------------------------------------------------------
    def episode(
        self,
        task: str | None = None,
        *,
        label: str | None = None,
        expected_frames: int | None = None,
        threaded_encode: bool = False,
    ) -> _EpisodeContext:
        """A builder for the next episode; as a context manager it commits on success and aborts on error."""
        builder = self.stage(task, label=label, expected_frames=expected_frames, threaded_encode=threaded_encode)
        return _EpisodeContext(self, builder)

    def stage(
        self,
        task: str | None = None,
        *,
        label: str | None = None,
        expected_frames: int | None = None,
        threaded_encode: bool = False,
    ) -> EpisodeBuilder:
        return stage_episode(
            self.root,
            self.info,
            self.codec,
            task=task,
            label=label or f"#{self.info.total_episodes} (pending)",
            expected_frames=expected_frames,
            threaded_encode=threaded_encode,
        )

    def commit(self, staged: StagedEpisode) -> EpisodeEntry:
        """Make a staged episode part of the dataset under the next episode index."""
        return self.commit_group([staged])[0]

    def commit_group(self, group: list[StagedEpisode]) -> list[EpisodeEntry]:
        """Commit several staged episodes atomically, in order: after a crash either all of them are there or none.

        Used for the episodes cut from one raw episode, so that a rerun never finds half of them."""
        if self._lock_fd is None:
            raise DatasetError(f"{self.root}: writer is closed")
        info, tasks = self.info.model_copy(deep=True), dict(self._tasks)
        parts = []
        try:
            for staged in group:
                part, info, tasks = self._prepare(staged, info, tasks)
                parts.append(part)
        except Exception as e:
            for staged in group:
                shutil.rmtree(staged.stage_dir, ignore_errors=True)
            if isinstance(e, EpisodeError):
                raise
            raise EpisodeError(f"commit failed: {e}", dataset=self.name, episode=group[0].label) from e
        appends: dict[str, dict[str, Any]] = {}
        for part in parts:
            for rel, text in part["appends"].items():
                op = appends.setdefault(rel, {"size_before": _size(self.root / rel), "text": ""})
                op["text"] += text
        journal = {
            "episode_indices": [p["episode_index"] for p in parts],
            "stage_dirs": [p["stage_dir"] for p in parts],
            "moves": [m for p in parts for m in p["moves"]],
            "appends": appends,
            "info": info.to_json(),
            "episodes": [p["episode"] for p in parts],
            "new_tasks": [t for p in parts for t in p["new_tasks"]],
        }
        write_text_atomic(self.root / JOURNAL, json.dumps(journal))
        self._apply(journal)
        self.info = info
        self._tasks = tasks
        return [EpisodeEntry.model_validate(e) for e in journal["episodes"]]

    def _prepare(
        self, staged: StagedEpisode, info: InfoJson, tasks: dict[str, int]
    ) -> tuple[dict[str, Any], InfoJson, dict[str, int]]:
        """Everything up to the commit point for one episode, on top of `info`/`tasks` (the dataset as it will be
        after the episodes before it in the group): parquet written in staging, meta lines and the next info."""
        info = info.model_copy(deep=True)
        tasks = dict(tasks)
        ep_index, start = info.total_episodes, info.total_frames
        frames = read_frames(staged.stage_dir)
        n = frames.num_rows
        if n != staged.length:
            raise EpisodeError(f"staged {n} rows but {staged.length} frames", dataset=self.name, episode=staged.label)

        new_tasks = []
        for t in staged.tasks:
            if t not in tasks:
                tasks[t] = len(tasks)
                new_tasks.append({"task_index": tasks[t], "task": t})
        task_lookup = np.array([tasks[t] for t in staged.tasks], dtype=np.int64)
        task_pos = {t: i for i, t in enumerate(staged.tasks)}
        task_col = frames.column(TASK_COLUMN).to_pylist()
        task_index = task_lookup[np.fromiter((task_pos[t] for t in task_col), dtype=np.int64, count=n)]

        columns: dict[str, np.ndarray] = {}
        for key, ft in table_features(self.user_features).items():
            columns[key] = _column_numpy(frames.column(key), ft)
        columns["timestamp"] = frames.column("timestamp").to_numpy()
        columns["frame_index"] = np.arange(n, dtype=np.int64)
        columns["episode_index"] = np.full(n, ep_index, dtype=np.int64)
        columns["index"] = np.arange(start, start + n, dtype=np.int64)
        columns["task_index"] = task_index

        schema = arrow_schema(info.features)
        arrays = [_to_arrow(columns[f.name], f.type) for f in schema]
        table = pa.Table.from_arrays(arrays, schema=schema)
        data_rel = info.data_file(ep_index)
        staged_parquet = staged.stage_dir / "data.parquet"
        pq.write_table(table, staged_parquet, compression="snappy", row_group_size=max(n, 1))

        # stats in feature order, as lerobot: cameras from staging, numeric from the columns
        stats_src = {**columns, "timestamp": frames.column(TIMESTAMP64_COLUMN).to_numpy()}
        stats = {}
        for key, ft in info.features.items():
            stats[key] = staged.stats[key] if ft.is_video else numeric_stats(stats_src[key])

        # journal paths are relative to the dataset root, so a moved or copied dataset still recovers itself
        stage_rel = self._relative(staged.stage_dir)
        moves = [[f"{stage_rel}/data.parquet", data_rel]]
        for key, fname in staged.video_files.items():
            moves.append([f"{stage_rel}/{fname}", info.video_file(ep_index, key)])
        if self.durable:
            for src, _ in moves:
                fsync_path(self.root / src)

        if ep_index == 0:  # lerobot probes episode 0's mp4 for each camera's `info`; keys declared beside it stay
            for key, fname in staged.video_files.items():
                probed = probe_video_info(staged.stage_dir / fname).to_json()
                declared = {k: v for k, v in (info.features[key].info or {}).items() if k not in probed}
                info.features[key].info = {**probed, **declared}
        info.total_episodes += 1
        info.total_frames += n
        info.total_tasks = len(tasks)
        info.total_videos += len(staged.video_files)
        info.total_chunks = max(info.total_chunks, info.episode_chunk(ep_index) + 1)
        info.splits = {"train": f"0:{info.total_episodes}"}

        entry = EpisodeEntry(
            episode_index=ep_index,
            tasks=list(staged.tasks),
            length=n,
            action_config=staged.action_config,
            **staged.extra,
        )
        stats_entry = EpisodeStatsEntry(episode_index=ep_index, stats=stats)
        appends = {
            EPISODES_PATH: dump_jsonl_line(entry.to_json()),
            EPISODES_STATS_PATH: dump_jsonl_line(stats_entry.to_json()),
            TASKS_PATH: "".join(dump_jsonl_line(t) for t in new_tasks),
        }
        part = {
            "episode_index": ep_index,
            "stage_dir": stage_rel,
            "moves": moves,
            "appends": appends,
            "episode": entry.to_json(),
            "new_tasks": new_tasks,
        }
        return part, info, tasks

    def _apply(self, journal: dict[str, Any]) -> None:
        """Idempotent: safe to run again after a crash at any point inside it."""
        touched_dirs = set()
        for src, dst in journal["moves"]:
            src_p, dst_p = self.root / src, self.root / dst
            if src_p.exists():
                dst_p.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src_p, dst_p)
                touched_dirs.add(dst_p.parent)
            elif not dst_p.exists():
                raise DatasetError(f"{self.root}: commit journal names {src}, which is gone and was never moved")
        for rel, op in journal["appends"].items():
            path = self.root / rel
            with open(path, "a+b") as f:
                f.truncate(op["size_before"])
                f.seek(op["size_before"])
                f.write(op["text"].encode("utf-8"))
                f.flush()
                if self.durable:
                    os.fsync(f.fileno())
        if self.durable:
            for d in touched_dirs:
                fsync_path(d)
        write_text_atomic(self.root / INFO_PATH, json.dumps(journal["info"], indent=4, ensure_ascii=False))
        (self.root / JOURNAL).unlink(missing_ok=True)
        for stage in journal["stage_dirs"]:
            shutil.rmtree(self.root / stage, ignore_errors=True)

    def _relative(self, path: Path) -> str:
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            raise DatasetError(
                f"{path} is not inside the dataset {self.root}; stage episodes with this writer"
            ) from None

    # -- recovery -----------------------------------------------------------------------------------------------
    def _remove_temp_files(self) -> None:
        """A writer killed inside an atomic write (its journal or info.json, or a caption run's meta files, all
        written under this lock) leaves a hidden temp file behind; holding the lock, nobody is writing one now."""
        for folder in (self.root / "meta", self.root / STATE_DIR):
            for p in remove_temp_files(folder):
                log.warning("%s: removing %s, left by a writer that was killed", self.root, p.relative_to(self.root))

    def _recover(self) -> None:
        """Finish an interrupted commit, drop unfinished episodes and anything past the committed totals."""
        journal_path = self.root / JOURNAL
        if journal_path.exists():
            journal = json.loads(journal_path.read_text(encoding="utf-8"))
            log.warning("%s: finishing the interrupted commit of episodes %s", self.root, journal["episode_indices"])
            self._apply(journal)
        staging = self.root / STAGING
        if staging.exists():
            for d in staging.iterdir():
                if is_stage_in_use(d):
                    continue  # a live builder (e.g. a parallel worker) is still writing it
                log.warning("%s: removing unfinished episode staged in %s", self.root, d.name)
                shutil.rmtree(d, ignore_errors=True)
        info = load_info(self.root / INFO_PATH)
        self._truncate_jsonl(EPISODES_PATH, info.total_episodes)
        self._truncate_jsonl(EPISODES_STATS_PATH, info.total_episodes)
        self._truncate_jsonl(TASKS_PATH, info.total_tasks)
        self._remove_orphans(info)

    def _truncate_jsonl(self, rel: str, keep: int) -> None:
        path = self.root / rel
        if not path.exists():
            return
        with open(path, "r+b") as f:
            offset = 0
            for _ in range(keep):
                line = f.readline()
                if not line.endswith(b"\n"):
                    raise DatasetError(f"{path}: holds fewer complete lines than info.json counts ({keep})")
                offset += len(line)
            if f.readline():
                log.warning("%s: dropping lines past the %d committed entries", path, keep)
                f.truncate(offset)

    def _remove_orphans(self, info: InfoJson) -> None:
        pattern = re.compile(r"episode_(\d{6})\.(parquet|mp4)$")
        for top in ("data", "videos"):
            base = self.root / top
            if not base.exists():
                continue
            for p in base.rglob("episode_*"):
                m = pattern.search(p.name)
                if m and int(m.group(1)) >= info.total_episodes:
                    log.warning("%s: removing %s, which belongs to no committed episode", self.root, p)
                    p.unlink()


class _EpisodeContext:
    """`with writer.episode(task) as ep:` commits on a clean exit and discards the episode on an exception."""

    def __init__(self, writer: LeRobotWriter, builder: EpisodeBuilder) -> None:
        self.writer, self.builder = writer, builder
        self.entry: EpisodeEntry | None = None

    def __enter__(self) -> EpisodeBuilder:
        return self.builder

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.builder.abort()
            return
        self.entry = self.writer.commit(self.builder.finish())


def stage_episode(
    root: Path,
    info: InfoJson,
    codec: VideoCodec,
    *,
    task: str | None,
    label: str,
    expected_frames: int | None = None,
    threaded_encode: bool = False,
) -> EpisodeBuilder:
    """A builder staging into `root`'s staging area; needs no lock (parallel workers stage, one writer commits)."""
    stage_dir = Path(root) / STAGING / uuid.uuid4().hex
    return EpisodeBuilder(
        stage_dir,
        info.features,
        fps=int(info.fps),
        codec=codec,
        dataset=Path(root).name,
        label=label,
        task=task,
        expected_frames=expected_frames,
        threaded_encode=threaded_encode,
    )


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _column_numpy(col: pa.ChunkedArray, ft: FeatureSpec) -> np.ndarray:
    arr = col.combine_chunks()
    if tuple(ft.shape) == (1,):
        return arr.to_numpy(zero_copy_only=False)
    values = arr.values.to_numpy(zero_copy_only=False)
    return values.reshape(len(arr), *ft.shape)


def _to_arrow(values: np.ndarray, typ: pa.DataType) -> pa.Array:
    """Numpy column -> the parquet column type (scalar, fixed_size_list, or nested lists for ArrayND)."""
    if pa.types.is_fixed_size_list(typ):
        return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1), type=typ.value_type), typ.list_size)
    if pa.types.is_list(typ):
        shape = values.shape[1:]
        inner = pa.array(values.reshape(-1), type=_leaf_type(typ))
        for size in reversed(shape):
            count = len(inner) // size
            inner = pa.ListArray.from_arrays(pa.array(np.arange(count + 1, dtype=np.int32) * size), inner)
        return inner
    return pa.array(values, type=typ)


def _leaf_type(typ: pa.DataType) -> pa.DataType:
    while pa.types.is_list(typ) or pa.types.is_fixed_size_list(typ):
        typ = typ.value_type
    return typ
