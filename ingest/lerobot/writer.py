"""A LeRobot v2.1 dataset writer with atomic episodes.

Episodes are staged in `.eidata/staging/<id>/` (`ingest.lerobot.staging`). A commit assigns the next episode index,
writes the parquet, then records every remaining step (file moves, jsonl appends, the new info.json) in a journal
written atomically: the journal is the commit point. Applying a journal is idempotent, so a crash while applying is
rolled forward when the dataset is next opened, and a crash before it leaves only a staging folder and temp files,
which opening removes. A dataset has one writer at a time (an exclusive lock on `.eidata/writer.lock`).

A commit that fails for a reason of the episode (`EpisodeError`) leaves the dataset as it was, and the next episode
takes the index: a rerun fails it the same way, so the indices are those of any other run. A commit that fails for any
other reason (a full disk, an I/O error, a publisher that cannot reach its bucket: `schemas.faults`), or after
its journal was written, ends this writer's commits (`WriterFailedError`): the episode would succeed on a rerun, and the
one after it must not take its index meanwhile.

The writer is the only owner of a dataset's meta: stages that annotate episodes (captions) ask for a meta update
(`meta_update` / `commit_meta`), journaled and rolled forward exactly like a commit.

A meta update: tasks added and episode lines rewritten, as one journaled writer operation (the writer owns a
dataset's meta; a stage that annotates episodes asks it for one: `LeRobotWriter.update_meta`). The whole update is
validated, journaled and applied; lines of episodes not edited keep their bytes.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from adapters.lerobot_format.files import load_entries, load_info
from adapters.storage.atomic import atomic_write
from ingest.lerobot.commit_part import prepare_part
from ingest.lerobot.errors import DatasetError, EpisodeError, WriterFailedError
from ingest.lerobot.journal import apply_journal, build_journal, build_meta_journal
from ingest.lerobot.recovery import recover as recover_dataset
from ingest.lerobot.recovery import remove_killed_temp_files
from ingest.lerobot.staging import EpisodeBuilder, StagedEpisode
from ingest.lerobot.table import table_features
from ingest.lerobot.video import VideoCodec
from ingest.lerobot.writer_dir import JOURNAL, STAGING, acquire_lock, release_lock
from schemas.faults import describe, environment_fault
from schemas.lerobot import (
    CODEBASE_VERSION,
    DEFAULT_CHUNK_SIZE,
    EPISODES_PATH,
    INFO_PATH,
    TASKS_PATH,
    EpisodeEntry,
    InfoJson,
    TaskEntry,
    dump_info,
    dump_jsonl_line,
    split_lines,
)
from schemas.lerobot_features import DEFAULT_FEATURE_DTYPES, FeatureSpec, default_features
from schemas.storage import STATE_DIR

EpisodeEdit = Callable[[dict[str, Any]], dict[str, Any]]


class MetaUpdate:
    """Collects one update of a dataset's meta; nothing is written until the writer commits it."""

    def __init__(self, root: Path, info: InfoJson, tasks: dict[str, int]) -> None:
        if len(tasks) != info.total_tasks:
            raise DatasetError(f"{root}: {TASKS_PATH} has {len(tasks)} tasks, info.json {info.total_tasks}")
        self.root, self.info = root, info
        self.base = (info.total_episodes, info.total_tasks)  # the dataset this update was planned on
        self.tasks = dict(tasks)
        self.new_tasks: list[dict[str, Any]] = []
        self.edits: dict[int, EpisodeEdit] = {}

    def add_task(self, text: str) -> int:
        """The task index of `text`: the existing one, or the next index (appended to tasks.jsonl on commit)."""
        if text not in self.tasks:
            self.tasks[text] = len(self.tasks)
            self.new_tasks.append({"task_index": self.tasks[text], "task": text})
        return self.tasks[text]

    def edit_episode(self, episode_index: int, edit: EpisodeEdit) -> None:
        """`edit(line) -> line` for the episode's `episodes.jsonl` object (the last edit named for it wins)."""
        self.edits[int(episode_index)] = edit

    def journal(self) -> tuple[dict[str, Any], InfoJson, int]:
        """(the journal, the info.json it leaves, how many episode lines it rewrites). Raises `DatasetError`, with
        nothing written, when an edited episode is not in the dataset."""
        path = self.root / EPISODES_PATH
        lines = split_lines(path.read_text(encoding="utf-8")) if path.exists() else []
        replaced: dict[int, str] = {}
        seen: set[int] = set()
        for n, raw in enumerate(lines):
            if not raw.strip():
                continue
            line = json.loads(raw)
            index = int(line["episode_index"])
            if index in self.edits:
                replaced[n] = dump_jsonl_line(self.edits[index](line))
                seen.add(index)
        if missing := sorted(set(self.edits) - seen):
            raise DatasetError(f"{path}: no episodes {missing[:5]} to update")
        info = self.info
        appends = {}
        if self.new_tasks:  # info.json changes only with the task count, as lerobot's own meta
            info = info.model_copy(deep=True)
            info.total_tasks = len(self.tasks)
            appends[TASKS_PATH] = "".join(dump_jsonl_line(t) for t in self.new_tasks)
        journal = build_meta_journal(
            self.root,
            appends=appends,
            lines={EPISODES_PATH: replaced} if replaced else {},
            info=info if self.new_tasks else None,
        )
        return journal, info, len(replaced)


