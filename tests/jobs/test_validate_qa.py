"""`eidata validate` on datasets eidata wrote: the geometry QA of their episodes' lineage as an info line, a warning
per failed invariant naming it and its measured value, an error with --strict; thresholds those stored with the
episodes at ingest (a spec file beside the corpus is not read)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from jobs.cli import main
from jobs.validate import validate_dataset
from schemas.corpus import LINEAGE_KEY, EpisodeLineage
from schemas.lerobot import EPISODES_PATH
from schemas.qa import QAConfig, QARecord
from tests.fixtures.episodes import write_canonical_dataset

GOOD = QARecord(
    frames=6,
    hands_in_front=1.0,
    hands_in_image=0.9,
    hand_length=0.19,
    bone_length_cv=0.01,
    left_of_right=1.0,
    action_pos_err=1e-7,
    action_rot_err=1e-5,
)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("qa") / "corpus/datasets/egodex/default"
    write_canonical_dataset(root, [6, 5])
    return root


def with_qa(src: Path, dst: Path, *records: QARecord, config: QAConfig | None = None) -> Path:
    """A copy of the dataset whose episodes carry these QA records in their lineage, as ingest writes them (with the
    thresholds `config` when given)."""
    shutil.copytree(src, dst)
    path = dst / EPISODES_PATH
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    stored = {"qa_config": config.model_dump()} if config is not None else {}
    for line, rec in zip(lines, records, strict=True):
        uid = f"egodex/default/{line['episode_index']}"
        line[LINEAGE_KEY] = EpisodeLineage(episode_uid=uid, qa=rec, **stored).to_json()
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return dst


def test_a_dataset_passing_every_invariant_gets_an_info_line_only(written: Path, tmp_path: Path, capsys) -> None:
    root = with_qa(written, tmp_path / "ds", GOOD, GOOD.model_copy(update={"frames": 5}))
    report = validate_dataset(root)
    assert report.codes() == {("qa_summary", "info")}
    assert main(["validate", str(root), "--strict"]) == 0
    assert "geometry QA: 2 episodes, 11 frames; hands in front of the camera 100%" in capsys.readouterr().out


def test_a_too_large_hand_warns_and_fails_only_when_strict(written: Path, tmp_path: Path, capsys) -> None:
    big = GOOD.model_copy(update={"hand_length": 1.9})  # centimetres read as decimetres: a 1.9 m hand
    root = with_qa(written, tmp_path / "ds", big, big)
    assert ("qa_hand_length", "warning") in validate_dataset(root).codes()
    assert main(["validate", str(root)]) == 0
    out = capsys.readouterr().out
    assert "WARNING qa_hand_length: median wrist -> middle fingertip length 1.900 m is outside the human range" in out
    assert main(["validate", str(root), "--strict"]) == 1
    assert "-> FAIL (strict: warnings fail)" in capsys.readouterr().out


def test_hands_behind_the_camera_are_named_in_json(written: Path, tmp_path: Path, capsys) -> None:
    behind = GOOD.model_copy(update={"hands_in_front": 0.0, "hands_in_image": 0.0})
    root = with_qa(written, tmp_path / "ds", behind, GOOD.model_copy(update={"frames": 5}))  # 5 of 11 in front
    assert main(["validate", str(root), "--json", "--no-data"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    (front,) = [q for q in report["quirks"] if q["code"] == "qa_hands_in_front"]
    assert front["severity"] == "warning" and "in 45% of frames" in front["message"]


def test_the_thresholds_stored_with_the_episodes_apply_not_a_spec_file(written: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    strict = QAConfig(min_in_image_fraction=0.95)
    root = with_qa(written, corpus / "datasets/egodex/default", GOOD, GOOD, config=strict)
    assert ("qa_hands_in_image", "warning") in validate_dataset(root).codes()
    (corpus / "job").mkdir()  # the ingest job's spec says otherwise, or cannot be parsed: neither is read
    (corpus / "job/spec.yaml").write_text(yaml.safe_dump({"canonicalize": {"qa": {"min_in_image_fraction": 0.1}}}))
    assert ("qa_hands_in_image", "warning") in validate_dataset(root).codes()
    (corpus / "job/spec.yaml").write_text("canonicalize: {qa: [")
    assert ("qa_hands_in_image", "warning") in validate_dataset(root).codes()
    other = with_qa(written, tmp_path / "older/datasets/egodex/default", GOOD, GOOD)  # none stored: the defaults
    assert ("qa_hands_in_image", "warning") not in validate_dataset(other).codes()


def test_datasets_without_qa_are_not_judged(written: Path) -> None:
    assert not {c for c, _ in validate_dataset(written).codes() if c.startswith("qa_")}
