"""The per-episode worker (`jobs.ingest.worker`) in this process, on the demo's AgiBot source in its own format (two
good episodes and one whose action is longer than its state): staged episodes typed for the committer, a broken one
rejected with its stage and first cause, and an episode out of deadline attempts rejected without being read."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.base import AdapterError
from adapters.hostile.sandbox import Killed, answer
from adapters.registry import get_adapter
from ingest.lerobot.errors import EpisodeError
from ingest.steps import start
from jobs.demo.corpus import write_raw_corpus
from jobs.ingest import worker
from jobs.ingest.task import Deferred, EpisodeTask, Rejected, Staged, TaskSettings
from jobs.ingest.worker import process_episode, rejected_by
from jobs.runtime.deadline import TIMEOUT_CLASS, watchdog
from jobs.spec_models import JobSpec
from tests.adapters.lerobot.conftest import MOTORS, write_arm_dataset
from tests.fixtures.discovery import discover
from tests.realdata import realdata


@pytest.fixture(scope="module")
def agibot(tmp_path_factory: pytest.TempPathFactory) -> tuple[JobSpec, list[EpisodeTask]]:
    tmp = tmp_path_factory.mktemp("worker")
    raw = write_raw_corpus(tmp / "raw", sources=("agibot",))
    spec = JobSpec.model_validate(
        {"output": str(tmp / "out"), "sources": [{"name": "agibot", "adapter": "agibot", "root": str(raw["agibot"])}]}
    )
    items, bad = discover(spec)
    assert not bad and len(items) == 3
    return spec, [EpisodeTask(it, TaskSettings.of(spec, spec.output)) for it in items]


def test_good_episodes_are_staged_and_a_broken_one_rejected_with_its_cause(
    agibot: tuple[JobSpec, list[EpisodeTask]],
) -> None:
    spec, tasks = agibot
    results = {t.uid: process_episode(t) for t in tasks}
    staged = [r for r in results.values() if isinstance(r, Staged)]
    [rejected] = [r for r in results.values() if isinstance(r, Rejected)]
    assert len(staged) == 2
    for r in staged:
        [out] = r.episodes
        assert out.dataset == "datasets/agibot/task_327" and out.robot_type == "agibot_gripper"
        assert out.staged.stage_dir.is_dir() and out.staged.stage_dir.is_relative_to(spec.output / out.dataset)
        assert r.frames == out.staged.length > 0
        assert any(f.dtype == "video" for f in out.features.values())
        shutil.rmtree(out.staged.stage_dir)
    assert rejected.stage == "read" and "action" in rejected.message.lower()
    assert rejected.file is not None  # the adapter names the file it could not read


def test_an_episode_killed_by_its_deadline_on_every_attempt_is_rejected_unread(
    agibot: tuple[JobSpec, list[EpisodeTask]], tmp_path: Path
) -> None:
    spec, tasks = agibot
    settings = TaskSettings.of(spec, tmp_path)
    settings = replace(settings, deadline=settings.deadline.model_copy(update={"retries": 0}))  # one attempt only
    task = EpisodeTask(tasks[0].item, settings)
    with watchdog(0, tmp_path, task.uid):  # outside Ray the watchdog only leaves its marker
        threading.Event().wait(0.5)
    result = process_episode(task)
    assert isinstance(result, Rejected) and (result.stage, result.error_class) == ("write", TIMEOUT_CLASS)
    assert not (tmp_path / "datasets").exists()  # never read, never staged


def test_an_exception_is_rejected_with_the_file_and_field_it_names() -> None:
    e = AdapterError("crc mismatch", adapter="oxe", file="a.tfrecord", field="steps")
    assert rejected_by("u", "read", e) == Rejected("u", "read", "AdapterError", "crc mismatch", "a.tfrecord", "steps")
    e2 = EpisodeError("NaN in a column", episode="x", feature="action")
    assert rejected_by("u", "write", e2) == Rejected("u", "write", "EpisodeError", "NaN in a column", field="action")
    assert rejected_by("u", "canonicalize", ValueError("nothing")) == Rejected(
        "u", "canonicalize", "ValueError", "nothing"
    )


def test_a_source_gone_since_discovery_is_deferred_not_quarantined(
    agibot: tuple[JobSpec, list[EpisodeTask]], tmp_path: Path
) -> None:
    """Review 6, N52: a source folder moved away while its episodes were read made each a permanent data quarantine
    (ENOENT is a data errno) with exit 0. A root gone, or every discovered file of an episode gone, is the
    environment's: `Deferred` (the job exits 75 and its rerun redoes it); a file missing while the source is there
    stays the episode's defect."""
    original, _ = agibot
    root, copy = original.sources[0].root, tmp_path / "moved"
    shutil.copytree(root, copy)
    source = original.sources[0].model_copy(update={"root": copy})
    spec = original.model_copy(update={"output": tmp_path / "out", "sources": [source]})
    settings = TaskSettings.of(spec, spec.output)
    settings = replace(settings, environment=settings.environment.model_copy(update={"retries": 0}))
    items, _ = discover(spec)
    tasks = [EpisodeTask(it, settings) for it in items]
    good = [t for t in tasks if isinstance(process_episode(t), Staged)]
    assert len(good) == 2
    shutil.rmtree(copy)  # the whole root goes away (a remount, a re-sync)
    for t in tasks:
        result = process_episode(t)
        assert isinstance(result, Deferred) and "gone since discovery" in result.cause, result
    shutil.copytree(root, copy)
    for path in map(Path, good[0].ref.paths):  # every file of one episode gone, the root still there
        path.unlink() if path.is_file() else shutil.rmtree(path)
    result = process_episode(good[0])
    assert isinstance(result, Deferred) and "none of the episode's" in result.cause, result
    assert isinstance(process_episode(good[1]), Staged)  # its neighbour is read as before
    [bad] = [t for t in tasks if t not in good]
    assert isinstance(process_episode(bad), Rejected)  # the data's own defect, the source there: quarantined