def _validate_features(features: Mapping[str, FeatureSpec]) -> None:
    for name, ft in features.items():
        if "/" in name:
            raise ValueError(f"feature name {name!r} contains '/', which lerobot forbids")
        if name in DEFAULT_FEATURE_DTYPES:
            raise ValueError(f"feature {name!r} is added by the writer itself; do not declare it")
        if ft.is_video and (len(ft.shape) != 3 or ft.shape[2] != 3):
            raise ValueError(f"video feature {name!r} must have shape (height, width, 3), got {ft.shape}")
    table_features(features)  # rejects image/string dtypes and unstorable shapes


class LeRobotWriter:
    """Writes one LeRobot v2.1 dataset. Use `create` for a new dataset, `open` to continue an existing one."""

    def __init__(
        self,
        root: Path,
        info: InfoJson,
        codec: VideoCodec,
        *,
        durable: bool = True,
        recover: bool = True,
        lock_wait_s: float = 0.0,
        lock_fd: int | None = None,
        keep: frozenset[Path] = frozenset(),
    ) -> None:
        """Takes the dataset's lock (`lock_fd`: already taken by the caller, as `create` does) and recovers it,
        leaving the staged folders in `keep` (finished episodes a job adopts)."""
        self.root = Path(root)
        self.info = info
        self.codec = codec
        self.durable = durable
        # called with each commit's journal once it is applied (a bucket output publishes the episode's files there,
        # `adapters.storage.publish`); an exception from it ends this writer's commits
        self.on_commit: Callable[[dict[str, Any]], None] | None = None
        self._failed: str | None = None  # why this writer's commits ended (see the module's docstring)
        self._lock_fd: int | None = acquire_lock(self.root, wait_s=lock_wait_s) if lock_fd is None else lock_fd
        try:
            remove_killed_temp_files(self.root)
            if recover:
                recover_dataset(self.root, durable=durable, keep=keep)
            self.info = load_info(self.root / INFO_PATH)
            self._tasks: dict[str, int] = {}
            if (self.root / TASKS_PATH).exists():
                self._tasks = {t.task: t.task_index for t in load_entries(self.root / TASKS_PATH, TaskEntry)}
        except BaseException:
            self.close()
            raise

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
        lock_wait_s: float = 0.0,
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
        fd = acquire_lock(root, wait_s=lock_wait_s)  # the lock comes before the first byte of meta
        try:
            if (root / INFO_PATH).exists():  # created by the writer that held the lock before us
                raise DatasetError(f"{root}: a dataset already exists here; use LeRobotWriter.open to continue it")
            (root / "meta").mkdir(parents=True, exist_ok=True)
            (root / STATE_DIR).mkdir(exist_ok=True)
            atomic_write(root / INFO_PATH, dump_info(info))
        except BaseException:
            release_lock(fd)
            raise
        # a new dataset has nothing to recover, and its staging area may already hold episodes parallel workers
        # finished for it: they must survive until committed
        return cls(root, info, codec or VideoCodec(), durable=durable, recover=False, lock_fd=fd)

    @classmethod
    def open(
        cls,
        root: Path,
        *,
        codec: VideoCodec | None = None,
        durable: bool = True,
        recover: bool = True,
        lock_wait_s: float = 0.0,
        keep: frozenset[Path] = frozenset(),
    ) -> LeRobotWriter:
        """Continue an existing dataset. `recover=False` leaves its staging area alone: for a job that recovered
        it already and whose parallel workers are staging into it now; `keep`: staged folders recovery leaves (a job
        adopts them). `lock_wait_s`: how long to wait for another writer to let go of the dataset before
        `WriterLockedError`."""
        root = Path(root)
        if not (root / INFO_PATH).exists():
            raise DatasetError(f"{root}: no {INFO_PATH}; not a dataset (use LeRobotWriter.create)")
        info = load_info(root / INFO_PATH)
        if info.codebase_version != CODEBASE_VERSION:
            raise DatasetError(f"{root}: codebase_version {info.codebase_version!r}, this writer appends to v2.1 only")
        (root / STATE_DIR).mkdir(exist_ok=True)
        return cls(
            root, info, codec or VideoCodec(), durable=durable, recover=recover, lock_wait_s=lock_wait_s, keep=keep
        )

    @classmethod
    def create_or_open(cls, root: Path, *, recover: bool = True, lock_wait_s: float = 0.0, **kw: Any) -> LeRobotWriter:
        """Open a dataset with the same features and fps (see `open`: `recover`, `lock_wait_s`), else create it."""
        root = Path(root)
        if not (root / INFO_PATH).exists():
            return cls.create(root, lock_wait_s=lock_wait_s, **kw)
        w = cls.open(
            root, codec=kw.get("codec"), durable=kw.get("durable", True), recover=recover, lock_wait_s=lock_wait_s
        )
        want = {k: (ft.dtype, tuple(ft.shape)) for k, ft in kw["features"].items()}
        have = {k: (ft.dtype, tuple(ft.shape)) for k, ft in w.user_features.items()}
        if want != have or int(w.info.fps) != int(kw["fps"]):
            w.close()
            raise DatasetError(f"{root}: the existing dataset has other features or fps than asked for")
        return w

    def close(self) -> None:
        if self._lock_fd is not None:
            release_lock(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> LeRobotWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def user_features(self) -> dict[str, FeatureSpec]:
        return {k: ft for k, ft in self.info.features.items() if k not in DEFAULT_FEATURE_DTYPES}

    @property
    def tasks(self) -> dict[str, int]:
        """task text -> task index, as `meta/tasks.jsonl` holds them (a copy)."""
        return dict(self._tasks)

    @property
    def num_episodes(self) -> int:
        return self.info.total_episodes

    @property
    def name(self) -> str:
        return self.root.name

    def episode(self, task: str | None = None, **kw: Any) -> _EpisodeContext:
        """A builder for the next episode (`stage`); as a context manager it commits on success and aborts on error."""
        return _EpisodeContext(self, self.stage(task, **kw))

    def stage(self, task: str | None = None, *, label: str | None = None, **kw: Any) -> EpisodeBuilder:
        """A builder for the next episode (`EpisodeBuilder`'s options: expected_frames, threaded_encode)."""
        label = label or f"#{self.info.total_episodes} (pending)"
        return stage_episode(self.root, self.info, self.codec, task=task, label=label, **kw)

    def commit(self, staged: StagedEpisode) -> EpisodeEntry:
        """Make a staged episode part of the dataset under the next episode index."""
        return self.commit_group([staged])[0]

    def commit_group(self, group: list[StagedEpisode]) -> list[EpisodeEntry]:
        """Commit several staged episodes atomically, in order: after a crash either all of them are there or none.

        Used for the episodes cut from one raw episode, so that a rerun never finds half of them."""
        if self._lock_fd is None:
            raise DatasetError(f"{self.root}: writer is closed")
        if self._failed is not None:
            for staged in group:
                shutil.rmtree(staged.stage_dir, ignore_errors=True)
            raise WriterFailedError(self.root, self._failed)
        info, tasks = self.info.model_copy(deep=True), dict(self._tasks)
        parts = []
        try:
            for staged in group:
                part, info, tasks = prepare_part(
                    self.root, staged, info, tasks, user_features=self.user_features, durable=self.durable
                )
                parts.append(part)
        except Exception as e:
            for staged in group:
                shutil.rmtree(staged.stage_dir, ignore_errors=True)
            if isinstance(e, EpisodeError):
                raise
            if environment_fault(e) is not None:  # not the episode's: no later episode may take its index
                self._failed = describe(e)
                raise
            raise EpisodeError(f"commit failed: {e}", dataset=self.name, episode=group[0].label) from e
        journal = build_journal(self.root, parts, info)
        try:
            atomic_write(self.root / JOURNAL, json.dumps(journal))
            self._apply(journal)
            self.info = info
            self._tasks = tasks
            if self.on_commit is not None:
                self.on_commit(journal)
        except BaseException as e:  # the dataset on disk may be ahead of this writer: reopening rolls it forward
            self._failed = describe(e)
            raise
        return [EpisodeEntry.model_validate(e) for e in journal["episodes"]]

    def meta_update(self) -> MetaUpdate:
        """An empty update of this dataset's meta (tasks to add, episode lines to edit) for `commit_meta`."""
        if self._lock_fd is None:
            raise DatasetError(f"{self.root}: writer is closed")
        return MetaUpdate(self.root, self.info, self._tasks)

    def commit_meta(self, update: MetaUpdate) -> int:
        """Journal and apply `update` (all of it or, after a crash, all of it on the next open); returns how many
        episode lines it rewrote. An episode it names that is not in the dataset: `DatasetError`, nothing written."""
        if self._lock_fd is None:
            raise DatasetError(f"{self.root}: writer is closed")
        if self.on_commit is not None:  # the publisher carries episode commits only (issue 27: captions in a bucket)
            raise DatasetError(f"{self.root}: meta updates of a dataset published to a bucket are not supported yet")
        if update.base != (self.info.total_episodes, self.info.total_tasks):  # its task indices would be wrong
            raise DatasetError(f"{self.root}: this meta update was planned before a later commit; plan it again")
        journal, info, changed = update.journal()
        atomic_write(self.root / JOURNAL, json.dumps(journal))
        self._apply(journal)
        self.info = info
        self._tasks = dict(update.tasks)
        return changed

    @classmethod
    def update_meta(cls, root: Path, plan: Callable[[MetaUpdate], None], *, lock_wait_s: float = 60.0) -> int:
        """Open the dataset at `root` (waiting up to `lock_wait_s` for another writer: `WriterLockedError`), let
        `plan` fill one meta update, commit it and close; returns how many episode lines it rewrote. The door of the
        stages that annotate a dataset (captions, verdicts)."""
        writer = cls.open(root, lock_wait_s=lock_wait_s)
        try:
            update = writer.meta_update()
            plan(update)
            return writer.commit_meta(update)
        finally:
            writer.close()

    def _apply(self, journal: dict[str, Any]) -> None:
        """Apply a journal, of a commit or a meta update (a method so the crash tests can kill a writer inside it)."""
        apply_journal(self.root, journal, durable=self.durable)


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
    root: Path, info: InfoJson, codec: VideoCodec, *, task: str | None, label: str, **kw: Any
) -> EpisodeBuilder:
    """A builder staging into `root`'s staging area; needs no lock (parallel workers stage, one writer commits).
    `kw`: `EpisodeBuilder`'s options (expected_frames, threaded_encode)."""
    stage_dir = Path(root) / STAGING / uuid.uuid4().hex
    fps = int(info.fps)
    return EpisodeBuilder(
        stage_dir, info.features, fps=fps, codec=codec, dataset=Path(root).name, label=label, task=task, **kw
    )
