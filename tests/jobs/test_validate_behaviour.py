"""The behaviour findings of a dataset (`ingest.qa.dataset`), as `eidata validate` prints them on a corpus root: each
behaviour finding named with its value, threshold, tier and episodes:
a corpus of the real GR00T PickNPlace episodes plus planted copies (a dead elbow, a copy of episode 0, a 2 s camera
freeze), written as ingest writes them (`tests/ingest/qa/planted_raw.py`), then judged by `eidata verdicts`
(copies are verified on the signals there; validate shows what the lineage records)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from jobs.validate import cli_validate, validate_path
from jobs.verdicts.step import run_verdicts
from schemas.behaviour import BehaviourConfig
from schemas.canonicalize import CanonicalizeSpec
from tests.ingest.qa.planted_raw import add_frozen_camera


@pytest.fixture(scope="module")
def corpus(planted_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus") / "corpus"  # a copy of the session's (tests/jobs/conftest.py)
    shutil.copytree(planted_corpus, root, copy_function=shutil.copy2)
    add_frozen_camera(root, CanonicalizeSpec())  # written after the others, as one more raw episode of the job
    run_verdicts(root, BehaviourConfig())
    return root


def test_corpus_root_is_validated_dataset_by_dataset(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (report,) = validate_path(corpus, data=False)
    assert report.root.endswith("datasets/lerobot/gr00t_robot_sim_picknplace") and report.episodes == 8
    args = argparse.Namespace(path=str(corpus), strict=False, json=False, no_data=True)
    assert cli_validate(args) == 0  # warnings only (it exited 2 on a corpus root: no dataset one or two levels below)
    assert cli_validate(argparse.Namespace(**{**vars(args), "strict": True})) == 1
    assert "qa_behaviour" in capsys.readouterr().out


def test_each_finding_named_with_value_threshold_and_episode(corpus: Path) -> None:
    (report,) = validate_path(corpus, data=False)
    q = {x.code: x for x in report.quirks if x.code.startswith("qa_")}
    assert q["qa_behaviour"].severity == "info" and "8 episodes" in q["qa_behaviour"].message
    frozen = q["qa_cam_frozen_s"].message
    assert frozen.startswith("1 of 8 episodes -> low:") and "planted_frozen_camera" in frozen
    assert "camera frozen 2.00 s while the robot moves > 1.00 s" in frozen
    dead = q["qa_native_dead_dims"].message
    assert "planted_dead_elbow" in dead and "(>= 50%)" in dead
    assert "native state columns state.right_arm.motor_25 [27] motionless" in dead  # named; next.* beside the state
    # both planted copies are copies: of episode 0, and the frozen camera's of episode 1 (its state, exactly)
    dup = q["qa_duplicate"].message.replace("lerobot/gr00t_robot_sim_picknplace/", "")
    assert dup.startswith("2 of 8 episodes -> rejected:")
    assert "planted_frozen_camera: copy of episode_000001" in dup
    assert "planted_zz_copy_of_0: copy of episode_000000" in dup
    assert "<= eidata verdicts --copy-tolerance 0.1 of each dim's range" in dup  # the option that sets it
    assert {x.severity for x in report.quirks if x.code in ("qa_cam_frozen_s", "qa_duplicate")} == {"warning"}


def test_json_names_every_episode_of_each_finding(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    args = argparse.Namespace(path=str(corpus), strict=False, json=True, no_data=True)
    cli_validate(args)
    [report] = json.loads(capsys.readouterr().out)
    q = {x["code"]: x for x in report["quirks"]}
    dup = q["qa_duplicate"]
    assert len(dup["episodes"]) == 2 and all(e in dup["message"] for e in dup["episodes"])
    assert q["qa_behaviour"]["episodes"] == []