def test_finite_values_whose_stats_overflow_are_quarantined_naming_file_field_and_frame(tmp_path: Path) -> None:
    """Review 7 i02b: an episode whose actions are +-3e38 (finite float32) was written, and its `episodes_stats.jsonl`
    said `std: Infinity` (the square overflows float32). Now it is the episode's error at the worker: the row names
    the parquet, the field and the first frame past the bound; the episode beside it is staged."""
    root = tmp_path / "raw/ds"
    rows = np.linspace(0, 1, 40 * len(MOTORS)).reshape(40, len(MOTORS))
    write_arm_dataset(root, "so101_follower", list(MOTORS), rows)
    data = root / "data/chunk-000"
    table = pq.read_table(data / "episode_000000.parquet")
    pq.write_table(
        table.set_column(
            table.schema.get_field_index("episode_index"), "episode_index", pa.array([1] * table.num_rows, pa.int64())
        ),
        data / "episode_000001.parquet",
    )
    action = np.stack(table.column("action").to_numpy(zero_copy_only=False)).astype(np.float32)
    action[7:] = np.where(np.arange(len(action) - 7) % 2, 3e38, -3e38)[:, None]
    bad = table.set_column(
        table.schema.get_field_index("action"),
        "action",
        pa.FixedSizeListArray.from_arrays(pa.array(action.ravel()), len(MOTORS)),
    )
    pq.write_table(bad, data / "episode_000001.parquet")
    entry = json.loads((root / "meta/episodes.jsonl").read_text())
    (root / "meta/episodes.jsonl").write_text("".join(json.dumps(entry | {"episode_index": i}) + "\n" for i in (0, 1)))
    info = json.loads((root / "meta/info.json").read_text())
    (root / "meta/info.json").write_text(json.dumps(info | {"total_episodes": 2, "total_frames": 2 * table.num_rows}))
    spec = JobSpec.model_validate(
        {
            "output": str(tmp_path / "out"),
            "sources": [{"name": "src", "adapter": "lerobot", "root": str(tmp_path / "raw")}],
        }
    )
    items, flagged = discover(spec)
    assert not flagged and len(items) == 2
    results = [process_episode(EpisodeTask(it, TaskSettings.of(spec, spec.output))) for it in items]
    assert isinstance(results[0], Staged), results[0]
    rejected = results[1]
    assert isinstance(rejected, Rejected), rejected
    assert rejected.error_class == "StatsOverflowError" and rejected.stage == "write"
    assert rejected.file == str(data / "episode_000001.parquet")
    assert rejected.field in ("action", "action.native")
    # source row 7 at 20 fps is 0.35 s: the first canonical frame past it (10 fps) is frame 4, at 0.4 s
    assert "first at frame 4 (0.400 s)" in rejected.message and "3e+38" in rejected.message, rejected.message


