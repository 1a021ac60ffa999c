"""The worker boundary's types (`jobs.ingest.task`): the settings every task gets from the spec, and a task and its
results as Ray carries them (pickled, not re-validated from dicts)."""

from __future__ import annotations

import pickle
from pathlib import Path

from adapters.base import EpisodeRef
from ingest.lerobot.staging import StagedEpisode
from jobs.ingest.task import EpisodeTask, Rejected, Staged, StagedOutput, TaskSettings, WorkItem
from jobs.spec_models import JobSpec, ParallelismSpec, SourceSpec
from schemas.lerobot_features import FeatureSpec


def _spec(tmp_path: Path, **parallelism: object) -> JobSpec:
    (tmp_path / "raw").mkdir(exist_ok=True)
    source = SourceSpec(name="s", adapter="oxe", root=tmp_path / "raw")
    return JobSpec(output=tmp_path / "out", sources=[source], parallelism=ParallelismSpec(**parallelism))


def test_settings_take_the_encoder_threads_only_where_the_codec_leaves_them_unset(tmp_path: Path) -> None:
    spec = _spec(tmp_path, encoder_threads=3)
    assert spec.codec.threads is None
    settings = TaskSettings.of(spec, spec.output)
    assert settings.codec.threads == 3 and settings.codec.model_copy(update={"threads": None}) == spec.codec
    assert settings.output == spec.output and settings.canonicalize is spec.canonicalize
    assert settings.deadline == spec.parallelism.deadline
    own = spec.model_copy(update={"codec": spec.codec.model_copy(update={"threads": 2})})
    assert TaskSettings.of(own, own.output).codec.threads == 2  # the spec's own choice stands


def test_settings_pin_a_task_to_one_cpu_only_when_asked(tmp_path: Path) -> None:
    assert TaskSettings.of(_spec(tmp_path, pin_tasks=True), tmp_path).pin_cpus == 1
    assert TaskSettings.of(_spec(tmp_path, pin_tasks=False), tmp_path).pin_cpus is None


def test_a_task_and_its_results_cross_the_worker_boundary_as_they_are(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    ref = EpisodeRef(adapter="oxe", source="s", subset="x", raw_id="007", paths=("a.tfrecord",))
    task = EpisodeTask(WorkItem(3, spec.sources[0], ref), TaskSettings.of(spec, spec.output))
    assert (task.uid, task.source, task.ref) == (task.item.uid, spec.sources[0], ref)
    assert pickle.loads(pickle.dumps(task)) == task
    staged = StagedEpisode(stage_dir=tmp_path / "st", label="x/007", length=12, tasks=["t"], video_files={}, stats={})
    features = {"observation.state": FeatureSpec(dtype="float32", shape=(50,))}
    result = Staged(task.uid, (StagedOutput("datasets/s/x", staged, "oxe", features),) * 2)
    assert result.frames == 24
    assert pickle.loads(pickle.dumps(result)) == result
    rejected = Rejected(task.uid, "read", "AdapterError", "crc mismatch", file="a.tfrecord", field="steps")
    assert pickle.loads(pickle.dumps(rejected)) == rejected
