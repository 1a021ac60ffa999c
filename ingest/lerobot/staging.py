"""Stage one episode: validate each frame, stream camera frames into their encoders, spill numeric columns to disk.

An `EpisodeBuilder` works in its own staging folder inside the dataset and knows nothing of episode indices: the
dataset writer assigns those at commit, so episodes can be staged in parallel (one process each) and committed in a
deterministic order. Memory is bounded whatever the episode length: camera frames leave as soon as they are encoded,
numeric rows are flushed to an Arrow IPC file every `spill_every` frames.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from adapters.lerobot_format.stats import stats_bound
from ingest.lerobot.errors import (
    DtypeError,
    EmptyEpisodeError,
    EpisodeError,
    FrameSizeError,
    NonFiniteError,
    ShapeError,
    StatsOverflowError,
    TimestampError,
    UnknownFeatureError,
)
from ingest.lerobot.image_stats import ImageStats
from ingest.lerobot.table import to_arrow, value_type
from ingest.lerobot.video import ThreadedVideoEncoder, VideoCodec, VideoEncoder, wait_limit_s
from schemas.lerobot import FeatureStats
from schemas.lerobot_features import DEFAULT_FEATURE_DTYPES, FeatureSpec

FRAMES_FILE = "frames.arrow"
OWNER_FILE = ".owner.lock"
TIMESTAMP_TOLERANCE_S = 1e-4  # lerobot's default `tolerance_s`
TIMESTAMP64_COLUMN = "__timestamp_f64"  # lerobot computes timestamp stats on float64 values, before the float32 cast
TASK_COLUMN = "__task"


class StagedEpisode(BaseModel):
    """A complete episode waiting in its staging folder for the dataset writer to commit it."""

    model_config = ConfigDict(frozen=True)

    stage_dir: Path
    label: str
    length: int
    tasks: list[str]  # unique, in order of first appearance
    video_files: dict[str, str]  # video key -> file name inside stage_dir
    stats: dict[str, FeatureStats]  # camera stats (numeric stats are computed at commit from the frames file)
    extra: dict[str, Any] = {}
    action_config: list[dict[str, Any]] | None = None


def _column_type(ft: FeatureSpec) -> pa.DataType:
    vt = value_type(ft.dtype)
    size = math.prod(ft.sized)
    return vt if ft.sized == (1,) else pa.list_(vt, size)  # N-D values are stored flat while staging


class EpisodeBuilder:
    """Frames in, a `StagedEpisode` out. Any bad frame aborts the episode and deletes its staging folder."""

    def __init__(
        self,
        stage_dir: Path,
        features: Mapping[str, FeatureSpec],
        *,
        fps: int,
        codec: VideoCodec,
        dataset: str,
        label: str,
        task: str | None = None,
        expected_frames: int | None = None,
        threaded_encode: bool = False,
        spill_every: int = 1024,
        timestamp_tolerance_s: float = TIMESTAMP_TOLERANCE_S,
    ) -> None:
        self.stage_dir = Path(stage_dir)
        self.stage_dir.mkdir(parents=True, exist_ok=False)
        self._owner = _hold_stage(self.stage_dir)  # tells dataset recovery this folder is alive
        self.fps, self.codec, self.dataset, self.label = fps, codec, dataset, label
        self.default_task = task
        self._features = {k: ft for k, ft in features.items() if k not in DEFAULT_FEATURE_DTYPES}
        self._video = {k: ft for k, ft in self._features.items() if ft.is_video}
        self._numeric = {k: ft for k, ft in self._features.items() if not ft.is_video}
        self._expected_frames = expected_frames
        self._threaded = threaded_encode
        self._spill_every = spill_every
        self._tol = timestamp_tolerance_s
        self._encoders: dict[str, VideoEncoder | ThreadedVideoEncoder] = {}
        self._image_stats: dict[str, ImageStats] = {}
        columns = [*self._numeric, "timestamp", TIMESTAMP64_COLUMN, TASK_COLUMN]
        self._rows: dict[str, list[Any]] = {k: [] for k in columns}
        self._schema = pa.schema(
            [(k, _column_type(ft)) for k, ft in self._numeric.items()]
            + [("timestamp", pa.float32()), (TIMESTAMP64_COLUMN, pa.float64()), (TASK_COLUMN, pa.string())]
        )
        self._sink: pa.ipc.RecordBatchStreamWriter | None = None
        self._tasks: dict[str, None] = {}
        self._last_ts: float | None = None
        self.frames = 0
        self.extra: dict[str, Any] = {}
        self.action_config: list[dict[str, Any]] | None = None
        self._state = "open"

    @property
    def feature_keys(self) -> list[str]:
        """The keys every frame must carry (declared features minus lerobot's defaults)."""
        return list(self._features)

    def _error(self, cls: type[EpisodeError], msg: str, feature: str | None = None) -> EpisodeError:
        self.abort()
        return cls(msg, dataset=self.dataset, episode=self.label, feature=feature, frame=self.frames)

    def add_frame(self, frame: Mapping[str, Any], task: str | None = None, timestamp: float | None = None) -> None:
        """Add one frame: every declared feature (cameras as HxWx3 uint8 RGB), no default columns."""
        if self._state != "open":
            raise RuntimeError(f"episode {self.label} is {self._state}")
        if unknown := sorted(set(frame) - set(self._features)):
            raise self._error(UnknownFeatureError, f"unknown feature key(s) {unknown}", unknown[0])
        if missing := sorted(set(self._features) - set(frame)):
            raise self._error(UnknownFeatureError, f"missing feature key(s) {missing}", missing[0])
        task = task if task is not None else self.default_task
        if not task:
            raise self._error(EpisodeError, "no task given for this frame and no default task for the episode")

        numeric = {k: self._check_numeric(k, ft, frame[k]) for k, ft in self._numeric.items()}
        images = {k: self._check_image(k, ft, frame[k]) for k, ft in self._video.items()}
        ts = self._check_timestamp(timestamp)

        for k, v in numeric.items():
            self._rows[k].append(v)
        self._rows["timestamp"].append(ts)
        self._rows[TIMESTAMP64_COLUMN].append(ts)
        self._rows[TASK_COLUMN].append(task)
        self._tasks.setdefault(task)
        for k, img in images.items():
            self._encode(k, img)
        self.frames += 1
        if len(self._rows[TASK_COLUMN]) >= self._spill_every:
            self._spill()

    def _check_numeric(self, key: str, ft: FeatureSpec, value: Any) -> Any:
        if isinstance(value, np.ndarray | np.generic):
            arr = np.asarray(value)
            if not np.can_cast(arr.dtype, ft.dtype, "safe"):
                raise self._error(DtypeError, f"dtype {arr.dtype} cannot be stored losslessly as {ft.dtype}", key)
            arr = arr.astype(ft.dtype, copy=False)
        else:
            try:
                arr = np.asarray(value, dtype=ft.dtype)
            except (TypeError, ValueError) as e:
                raise self._error(DtypeError, f"value {value!r:.60} is not {ft.dtype}: {e}", key) from None
        shape = tuple(ft.shape)
        if arr.shape != shape and not (shape == (1,) and arr.shape == ()):
            raise self._error(ShapeError, f"shape {arr.shape} differs from the declared {shape}", key)
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            bad = np.flatnonzero(~np.isfinite(arr.ravel()))
            raise self._error(NonFiniteError, f"non-finite value(s) at flat position(s) {bad[:8].tolist()}", key)
        if (bound := stats_bound(arr.dtype)) is not None and not (np.abs(arr) <= bound).all():
            at = int(np.flatnonzero(~(np.abs(arr.ravel()) <= bound))[0])
            raise self._error(
                StatsOverflowError,
                f"value {arr.ravel()[at]:.4g} at flat position {at}, first at frame {self.frames} "
                f"({self.frames / self.fps:.3f} s) of the episode, is past +-{bound:.3g}, where its statistics "
                f"overflow {arr.dtype} (lerobot reduces a feature in its dtype)",
                key,
            )
        return arr.item() if shape == (1,) else arr.ravel()

    def _check_image(self, key: str, ft: FeatureSpec, value: Any) -> np.ndarray:
        if not isinstance(value, np.ndarray):
            raise self._error(DtypeError, f"expected an HxWx3 uint8 numpy array, got {type(value).__name__}", key)
        if value.dtype != np.uint8:
            raise self._error(DtypeError, f"camera frames must be uint8 RGB, got {value.dtype}", key)
        if value.ndim != 3 or value.shape[2] != 3:
            raise self._error(ShapeError, f"camera frames must be HxWx3 (RGB), got shape {value.shape}", key)
        if value.shape != tuple(ft.shape):
            seen = f" (earlier frames were {tuple(ft.shape)})" if self.frames else ""
            raise self._error(
                FrameSizeError, f"frame size {value.shape} differs from the declared {tuple(ft.shape)}{seen}", key
            )
        return value

    def _check_timestamp(self, timestamp: float | None) -> float:
        expected = self.frames / self.fps
        bad = lambda msg: self._error(TimestampError, msg, "timestamp")  # noqa: E731
        if timestamp is None:
            ts = expected
        else:
            ts = float(timestamp)
            if not math.isfinite(ts):
                raise bad(f"timestamp {ts} is not finite")
            if self._last_ts is not None and ts <= self._last_ts:
                raise bad(f"timestamp {ts} is not after the previous {self._last_ts} (non-monotonic)")
            if abs(ts - expected) > self._tol:
                raise bad(
                    f"timestamp {ts} is off frame_index/fps = {expected} by more than {self._tol} s; "
                    "lerobot would reject it (resample onto the fps grid first)"
                )
        # lerobot checks float32 timestamps; past ~30 min at 10 fps float32 spacing alone exceeds its tolerance
        if self._last_ts is not None:
            step = float(np.float32(ts)) - float(np.float32(self._last_ts))
            if abs(step - 1.0 / self.fps) > self._tol:
                raise bad(
                    f"float32 timestamp step {step:.6f} s deviates from 1/fps by more than {self._tol} s "
                    "(episode too long for float32 timestamps; split it)"
                )
        self._last_ts = ts
        return ts

    def _encode(self, key: str, img: np.ndarray) -> None:
        enc = self._encoders.get(key)
        if enc is None:
            h, w, _ = img.shape
            base = VideoEncoder(self.stage_dir / f"{key}.mp4", w, h, self.fps, self.codec)
            # fed from a thread of its own wherever no watchdog owns the deadline (waits bounded: in-process writes),
            # so a codec stuck on a frame is an EncoderHungError, never a caller blocked for good (SVT-AV1 4.1.0 once
            # hung in svt_av1_enc_send_picture in a test's write, at a load of 28)
            enc = ThreadedVideoEncoder(base) if self._threaded or wait_limit_s(1, w, h) is not None else base
            self._encoders[key] = enc
            self._image_stats[key] = ImageStats(h, w, self._expected_frames)
        self._image_stats[key].add(img)
        try:
            enc.encode(img)
        except Exception as e:
            raise self._error(EpisodeError, f"video encoder failed: {e}", key) from e

    def _spill(self) -> None:
        if not self._rows[TASK_COLUMN]:
            return
        cols = [(self._rows[f.name], f.type) for f in self._schema]
        arrays = [
            to_arrow(np.concatenate(v), t) if pa.types.is_fixed_size_list(t) else pa.array(v, type=t) for v, t in cols
        ]
        batch = pa.RecordBatch.from_arrays(arrays, schema=self._schema)
        if self._sink is None:
            self._sink = pa.ipc.new_stream(str(self.stage_dir / FRAMES_FILE), self._schema)
        self._sink.write_batch(batch)
        for v in self._rows.values():
            v.clear()

    def finish(self) -> StagedEpisode:
        """Flush encoders and rows; the episode is then complete on disk in its staging folder."""
        if self._state != "open":
            raise RuntimeError(f"episode {self.label} is {self._state}")
        if self.frames == 0:
            raise self._error(EmptyEpisodeError, "episode has no frames")
        try:
            self._spill()
            assert self._sink is not None
            self._sink.close()
            for enc in self._encoders.values():
                enc.close()
            self._encoders.clear()  # let the codec contexts (SVT keeps tens of MB each) go now
            stats = {k: self._camera_stats(k) for k in self._video}
        except EpisodeError:
            raise
        except Exception as e:
            raise self._error(EpisodeError, f"could not finish the episode: {e}") from e
        self._state = "finished"
        _release_stage(self._owner)
        return StagedEpisode(
            stage_dir=self.stage_dir,
            label=self.label,
            length=self.frames,
            tasks=list(self._tasks),
            video_files={k: f"{k}.mp4" for k in self._video},
            stats=stats,
            extra=self.extra,
            action_config=self.action_config,
        )

    def _camera_stats(self, key: str) -> FeatureStats:
        st = self._image_stats[key]
        missing = st.missing()
        if missing:  # the episode ended at another length than announced: measure those frames from the video
            from ingest.lerobot.video_read import decode_frames

            st.refill(decode_frames(self.stage_dir / f"{key}.mp4", missing))
        return st.finish()

    def abort(self) -> None:
        """Discard everything of this episode."""
        if self._state == "aborted":
            return
        self._state = "aborted"
        for enc in self._encoders.values():
            enc.abort()
        self._encoders.clear()
        if self._sink is not None:
            with contextlib.suppress(Exception):  # the folder is removed below anyway
                self._sink.close()
        shutil.rmtree(self.stage_dir, ignore_errors=True)
        _release_stage(self._owner)


def _hold_stage(stage_dir: Path) -> int:
    fd = os.open(stage_dir / OWNER_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _release_stage(fd: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def is_stage_in_use(stage_dir: Path) -> bool:
    """True while a live builder holds the staging folder (its lock dies with its process)."""
    try:
        fd = os.open(Path(stage_dir) / OWNER_FILE, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def read_frames(stage_dir: Path) -> pa.Table:
    """The staged numeric rows (memory-mapped)."""
    with pa.memory_map(str(Path(stage_dir) / FRAMES_FILE)) as src:
        return pa.ipc.open_stream(src).read_all()