def _gr00t_task(tmp_path: Path) -> tuple[Path, EpisodeTask]:
    """A copy of the real GR00T sample as a source, and its first episode's task (no retry of the environment's)."""
    root = Path(shutil.copytree(realdata("gr00t_robot_sim_picknplace"), tmp_path / "raw/gr00t"))
    spec = JobSpec.model_validate(
        {
            "output": str(tmp_path / "out"),
            "sources": [{"name": "src", "adapter": "lerobot", "root": str(root)}],
            "parallelism": {"environment": {"retries": 0}},
        }
    )
    items, _ = discover(spec)
    return root, EpisodeTask(items[0], TaskSettings.of(spec, spec.output))


def test_a_videos_folder_gone_after_discovery_defers_the_episode_and_it_is_written_with_its_camera_after(
    tmp_path: Path,
) -> None:
    """Review 7 f6 at the worker: `videos/` of a copy of the real GR00T sample moved away after discovery. The
    episode is deferred as the environment's (the job exits 75, nothing quarantined), never staged without its
    camera; with the folder back, the same task stages it with the camera."""
    root, task = _gr00t_task(tmp_path)
    (root / "videos").rename(tmp_path / "away")
    deferred = process_episode(task)
    assert isinstance(deferred, Deferred) and "SourceVanishedError" in deferred.cause, deferred
    assert not (tmp_path / "out/datasets").exists() or not list((tmp_path / "out/datasets").rglob("*.mp4"))
    (tmp_path / "away").rename(root / "videos")
    staged = process_episode(task)
    assert isinstance(staged, Staged), staged
    assert list(staged.episodes[0].staged.video_files) == ["observation.images.head"]  # ego_view, canonical
    shutil.rmtree(staged.episodes[0].staged.stage_dir)


def test_a_videos_folder_gone_between_the_read_and_the_decode_defers_the_episode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same, the folder moved away once the adapter read the episode (its frames decode later, while it is
    written): the failed decode is the environment's (a LeRobot ref names only files discovery saw: any of them gone
    is the source's change), not a data quarantine that no rerun redoes."""
    root, task = _gr00t_task(tmp_path)

    def reading_then_moving(*args: object, **kw: object) -> object:
        adapter = get_adapter(*args, **kw)
        real = adapter.read

        def read(ref: object) -> object:
            raw = real(ref)
            (root / "videos").rename(tmp_path / "away")
            return raw

        adapter.read = read
        return adapter

    monkeypatch.setattr(worker, "get_adapter", reading_then_moving)
    deferred = process_episode(task)
    assert isinstance(deferred, Deferred) and "SourceVanishedError" in deferred.cause, deferred


