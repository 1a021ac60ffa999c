"""The per-episode worker (`jobs.ingest.worker`) in this process, on the demo's AgiBot source in its own format (two
good episodes and one whose action is longer than its state): staged episodes typed for the committer, a broken one
rejected with its stage and first cause, and an episode out of deadline attempts rejected without being read."""

from __future__ import annotations

import shutil
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from adapters.base import AdapterError
from ingest.lerobot.errors import EpisodeError
from jobs.demo.corpus import write_raw_corpus
from jobs.ingest.task import Deferred, EpisodeTask, Rejected, Staged, TaskSettings
from jobs.ingest.worker import process_episode, rejected_by
from jobs.runtime.deadline import TIMEOUT_CLASS, watchdog
from jobs.spec_models import JobSpec
from tests.fixtures.discovery import discover


@pytest.fixture(scope="module")
def agibot(tmp_path_factory: pytest.TempPathFactory) -> tuple[JobSpec, list[EpisodeTask]]:
    tmp = tmp_path_factory.mktemp("worker")
    raw = write_raw_corpus(tmp / "raw", sources=("agibot",))
    spec = JobSpec.model_validate(
        {"output": str(tmp / "out"), "sources": [{"name": "agibot", "adapter": "agibot", "root": str(raw["agibot"])}]}
    )
    items, bad = discover(spec)
    assert not bad and len(items) == 3
    return spec, [EpisodeTask(it, TaskSettings.of(spec)) for it in items]


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
    settings = TaskSettings.of(spec.model_copy(update={"output": tmp_path}))
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
    settings = TaskSettings.of(spec)
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
