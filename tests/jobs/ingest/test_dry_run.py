"""Issue 68: `eidata ingest SPEC --dry-run` says what the job would read and write (each source's episodes per
dataset, those discovery flags, those the corpus already holds, the adapter's findings) and writes nothing: the raw
sources' and the output's trees (sizes, mtimes) are what they were, Ray is not started, the corpus not created.
Issue 97 item 5: it reads the first episode each source has to write as a run reads it and says what the run would
make of it (`jobs.ingest.dry_run.sample`), in the run's words."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from adapters import get_adapter
from jobs.cli import main
from jobs.demo.corpus import write_raw_corpus
from jobs.ingest.dry_run import sample, sample_lines
from jobs.ingest.task import WorkItem
from jobs.spec_models import JobSpec
from tests.jobs.demo_reference import demo_spec
from tests.jobs.runtime.test_dry_run import snapshot
from tests.realdata import realdata


@pytest.mark.own_ray  # asserts that no Ray runs
def test_the_plan_of_the_demo_spec_writes_nothing(
    raw: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import ray

    spec = demo_spec(tmp_path, raw)
    before = snapshot(tmp_path, *raw.values())
    assert main(["ingest", str(spec), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert snapshot(tmp_path, *raw.values()) == before and not (tmp_path / "corpus").exists()
    assert not ray.is_initialized()
    assert "to write  datasets/agibot/task_327  3 of 3 episodes" in out
    assert "to write  datasets/bridge/bridge_dataset  2 of 3 episodes, 1 flagged (quarantined)" in out
    assert "first flagged: part1/bad_inputs/0: adapter egodex" in out and "error   unreadable_parquet" in out
    # each source's first episode to write read as a run reads it: the demo's corrupt Ego4D mp4 comes first
    assert "sample (1 of 3 to write, read as a run reads it): agibot/task_327/327/700000: would be written: 20" in out
    assert "sample (1 of 6 to write, read as a run reads it): ego4d/default/" in out
    assert "would be quarantined at read (AdapterError file " in out and ": unreadable mp4 of video " in out
    said = "dry run: 5 episode(s) read as a sample, one per source, nothing written, Ray not started"
    assert f"ingest: 5 source(s), 18 episodes found; {said}" in out


def test_episodes_the_corpus_holds_are_said_skipped(
    raw: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = demo_spec(tmp_path, raw)
    ref = next(iter(get_adapter("agibot").discover(raw["agibot"])))
    meta = tmp_path / f"corpus/datasets/agibot/{ref.subset}/meta"
    meta.mkdir(parents=True)
    line = {"episode_index": 0, "eidata": {"episode_uid": f"agibot/{ref.subset}/{ref.raw_id}"}}
    (meta / "episodes.jsonl").write_text(json.dumps(line) + "\n")
    before = snapshot(tmp_path)
    assert main(["ingest", str(spec), "--dry-run"]) == 0
    said = "datasets/agibot/task_327  2 of 3 episodes, 1 already done (skipped: written or quarantined)"
    assert said in capsys.readouterr().out
    assert snapshot(tmp_path) == before


def test_a_file_a_discovery_parse_is_killed_for_costs_its_dataset_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A meta file whose parse passes the memory limit is refused at its open and the source discovered again, its
    dataset's episodes flagged naming it, as a run's discovery does (`test_parse_limit`): the plan said the whole
    source would be quarantined while a run reads its neighbours."""
    import numpy as np

    from tests.adapters.lerobot.conftest import MOTORS, write_arm_dataset
    from tests.fixtures import library_bombs as lb
    from tests.jobs.ingest.test_parse_limit import LIMIT_MIB

    root = tmp_path / "lerobot"
    rows = np.linspace(0.1, 1.0, 40 * len(MOTORS)).reshape(40, len(MOTORS))
    for name in ("a_info_bomb", "b_good"):
        write_arm_dataset(root / name, "so101_follower", list(MOTORS), rows)
    lb.sparse(root / "a_info_bomb/meta/info.json", 600 << 20, head="")  # under `max_json_bytes`: read, and killed
    spec = tmp_path / "job.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "output": str(tmp_path / "corpus"),
                "parallelism": {"task_memory_mib": LIMIT_MIB},
                "sources": [{"name": "lerobot", "adapter": "lerobot", "root": str(root)}],
            }
        )
    )
    assert main(["ingest", str(spec), "--dry-run", "--no-sample"]) == 0
    out = capsys.readouterr().out
    assert "discovery fails" not in out, out
    assert "to write  datasets/lerobot/b_good  1 of 1 episodes" in out, out
    assert "a_info_bomb/meta/info.json" in out and f"memory limit of {LIMIT_MIB} MiB" in out, out


def test_a_source_whose_read_fails_is_said_quarantined(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Newcomer review 10, F2: the plan said "1 of 1 episodes" to write for a real UR5e log whose recorder's columns
    are not the `ur_rtde` preset's (no `timestamp`), and the run quarantined it at its read. The sample reads it and
    says so in the run's words (the quarantine row's stage, class, file, field and message); `--no-sample` is the
    old plan, from discovery alone."""
    root = realdata("table_log_ur5e_notts")
    spec = tmp_path / "job.yaml"
    source = {"name": "ur5e_logs", "adapter": "table_log", "root": str(root), "options": {"preset": "ur_rtde"}}
    spec.write_text(yaml.safe_dump({"output": str(tmp_path / "corpus"), "sources": [source]}))
    assert main(["ingest", str(spec), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "to write  datasets/ur5e_logs/table_log_ur5e_notts  1 of 1 episodes" in out
    head = "sample (1 of 1 to write, read as a run reads it): ur5e_logs/table_log_ur5e_notts/UR5e_motion_full.csv"
    quarantined = f"would be quarantined at read (AdapterError file {root / 'UR5e_motion_full.csv'} field columns)"
    assert f"{head}: {quarantined}: 13 of the column map's 13 columns are not in the table: 'timestamp'" in out
    assert not (tmp_path / "corpus").exists()
    assert main(["ingest", str(spec), "--dry-run", "--no-sample"]) == 0
    out = capsys.readouterr().out
    assert "sample (" not in out and "dry run: no episode read, nothing written" in out
    assert main(["ingest", str(spec), "--no-sample"]) == 2  # a run reads every episode: a bad call
    assert "--no-sample applies to --dry-run" in capsys.readouterr().err


def test_an_episode_gone_since_discovery_is_the_environment_s(tmp_path: Path) -> None:
    """A run waits out a source that went away and quarantines nothing (`jobs.ingest.worker.failed`); the sample
    says the same, not "quarantined"."""
    raw = write_raw_corpus(tmp_path / "raw", sources=("agibot",))
    source = {"name": "a", "adapter": "agibot", "root": str(raw["agibot"])}
    spec = JobSpec.model_validate({"output": str(tmp_path / "out"), "sources": [source]})
    ref = next(iter(get_adapter("agibot").discover(raw["agibot"])))
    shutil.rmtree(raw["agibot"])
    said = sample(spec, WorkItem(0, spec.sources[0], ref))
    assert said.rejected is None and said.environment is not None and "SourceVanishedError" in said.environment
    [line] = sample_lines(said, 3)
    assert ": the environment failed its read (a run waits it out, quarantines nothing): SourceVanishedError" in line