def test_a_death_in_a_later_step_names_the_file_an_earlier_step_opened(tmp_path: Path) -> None:
    """A handle opened in one step and read in a later one (a video decoded at write): a parse dying there is told by
    that file (the boundary's `Killed.reading`), the steps' later opens of what is not a source's aside."""
    from types import SimpleNamespace

    root = tmp_path / "raw"
    root.mkdir()
    (root / "episode.mp4").write_bytes(b"\0")

    def opens(run: object, value: object) -> object:
        return (root / "episode.mp4").open("rb")  # kept open past its step, as a lazy camera is

    def decodes(run: object, handle: object) -> object:
        (tmp_path / "staged.json").write_text("{}")  # the writer's own files, written and read back, are not what
        json.loads((tmp_path / "staged.json").read_text())  # its parse was reading
        os.kill(os.getpid(), signal.SIGKILL)  # a decoder crashing on the file's bytes

    run = SimpleNamespace(task=SimpleNamespace(source=SimpleNamespace(root=str(root))), stage=None)
    steps = start().then("read", opens).then("write", decodes)
    with pytest.raises(Killed) as got:
        answer(lambda: list(worker.run_steps(run, steps)), mib=None, what="episode e")  # type: ignore[arg-type]
    assert got.value.reading == str(root / "episode.mp4") and got.value.signum == signal.SIGKILL, got.value


@pytest.mark.parametrize("tier", ["high", "low", "actionless"])
def test_a_spec_tier_replaces_the_adapters_default_with_a_verdict_of_its_own(tmp_path: Path, tier: str) -> None:
    """Issue 77: a source's default is a verdict (the real Bridge set read as a dataset in no OXE table: its
    `source_default` low). A job spec's `tier` still replaces it, as it replaced the default before (high raises it,
    so the tier is what it was), and is itself a verdict of that code, so a curator overrules it as any other."""
    from tests.jobs.catalog.test_source_verdicts import _unknown_bridge

    root = _unknown_bridge(tmp_path)
    source = {"name": "oxe", "adapter": "oxe", "root": str(root), "tier": tier}
    spec = JobSpec.model_validate({"output": str(tmp_path / "out"), "sources": [source]})
    items, bad = discover(spec)
    assert not bad and items
    raw = worker.Attempt(EpisodeTask(items[0], TaskSettings.of(spec, spec.output)), []).read()
    assert raw.tier == "high"
    said = [(v.code, v.tier.value) for v in raw.verdicts]
    assert said == ([] if tier == "high" else [("source_default", tier)])
    assert all("the job spec's `tier`" in v.reason for v in raw.verdicts)


def _panic_class() -> type[BaseException]:
    """A class as pyo3 makes its panic's (pyo3 src/panic.rs: `pyo3_runtime.PanicException`, a `BaseException`, one
    per extension module)."""
    return type("PanicException", (BaseException,), {"__module__": "pyo3_runtime"})


@pytest.mark.parametrize("raised", ["panic", "stop"])
def test_a_rust_librarys_panic_is_the_episodes_failure_and_a_stop_is_not(
    agibot: tuple[JobSpec, list[EpisodeTask]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raised: str
) -> None:
    """pydantic-core panics ("PyObject pointer is null") where it cannot get a PyObject; pyo3's panic is a
    `BaseException`, which the worker's `except Exception` let through, ending the job with a traceback instead of
    quarantining the episode. A stop (`KeyboardInterrupt`) still ends the attempt."""
    spec, tasks = agibot
    error = _panic_class()("PyObject pointer is null") if raised == "panic" else KeyboardInterrupt()

    def failing(*args: object, **kw: object) -> object:
        adapter = get_adapter(*args, **kw)

        def read(ref: object) -> object:
            raise error

        adapter.read = read
        return adapter

    monkeypatch.setattr(worker, "get_adapter", failing)
    task = EpisodeTask(tasks[0].item, TaskSettings.of(spec, tmp_path))
    if raised == "stop":
        with pytest.raises(KeyboardInterrupt):
            process_episode(task)
        return
    result = process_episode(task)
    assert isinstance(result, Rejected) and (result.stage, result.error_class) == ("read", "PanicException"), result
    assert "PyObject pointer is null" in result.message
