"""`eidata trace`: one real raw episode (GR00T PickNPlace, LeRobot v2.0) through the ingest steps, each step's answer
printed (the verdicts in order with the tier each allows), nothing written to the corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from jobs.cli import main
from jobs.ingest.trace import TraceError, find_episode, trace
from jobs.spec_models import JobSpec, SourceSpec
from tests.ingest.qa.gr00t_sample import SAMPLE as GR00T
from tests.realdata import realdata

UID = "lerobot/gr00t_robot_sim_picknplace/episode_000001"


@pytest.fixture
def spec(tmp_path: Path) -> JobSpec:
    return JobSpec(
        output=tmp_path / "corpus", sources=[SourceSpec(name="lerobot", adapter="lerobot", root=realdata(GR00T))]
    )


def test_each_step_says_what_it_made_and_the_judge_lists_the_verdicts(spec: JobSpec) -> None:
    item = find_episode(spec, UID)
    assert item.uid == UID and find_episode(spec, "episode_000001").uid == UID  # by uid or by raw id
    result = trace(spec, item)
    lines = result.lines
    assert not result.refused
    steps = [line.split(":", 1)[0] for line in lines[1:]]
    assert steps[0] == "read" and "canonicalize" in steps and steps[-1] == "judge" and "write" not in steps
    judged = [x for x in lines if x.startswith("judge: " + UID)]
    assert len(judged) == 1 and "tier high" in judged[0], lines
    # canonicalization's notes come first, the judging step's verdicts after them, each with the tier it allows
    canon = [x.split(":", 1)[1] for x in lines if x.startswith("canonicalize:   ")]
    after = [x.split(":", 1)[1] for x in lines if x.startswith("judge:   ")]
    assert after[: len(canon)] == canon and all(v.split()[0] in {"high", "low", "actionless"} for v in after)
    assert not spec.output.exists()  # nothing written where the corpus goes


def test_the_write_step_stages_into_a_folder_it_removes(spec: JobSpec) -> None:
    lines = trace(spec, find_episode(spec, UID), write=True).lines
    assert any(x.startswith("write: staged datasets/lerobot/gr00t_robot_sim_picknplace") for x in lines), lines
    assert lines[-1].startswith(f"judge: {UID}: tier ") and lines[-1].endswith("cameras judged"), lines
    assert not spec.output.exists()


def test_an_episode_no_source_holds_is_named_with_the_sources_looked_at(spec: JobSpec) -> None:
    with pytest.raises(TraceError, match=r"'lerobot/nope/episode_9'.*source\(s\) lerobot"):
        find_episode(spec, "lerobot/nope/episode_9")
    with pytest.raises(TraceError, match="no source named 'oxe'"):
        find_episode(spec, UID, source="oxe")


def test_the_command_prints_the_trace(spec: JobSpec, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(spec.model_dump(mode="json", exclude_defaults=True)))
    assert main(["trace", str(path), UID]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"trace of {UID}") and "\njudge: " in out
    assert main(["trace", str(path), "lerobot/nope/episode_9"]) == 2


def test_an_episode_a_step_refuses_exits_1_naming_the_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "gr00t"
    shutil.copytree(realdata(GR00T), root)
    (root / "data/chunk-000/episode_000001.parquet").write_bytes(b"PAR1 not a parquet file")
    spec = JobSpec(output=tmp_path / "corpus", sources=[SourceSpec(name="lerobot", adapter="lerobot", root=root)])
    result = trace(spec, find_episode(spec, "episode_000001"))
    assert result.refused and result.lines[-1].startswith("read: failed (AdapterError): unreadable parquet"), (
        result.lines
    )
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(spec.model_dump(mode="json", exclude_defaults=True)))
    assert main(["trace", str(path), "episode_000001"]) == 1
    assert "read: failed (AdapterError)" in capsys.readouterr().out
