"""Finished work kept across a kill (`jobs.ingest.adopt`, issue 59 item 2): a worker's staged answer recorded, checked
and adopted by the next run, never a folder that is not whole; and the review's kill itself, reproduced on the demo
corpus: the driver SIGKILLed while finished episodes wait behind a slower one of their dataset, then rerun; and the
same with finished episodes bound for a sibling dataset (issue 77)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

import jobs.cli
from adapters.storage.atomic import temp_path
from adapters.storage.corpus import Corpus
from adapters.synthetic.egodex import write_egodex
from adapters.synthetic.video import synthetic_frame, write_mp4
from ingest.lerobot.commit_part import STAGED_PARQUET
from ingest.lerobot.staging import OWNER_FILE
from ingest.lerobot.video import VideoCodec
from ingest.lerobot.writer_dir import STAGING
from jobs.ingest.adopt import (
    STAGED_DIR,
    AdoptingTasks,
    _path,
    adoptable,
    forget,
    kept_folders,
    record,
    recorded_folders,
)
from jobs.ingest.commit import DatasetCommitter
from jobs.ingest.resume import roll_forward
from jobs.ingest.task import EpisodeTask, Staged, TaskSettings
from jobs.ingest.worker import process_episode
from jobs.spec import load_spec
from jobs.spec_models import JobSpec
from schemas.corpus import LINEAGE_KEY
from schemas.lerobot import EPISODES_PATH, EPISODES_STATS_PATH
from tests.fixtures.discovery import discover
from tests.jobs.demo_reference import demo_spec, hashes
from tests.jobs.ingest import crash_hooks
from tests.processes import group

REPO = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}


def _staged(tmp_path: Path) -> tuple[Path, Staged, EpisodeTask]:
    """One synthetic EgoDex raw episode staged by the real worker into a dataset not created yet (a new source's:
    the review's case), in this process; its record written as a Ray worker writes it."""
    write_egodex(tmp_path / "raw", tasks=("basic_pick_place",), episodes_per_task=1, num_frames=40, old_episode=False)
    output = tmp_path / "corpus"
    spec = JobSpec.model_validate(
        {
            "output": output,
            "sources": [{"name": "egodex", "adapter": "egodex", "root": str(tmp_path / "raw")}],
            "canonicalize": {"validity": {"policy": "mask"}},
            "parallelism": {"pin_tasks": False},
        }
    )
    task = EpisodeTask(discover(spec)[0][0], TaskSettings.of(spec, spec.output))
    result = process_episode(task)
    assert isinstance(result, Staged), result
    return output, result, task


class _NoRun:
    """Tasks that note what they were asked to run and run nothing."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def submit(self, task: EpisodeTask) -> str:
        self.ran.append(task.uid)
        return "ran"

    def wait(self, handles: list[object]) -> list[object]:
        raise AssertionError("an adopted handle is ready at once")

    def get(self, handle: object) -> Staged:
        raise AssertionError("nothing was run")


def _dump(result: Staged) -> str:
    from jobs.ingest.adopt import _STAGED

    return json.dumps(_STAGED.dump_python(result, mode="json"), sort_keys=True)


def test_a_staged_answer_is_adopted_as_the_worker_gave_it(tmp_path: Path) -> None:
    output, result, task = _staged(tmp_path)
    adopted = adoptable(output)
    assert list(adopted) == [result.uid]
    assert _dump(adopted[result.uid].result) == _dump(result)
    tasks = AdoptingTasks(_NoRun(), adopted)
    handle = tasks.submit(task)
    assert tasks.wait([handle]) == [handle] and _dump(tasks.get(handle)) == _dump(result)
    # the corpus moved (a copy, another mount): the record's folders follow it
    moved = tmp_path / "elsewhere"
    shutil.copytree(output, moved)
    again = adoptable(moved)[result.uid].result
    assert all(ep.staged.stage_dir.is_relative_to(moved) for ep in again.episodes)
    forget(output, result.uid)
    assert adoptable(output) == {}


def test_a_stopped_run_leaves_no_record_half_written(tmp_path: Path) -> None:
    """Ray's shutdown ends a worker without its `finally` (a worker writing files in a loop left one behind in 1 run of
    1): a record it cut is a temp file in `job/staged`, removed once Ray is down, however the run ends."""
    from jobs.ingest.job import run_ingest

    output = _staged(tmp_path)[0]
    torn = temp_path(_path(output, "an episode a worker was recording"))
    torn.write_text('{"output": "cut')

    def stop(_: object) -> None:
        raise KeyboardInterrupt("stopped")

    job = JobSpec.model_validate(
        {"output": output, "sources": [{"name": "egodex", "adapter": "egodex", "root": str(tmp_path / "raw")}]}
    )
    with pytest.raises(KeyboardInterrupt):
        run_ingest(job, progress=False, on_done=stop)
    assert not torn.exists(), sorted((output / STAGED_DIR).iterdir())


def test_a_record_made_under_other_settings_is_run_again(tmp_path: Path) -> None:
    """A spec edited between the kill and the rerun (here the codec's crf): the episodes left to do get its settings."""
    output, _, task = _staged(tmp_path)
    codec = task.settings.codec.model_copy(update={"crf": 31})
    edited = replace(task, settings=replace(task.settings, codec=codec))
    inner = _NoRun()
    handle = AdoptingTasks(inner, adoptable(output)).submit(edited)
    assert handle == "ran" and inner.ran == [edited.uid]


def test_recovery_keeps_the_adopted_folders_and_removes_the_rest(tmp_path: Path) -> None:
    output, result, _ = _staged(tmp_path)
    folder = result.episodes[0].staged.stage_dir
    stray = folder.parent / ("0" * 32)  # a killed attempt's folder, never recorded
    shutil.copytree(folder, stray)
    roll_forward(output, kept_folders(adoptable(output)))
    assert folder.is_dir() and not stray.exists()
    roll_forward(output)  # what a run that adopts nothing does: the dataset never created goes
    assert not folder.parent.exists()


def test_a_commit_killed_before_its_journal_leaves_the_episode_adoptable(tmp_path: Path) -> None:
    """The committer writes the episode's parquet into its staging folder before its journal (the commit point): a
    kill there leaves it, maybe cut short; the commit writes it over, so the record still holds."""
    output, result, _ = _staged(tmp_path)
    (result.episodes[0].staged.stage_dir / STAGED_PARQUET).write_bytes(b"PAR1 cut short")
    assert recorded_folders(output) == kept_folders(adoptable(output)) == {result.episodes[0].staged.stage_dir}


@pytest.mark.parametrize("defect", ["truncated", "extra file", "folder gone", "held", "garbage"])
def test_a_record_that_does_not_hold_is_not_adopted(
    tmp_path: Path, defect: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Planted: each way a record and its folders can disagree; the episode is done again, never half-adopted."""
    output, result, _ = _staged(tmp_path)
    folder = result.episodes[0].staged.stage_dir
    video = next(folder.glob("*.mp4"))
    if defect == "truncated":
        os.truncate(video, video.stat().st_size - 1)
    elif defect == "extra file":
        (folder / "partial.tmp").write_bytes(b"x")
    elif defect == "folder gone":
        shutil.rmtree(folder)
    elif defect == "held":  # a live builder (an orphaned worker of the killed run) still writes it
        import fcntl

        fd = os.open(folder / OWNER_FILE, os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
    else:
        _path(output, result.uid).write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="jobs.ingest.adopt"):
        assert adoptable(output) == {}
    assert "not adopted, done again" in caplog.text
    assert not _path(output, result.uid).exists(), "a record that failed its check is removed"
    if defect == "held":
        os.close(fd)


# -- the review's kill (newcomer 6, rows 18-20), on the demo corpus ------------------------------------------------


@pytest.mark.shared_ray  # tests/ray_scope.py: the killed driver ran its own Ray in its own process
def test_a_kill_keeps_every_finished_episode_and_the_rerun_is_the_uninterrupted_run(
    reference: Path, raw: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The first raw episode of the ego4d dataset never finishes (`crash_hooks.HOLD_ENV`, every other source held
    too), the next ones of that dataset finish and wait behind it, uncommitted: the review's 52 staged episodes. The
    driver is SIGKILLed once they all finished. Before: recovery removed their staging and the rerun did them all
    again. Now the rerun adopts each one staged whole, so the work redone is none of them (at most the episodes that
    were running, here none), and the corpus is the uninterrupted run's, byte for byte."""
    # every task submitted at once: the held ones sleep on logical CPUs while the line's run on the real ones
    spec_path = demo_spec(tmp_path, raw, num_cpus=16, max_in_flight=16)
    corpus = tmp_path / "corpus"
    uids = [it.uid for it in discover(load_spec(spec_path))[0]]
    line = [u for u in uids if u.startswith("ego4d/")]
    run = line[1:]  # finish behind line[0], which never does
    finished, log_path, err = tmp_path / "finished", tmp_path / "committed.txt", tmp_path / "driver.err"
    finished.mkdir()
    env = {
        **ENV,
        crash_hooks.HOLD_ENV: json.dumps([u for u in uids if u not in run]),
        crash_hooks.FINISHED_ENV: str(finished),
    }
    cmd = [sys.executable, "-m", "tests.jobs.ingest.crash_hooks", str(spec_path), str(log_path)]
    with err.open("w") as stderr, group(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr) as proc:
        deadline = time.monotonic() + 240
        while len(list(finished.iterdir())) < len(run) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # polls an event (the workers' own marks); the kill point does not depend on timing
        os.kill(proc.pid, signal.SIGKILL)  # the driver alone, as the review's `kill -9 <driver>`
    answers = {p.name: p.read_text() for p in finished.iterdir()}
    assert len(answers) == len(run), err.read_text()[-2000:]
    staged = [u for u in run if answers[hashlib.sha256(u.encode()).hexdigest()] == "Staged"]
    committed = set(log_path.read_text().split()) if log_path.exists() else set()
    assert staged and not committed & set(staged), "the finished episodes wait behind the held one, uncommitted"
    assert {p.stem for p in (corpus / STAGED_DIR).glob("*.json")} == {_path(corpus, u).stem for u in staged}

    with caplog.at_level(logging.WARNING, logger="jobs.ingest.adopt"):
        assert jobs.cli.main(["ingest", str(spec_path)]) == 0  # the rerun in this process, on the shared Ray
    adopted = [r for r in caplog.records if r.getMessage().startswith("adopted ")]
    assert len(adopted) == 1 and f"of {len(staged)} raw episodes" in adopted[0].getMessage(), caplog.text
    redone = len(run) - len(committed) - len(staged)  # finished, neither committed nor adopted: done again
    assert redone == sum(a != "Staged" for a in answers.values())  # only a rejected one's quarantine row (buffered)
    assert hashes(corpus) == hashes(reference)
    assert not list(corpus.glob(f"datasets/*/*/{STAGING}/*")) and not (corpus / STAGED_DIR).exists()


# slow: 113 s at load ~8 (a reference run, a killed driver with its own Ray, the rerun); make test keeps the demo's
# kill above (the same adoption) and tests/jobs/ingest/test_resume.py (a sibling's killed commit rolled forward)
@pytest.mark.slow
@pytest.mark.shared_ray  # tests/ray_scope.py: the killed driver ran its own Ray in its own process
def test_a_kill_keeps_the_finished_episodes_bound_for_a_sibling_and_the_rerun_is_the_uninterrupted_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 77: every episode of a subset is staged in its subset's staging area, and one routed to a sibling
    dataset (here `default@640x360`, cameras of another size) is committed from there, never moved. Six clips of
    alternating sizes; the first never finishes (`crash_hooks.HOLD_ENV`), the five others finish and wait behind it,
    uncommitted, three of them bound for the sibling; the driver is SIGKILLed. The rerun adopts all five (none done
    again) and the corpus is the uninterrupted run's, byte for byte, in the same two datasets."""
    for k in range(6):
        h, w = (360, 480) if k % 2 == 0 else (360, 640)
        write_mp4(tmp_path / f"raw/clip{k:02d}.mp4", (synthetic_frame(h, w, t, k) for t in range(36)), 30)

    def spec_at(name: str) -> Path:
        source = {"name": "ego", "adapter": "ego_video", "root": str(tmp_path / "raw")}
        doc = {"output": str(tmp_path / name), "sources": [source], "parallelism": {"num_cpus": 6, "max_in_flight": 6}}
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(doc))
        return tmp_path / f"{name}.yaml"

    assert jobs.cli.main(["ingest", str(spec_at("reference"))]) == 0
    spec_path, corpus = spec_at("corpus"), tmp_path / "corpus"
    uids = [it.uid for it in discover(load_spec(spec_path))[0]]
    finished, log_path, err = tmp_path / "finished", tmp_path / "committed.txt", tmp_path / "driver.err"
    finished.mkdir()
    env = {**ENV, crash_hooks.HOLD_ENV: json.dumps(uids[:1]), crash_hooks.FINISHED_ENV: str(finished)}
    cmd = [sys.executable, "-m", "tests.jobs.ingest.crash_hooks", str(spec_path), str(log_path)]
    with err.open("w") as stderr, group(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr) as proc:
        deadline = time.monotonic() + 240
        while len(list(finished.iterdir())) < 5 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # polls an event (the workers' own marks); the kill point does not depend on timing
        os.kill(proc.pid, signal.SIGKILL)
    assert len(list(finished.iterdir())) == 5, err.read_text()[-2000:]
    assert not log_path.exists() or not log_path.read_text().split(), "nothing committed behind the held episode"
    assert len(list(corpus.glob(f"datasets/ego/default/{STAGING}/*"))) == 5  # the sibling's three among them
    assert not (corpus / "datasets/ego/default@640x360").exists()

    with caplog.at_level(logging.WARNING, logger="jobs.ingest.adopt"):
        assert jobs.cli.main(["ingest", str(spec_path)]) == 0  # the rerun in this process, on the shared Ray
    adopted = [r.getMessage() for r in caplog.records if r.getMessage().startswith("adopted 5 staged episodes of 5 ")]
    assert len(adopted) == 1, caplog.text
    assert sorted(p.name for p in (corpus / "datasets/ego").iterdir()) == ["default", "default@640x360"]
    assert hashes(corpus) == hashes(tmp_path / "reference")
    assert not list(corpus.glob(f"datasets/*/*/{STAGING}/*")) and not (corpus / STAGED_DIR).exists()


# -- every value an episode's lineage can hold survives the record (issue 67 item 1) ---------------------------------

_PLANTED = {  # each value a JSON round trip could change, in an unsorted key order
    "z_nan": float("nan"),
    "inf": float("inf"),
    "minus_inf": -float("inf"),
    "minus_zero": -0.0,
    "subnormal": 5e-324,
    "float32": float(np.float32(0.1)),  # a float32 widened: its digits are not 0.1's
    "big_int": 2**63 + 1,
    "pair": (1.5, "two"),
    "text": "caf\u00e9 \u2013 \U0001f916",
    "nested": {"b": [float("nan"), -0.0], "a": {"clamp_value": float("nan")}},
}


def _commit(output: Path, result: Staged, codec: VideoCodec) -> bytes:
    """`result` committed as the job's committer commits it: the dataset's `episodes.jsonl` and stats lines."""
    committer = DatasetCommitter(Corpus(output), codec)
    assert committer.commit(list(result.episodes)) is None
    committer.close()
    root = output / result.episodes[0].dataset
    return (root / EPISODES_PATH).read_bytes() + (root / EPISODES_STATS_PATH).read_bytes()


def test_an_adopted_episode_is_committed_byte_for_byte_as_the_uninterrupted_one(tmp_path: Path) -> None:
    """Review 7: after a kill, an adopted episode's line said `clamp_value: null` where the uninterrupted run wrote
    `NaN` (the record went through JSON with NaN as null). Planted: every value a serialization can change, in the
    lineage of a real staged episode and in its camera stats; the committed lines of the adopted answer and of the
    answer as the worker gave it (pickled, as Ray hands it over) are the same bytes."""
    output, result, task = _staged(tmp_path)
    ep = result.episodes[0]
    lineage = {**ep.staged.extra[LINEAGE_KEY], "behaviour": {"clamp_value": float("nan")}, "planted": _PLANTED}
    stats = {k: s.model_copy(update={"min": [float("nan"), -0.0, float("inf")]}) for k, s in ep.staged.stats.items()}
    staged = ep.staged.model_copy(update={"extra": {**ep.staged.extra, LINEAGE_KEY: lineage}, "stats": stats})
    planted = replace(result, episodes=(replace(ep, staged=staged), *result.episodes[1:]))
    record(output, task, planted)
    killed = tmp_path / "killed"
    shutil.copytree(output, killed)
    (adopted,) = (r.result for r in adoptable(killed).values())

    uninterrupted = _commit(output, pickle.loads(pickle.dumps(planted)), task.settings.codec)
    assert b"NaN" in uninterrupted and b"-0.0" in uninterrupted
    assert _commit(killed, adopted, task.settings.codec) == uninterrupted
