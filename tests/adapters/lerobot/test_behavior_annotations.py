"""BEHAVIOR-1K's per-episode annotation files become language segments of the episodes they describe
(`adapters.lerobot.behavior_annotations`), in the real layout (tests/fixtures/lerobot_layouts/behavior_r1pro_v21:
info.json's `annotation_path`, task-NNNN folders), the files written here in the fields the real ones have
(`skill_annotation` / `primitive_annotation` entries, `frame_duration` in frames at 30 fps, `meta_data`).

What is checked: each skill and primitive interval is a segment at the row times of its frames, in order, its text
the verb phrase and its objects; an interrupted skill is two segments; the file rides in the lineage. Nothing is lost
silently: a malformed file, a frame range past the episode, a missing file, a task that is not the episode's and a
file no episode claims are each a quirk naming the file (and the field), and the episode is still read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from adapters.base import EpisodeRef, RawEpisode, Stream
from adapters.lerobot.adapter import LeRobotSource
from adapters.lerobot.behavior_annotations import BehaviorAnnotation, intervals, with_annotation
from schemas.lerobot import InfoJson
from schemas.tiers import QualityTier
from tests.fixtures.layouts import TASKS, load_case, materialize
from tests.realdata import realdata

CASE = Path(__file__).resolve().parents[2] / "fixtures" / "lerobot_layouts" / "behavior_r1pro_v21"
FPS = 30.0
EP0, EP1 = "annotations/task-0000/episode_00000000.json", "annotations/task-0000/episode_00000001.json"


def _skill(verb: str, objects: list[str], frames: list, idx: int) -> dict:
    return {
        "skill_idx": idx,
        "skill_id": [idx],
        "skill_description": [verb],
        "object_id": [objects],
        "manipulating_object_id": objects[:1],
        "memory_prefix": [],
        "spatial_prefix": [],
        "skill_type": ["uncoordinated"],
        "frame_duration": frames,
    }


GOOD = {
    "task_name": TASKS[0],
    "meta_data": {"task_duration": 33, "valid_duration": [0, 32]},
    "skill_annotation": [
        _skill("move to", ["radio_89"], [0, 10], 0),
        _skill("pick up from", ["radio_89", "coffee_table_koagbh_0"], [11, 20], 1),
        _skill("press", ["radio_89"], [[21, 24], [27, 32]], 2),  # interrupted: two intervals
    ],
    "primitive_annotation": [
        {
            "primitive_idx": 0,
            "primitive_description": ["pick up from"],
            "object_id": [["radio_89", "coffee_table_koagbh_0"]],
            "skill_idxes": [0, 1],
            "frame_duration": [0, 20],
        }
    ],
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("behavior_ann") / "ds"
    written = materialize(load_case(CASE), root, episodes=2, seconds=1.1)
    assert written.lengths == [33, 39]
    return root


def _read(root: Path, files: dict[str, object]) -> tuple[list[RawEpisode], LeRobotSource]:
    """Every episode read with exactly `files` under annotations/ (a str is written as it is)."""
    shutil.rmtree(root / "annotations", ignore_errors=True)
    for rel, doc in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    source = LeRobotSource()
    refs = list(source.discover(root))
    assert all(r.error is None for r in refs), [(r.raw_id, r.error) for r in refs]
    return [source.read(r) for r in refs], source


def _quirks(raw: RawEpisode) -> list[dict]:
    return list(raw.metadata.get("episode_quirks", []))


def _said(raw: RawEpisode) -> str:
    return json.dumps(_quirks(raw)) + json.dumps([f.model_dump() for f in raw.findings], default=str)


def test_each_interval_is_a_segment_at_its_frames_row_times(dataset: Path) -> None:
    [ep0, ep1], _ = _read(dataset, {EP0: GOOD, EP1: {**GOOD, "task_name": TASKS[1]}})
    subtasks = [x for x in ep0.language if x.kind == "subtask"]
    assert [(x.text, x.start_s, x.end_s) for x in subtasks] == [
        ("move to (radio_89)", 0.0, pytest.approx(10 / FPS)),
        ("pick up from (radio_89, coffee_table_koagbh_0)", pytest.approx(11 / FPS), pytest.approx(20 / FPS)),
        ("press (radio_89)", pytest.approx(21 / FPS), pytest.approx(24 / FPS)),
        ("press (radio_89)", pytest.approx(27 / FPS), pytest.approx(32 / FPS)),
    ]
    [primitive] = [x for x in ep0.language if x.kind == "primitive"]
    assert primitive.text == "pick up from (radio_89, coffee_table_koagbh_0)" and primitive.end_s == pytest.approx(
        20 / FPS
    )
    assert ep0.language[0].kind == "instruction"  # the episode's task stays first: the segments come after it
    assert isinstance(ep0.annotation, BehaviorAnnotation) and ep0.annotation.file == EP0
    assert len(ep0.annotation.skills) == 3 and ep0.annotation.meta_data["valid_duration"] == [0, 32]
    assert not [q for q in _quirks(ep0) if q["code"].startswith("annotation")]
    assert len([x for x in ep1.language if x.kind == "subtask"]) == 4  # episode 1's own file


def test_a_malformed_file_is_named_and_the_episode_still_read(dataset: Path) -> None:
    bad = {**GOOD, "skill_annotation": [{**GOOD["skill_annotation"][0], "frame_duration": "0-10"}]}
    [ep0, ep1], _ = _read(dataset, {EP0: bad, EP1: "{not json"})
    for raw, rel in ((ep0, EP0), (ep1, EP1)):
        assert not [x for x in raw.language if x.kind in ("subtask", "primitive")]
        [q] = [q for q in _quirks(raw) if q["code"] == "annotation_malformed"]
        assert q["path"] == rel and rel in q["message"] and q["severity"] == "error"
        assert raw.states["observation.state"].values.shape[1] == 256  # the robot data is kept
    assert "skill_annotation.0.frame_duration" in _said(ep0)
    assert "not valid JSON" in _said(ep1)


def test_frames_past_the_episode_are_refused_naming_the_entry(dataset: Path) -> None:
    late = {**GOOD, "skill_annotation": [GOOD["skill_annotation"][0], _skill("place on", ["radio_89"], [30, 90], 1)]}
    [ep0, _], _ = _read(dataset, {EP0: late, EP1: GOOD})
    [q] = [q for q in _quirks(ep0) if q["code"] == "annotation_malformed"]
    assert "skill_annotation[1]" in q["message"] and "33 rows" in q["message"]
    assert not [x for x in ep0.language if x.kind == "subtask"]


def test_missing_stray_and_other_task_files_are_said(dataset: Path) -> None:
    stray = "annotations/task-0000/episode_00000099.json"
    [ep0, ep1], _ = _read(dataset, {EP1: {**GOOD, "task_name": "cook bacon"}, stray: GOOD})
    assert [q["code"] for q in _quirks(ep0) if q["code"].startswith("annotation")] == ["annotation_missing"]
    assert EP0 in _said(ep0)
    [mismatch] = [q for q in _quirks(ep1) if q["code"] == "annotation_task_mismatch"]
    assert "cook bacon" in mismatch["message"] and len([x for x in ep1.language if x.kind == "subtask"]) == 4
    assert "annotation_unmatched" in _said(ep0) and stray in _said(ep0)  # a dataset finding, on every episode


def test_frame_duration_forms() -> None:
    assert intervals([3, 9], "x") == [(3, 9)]
    assert intervals([[0, 4], [6, 8]], "x") == [(0, 4), (6, 8)]
    for bad in ([9, 3], [1.5, 3], "0-10", [], [0, 1, 2]):
        with pytest.raises(ValueError, match="x: frame_duration"):
            intervals(bad, "x")


def test_a_real_annotation_file_becomes_its_episodes_segments() -> None:
    """A real 2025-challenge-demos annotation file, on a row clock as long as its episode (meta/episodes.jsonl of the
    sample): every skill interval a segment in the file's order, inside the episode, none refused."""
    folder = realdata("behavior_1k_annotation")
    [path] = sorted(folder.glob("annotations/task-*/episode_*.json"))
    index = int(path.stem.split("_")[-1])
    lengths = {json.loads(x)["episode_index"]: json.loads(x)["length"] for x in (folder / "meta/episodes.jsonl").open()}
    n = lengths[index]
    info = InfoJson.model_validate(json.loads((CASE / "info.json").read_text(encoding="utf-8")))
    clock = Stream(np.arange(n) / FPS, np.zeros((n, 1)))
    raw = RawEpisode(
        ref=EpisodeRef(adapter="lerobot", source="behavior", subset="behavior", raw_id=str(index), paths=(str(path),)),
        robot_type="R1Pro",
        embodiment="galaxea_r1pro",
        tier=QualityTier.high,
        native_fps=FPS,
        states={"observation.state": clock},
    )
    out = with_annotation(raw, folder, info, index)
    assert not _quirks(out), _quirks(out)
    doc = json.loads(path.read_text(encoding="utf-8"))
    want = [
        " ".join(s["skill_description"])
        for s in doc["skill_annotation"]
        for _ in intervals(s["frame_duration"], path.name)
    ]
    got = [x for x in out.language if x.kind == "subtask"]
    assert [x.text.split(" (")[0] for x in got] == want
    assert all(0 <= x.start_s <= x.end_s <= (n - 1) / FPS for x in got)
