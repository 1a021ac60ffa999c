"""Captions written into a real dataset's meta (no Ray): the contract of `schemas.captions`, task deduplication,
untouched bytes elsewhere, resumability rules, the writer lock, and a run SIGKILLed at each step of the writer's
journaled meta update, which the next open rolls forward (a caption store writing meta itself would leave no
journal to roll forward, and the kill points inside the writer would never be reached)."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from adapters.lerobot_format.files import load_info
from ingest.lerobot.writer import LeRobotWriter
from ingest.lerobot.writer_dir import JOURNAL
from jobs.catalog.rows import dataset_rows
from jobs.stages.caption_store import (
    CaptionStoreError,
    NewCaption,
    apply_captions,
    plan_dataset,
)
from schemas.corpus import NO_LINEAGE
from tests.fixtures.corpus import episode, write_dataset
from tests.ingest.lerobot._crash_writer import KILL_POINTS
from tests.ingest.lerobot.crash_child import reap, start, wait_for
from tests.jobs.stages import _crash_captions

TASKS = ["#C C picks up the cup from the table", "#O man X hands a knife to C", "put the lid on the jar"]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "corpus/datasets/ego4d/default"
    eps = [episode(6, t, f"ego4d/default/{i}", "human") for i, t in enumerate(TASKS)]
    return write_dataset(root, "human", eps)


def _lines(root: Path, rel: str) -> list[dict]:
    return [json.loads(x) for x in (root / rel).read_text().splitlines() if x.strip()]


def _data_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted([*root.glob("data/**/*.parquet"), *root.glob("videos/**/*.mp4")])
    }


def _rule(index: int, text: str, original: str) -> NewCaption:
    return NewCaption(index, text, "rule", "eidata-rules-1", original)


def test_captions_follow_the_contract(dataset: Path) -> None:
    before_lines = (dataset / "meta/episodes.jsonl").read_text().splitlines(keepends=True)
    before_data = _data_hashes(dataset)
    captions = [_rule(0, "pick up the cup from the table", TASKS[0]), _rule(2, "put the lid on the jar", TASKS[2])]
    assert apply_captions(dataset, captions) == 2

    tasks = _lines(dataset, "meta/tasks.jsonl")
    assert tasks == [{"task_index": i, "task": t} for i, t in enumerate([*TASKS, "pick up the cup from the table"])]
    assert load_info(dataset / "meta/info.json").total_tasks == 4
    eps = _lines(dataset, "meta/episodes.jsonl")
    assert [e["tasks"] for e in eps] == [[t] for t in TASKS]  # originals kept
    assert eps[0]["eidata"]["caption"] == {
        "text": "pick up the cup from the table",
        "task_index": 3,
        "kind": "rule",
        "model": "eidata-rules-1",
        "original": TASKS[0],
    }
    assert eps[2]["eidata"]["caption"]["task_index"] == 2  # an identical text is reused, not appended
    assert eps[0]["eidata"]["episode_uid"] == "ego4d/default/0"  # the rest of the lineage is kept
    after_lines = (dataset / "meta/episodes.jsonl").read_text().splitlines(keepends=True)
    assert after_lines[1] == before_lines[1]  # an episode not captioned keeps its bytes
    assert _data_hashes(dataset) == before_data
    assert not [p for p in (dataset / "meta").iterdir() if p.name.startswith(".")]  # no temp files left


def test_which_episodes_a_run_redoes(dataset: Path) -> None:
    work, skipped = plan_dataset(dataset, "rule", "eidata-rules-1")
    assert ([w.episode_index for w in work], skipped) == ([0, 1, 2], 0)
    assert work[0].original == TASKS[0] and work[0].length == 6
    assert work[0].video == str(dataset / "videos/chunk-000/observation.images.head/episode_000000.mp4")
    apply_captions(dataset, [_rule(0, "pick up the cup from the table", TASKS[0])])
    apply_captions(dataset, [NewCaption(1, "hand over the knife", "vlm", "qwen", TASKS[1])])
    apply_captions(dataset, [NewCaption(2, "put the lid on the jar", "rule", "eidata-rules-1", TASKS[2], "qwen")])

    def todo(kind: str, model: str, force: bool = False) -> list[int]:
        return [w.episode_index for w in plan_dataset(dataset, kind, model, force=force)[0]]  # type: ignore[arg-type]

    assert todo("rule", "eidata-rules-1") == []  # same rules done 0 and 2, and rules never replace a VLM caption
    assert todo("rule", "eidata-rules-2") == [0, 2]  # new rules redo rule captions only
    assert todo("vlm", "qwen") == [0]  # 1 is qwen's, 2 is qwen's fallback to the rules
    assert todo("vlm", "other-vlm") == [0, 1, 2]
    assert todo("rule", "eidata-rules-1", force=True) == [0, 1, 2]
    apply_captions(dataset, [NewCaption(0, "grab the cup", "vlm", "qwen", TASKS[0])])  # a VLM replaces rules
    cap = _lines(dataset, "meta/episodes.jsonl")[0]["eidata"]["caption"]
    assert (cap["kind"], cap["text"], cap["original"]) == ("vlm", "grab the cup", TASKS[0])
    assert [t["task"] for t in _lines(dataset, "meta/tasks.jsonl")][3:] == [
        "pick up the cup from the table",
        "hand over the knife",
        "grab the cup",
    ]  # old captions stay tasks


def test_waits_for_the_writer_lock_then_writes(dataset: Path) -> None:
    holder = LeRobotWriter.open(dataset)
    try:
        with pytest.raises(CaptionStoreError, match="cannot take the writer lock"):
            apply_captions(dataset, [_rule(0, "pick up the cup", TASKS[0])], lock_timeout_s=0.2)
        threading.Timer(0.5, holder.close).start()
        t0 = time.monotonic()
        assert apply_captions(dataset, [_rule(0, "pick up the cup", TASKS[0])], lock_timeout_s=10) == 1
        assert time.monotonic() - t0 >= 0.4
    finally:
        holder.close()


def test_a_run_killed_after_appending_tasks_is_recovered(dataset: Path) -> None:
    """Tasks appended past info.json's total_tasks (killed before info.json) are dropped by the writer's recovery,
    and the next run writes a consistent set."""
    with open(dataset / "meta/tasks.jsonl", "a") as f:
        f.write(json.dumps({"task_index": 3, "task": "half-written caption"}) + "\n")
    apply_captions(dataset, [_rule(1, "hand a knife to the camera wearer", TASKS[1])])
    tasks = _lines(dataset, "meta/tasks.jsonl")
    assert [t["task"] for t in tasks] == [*TASKS, "hand a knife to the camera wearer"]
    assert _lines(dataset, "meta/episodes.jsonl")[1]["eidata"]["caption"]["task_index"] == 3
    assert load_info(dataset / "meta/info.json").total_tasks == 4


def test_unknown_episode_is_an_error_and_changes_nothing(dataset: Path) -> None:
    before = {p.name: p.read_bytes() for p in (dataset / "meta").iterdir()}
    with pytest.raises(CaptionStoreError, match=r"no episodes \[7\]"):
        apply_captions(dataset, [_rule(7, "lift the lid", "x")])
    assert {p.name: p.read_bytes() for p in (dataset / "meta").iterdir()} == before


def test_dataset_without_lineage_is_cataloged_with_its_caption(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "corpus/datasets/other/set", "franka", [{"n": 5, "task": "Lift the lid."}])
    apply_captions(root, [_rule(0, "lift the lid", "Lift the lid.")])
    (row,) = dataset_rows(tmp_path / "corpus", root)[0]
    assert (row.caption, row.caption_ready, row.task, row.tier_notes) == (
        "lift the lid",
        True,
        "Lift the lid.",
        [NO_LINEAGE],
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "writer.lock"
    }


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_run_killed_anywhere_in_the_writers_journal_reruns_to_the_same_bytes(
    point: str, dataset: Path, tmp_path: Path
) -> None:
    clean = tmp_path / "clean"
    shutil.copytree(dataset, clean)
    assert apply_captions(clean, _crash_captions.CAPTIONS) == 2
    before, log = _tree(dataset), tmp_path / "child.err"
    proc = start(point, dataset, log, helper=Path(_crash_captions.__file__))
    assert wait_for(proc, "KILLED-AT", log) == f"KILLED-AT {point}"  # the captions went through the writer's journal
    assert reap(proc) == -signal.SIGKILL
    assert (dataset / JOURNAL).exists() == (point != "journal")
    LeRobotWriter.open(dataset).close()  # what the next caption or ingest run does first
    assert _tree(dataset) == (_tree(clean) if point != "journal" else before)
    assert apply_captions(dataset, _crash_captions.CAPTIONS) == 2  # the rerun
    assert _tree(dataset) == _tree(clean)
