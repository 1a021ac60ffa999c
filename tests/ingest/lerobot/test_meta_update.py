"""A meta update (tasks added, episode lines rewritten) as a journaled writer operation: what it writes, what it
leaves byte for byte, what it refuses, and a writer SIGKILLed at each step of it, reopened and rerun."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest

from adapters.lerobot_format.files import load_info
from adapters.storage.atomic import is_temp_path
from ingest.lerobot.errors import DatasetError
from ingest.lerobot.writer import LeRobotWriter
from ingest.lerobot.writer_dir import JOURNAL
from tests.fixtures.episodes import canonical_frames, write_canonical_dataset
from tests.ingest.lerobot import _crash_writer as child
from tests.ingest.lerobot.crash_child import reap, start, wait_for

LENGTHS = [6, 6, 6]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A three-episode dataset (tasks "task 0", "task 1"); tests copy it, never change it."""
    root = tmp_path_factory.mktemp("meta") / "base"
    write_canonical_dataset(root, LENGTHS)
    return root


def _copy(base: Path, to: Path) -> Path:
    shutil.copytree(base, to)
    return to


def _tree(root: Path) -> dict[str, bytes]:
    """Every file's bytes but the lock file's (it holds its last holder's pid)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "writer.lock"
    }


def _jsonl(root: Path, name: str) -> list[dict]:
    return [json.loads(x) for x in (root / "meta" / name).read_text().split("\n") if x.strip()]


def test_update_appends_new_tasks_and_rewrites_only_the_edited_lines(base: Path, tmp_path: Path) -> None:
    root = _copy(base, tmp_path / "ds")
    before = _tree(root)
    with LeRobotWriter.open(root) as w:
        assert child.update_meta(w) == 2
    after = _tree(root)
    assert [t["task"] for t in _jsonl(root, "tasks.jsonl")] == ["task 0", "task 1", "wipe the table"]
    assert load_info(root / "meta/info.json").total_tasks == 3
    eps = _jsonl(root, "episodes.jsonl")
    assert eps[0]["note"] == {"task": "wipe the table", "task_index": 2}
    assert eps[1]["note"] == {"task": "task 0", "task_index": 0}  # an existing text is reused
    assert [e["tasks"] for e in eps] == [["task 0"], ["task 1"], ["task 0"]]  # the rest of each line is kept
    old_lines = before["meta/episodes.jsonl"].splitlines(keepends=True)
    assert after["meta/episodes.jsonl"].splitlines(keepends=True)[2] == old_lines[2]  # not edited: same bytes
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"meta/episodes.jsonl", "meta/tasks.jsonl", "meta/info.json"}
    assert set(after) == set(before)  # no journal, no temp file left


def test_update_without_new_tasks_leaves_info_and_tasks_untouched(base: Path, tmp_path: Path) -> None:
    root = _copy(base, tmp_path / "ds")
    before = _tree(root)
    with LeRobotWriter.open(root) as w:
        update = w.meta_update()
        update.edit_episode(2, child.meta_edit("task 1", update.add_task("task 1")))
        assert w.commit_meta(update) == 1
    after = _tree(root)
    assert {k for k in before if before[k] != after[k]} == {"meta/episodes.jsonl"}


def test_a_commit_after_an_update_uses_its_tasks(base: Path, tmp_path: Path) -> None:
    """The writer's task table follows its own meta update: a later episode naming the new text reuses its index."""
    root = _copy(base, tmp_path / "ds")
    with LeRobotWriter.open(root) as w:
        child.update_meta(w)
        with w.episode(task="wipe the table") as b:
            for f in canonical_frames(4, seed=3):
                b.add_frame(f)
    assert [t["task"] for t in _jsonl(root, "tasks.jsonl")] == ["task 0", "task 1", "wipe the table"]
    info = load_info(root / "meta/info.json")
    assert (info.total_tasks, info.total_episodes) == (3, 4)


def test_unknown_episode_is_refused_and_nothing_is_written(base: Path, tmp_path: Path) -> None:
    root = _copy(base, tmp_path / "ds")
    before = _tree(root)
    with LeRobotWriter.open(root) as w:
        update = w.meta_update()
        update.edit_episode(7, child.meta_edit("new text", update.add_task("new text")))
        with pytest.raises(DatasetError, match=r"no episodes \[7\]"):
            w.commit_meta(update)
    assert _tree(root) == before


def test_an_update_planned_before_a_commit_is_refused(base: Path, tmp_path: Path) -> None:
    """A task index handed out before a commit that added tasks would name another text: refused, nothing written."""
    root = _copy(base, tmp_path / "ds")
    with LeRobotWriter.open(root) as w:
        update = w.meta_update()
        update.edit_episode(0, child.meta_edit("wipe the table", update.add_task("wipe the table")))
        with w.episode(task="a task of the new episode") as b:
            for f in canonical_frames(4, seed=3):
                b.add_frame(f)
        before = _tree(root)
        with pytest.raises(DatasetError, match="planned before a later commit"):
            w.commit_meta(update)
    assert _tree(root) == before


def test_tasks_out_of_step_with_info_are_refused(base: Path, tmp_path: Path) -> None:
    root = _copy(base, tmp_path / "ds")
    info = json.loads((root / "meta/info.json").read_text())
    info["total_tasks"] = 3  # more than tasks.jsonl holds: recovery cannot repair it
    (root / "meta/info.json").write_text(json.dumps(info, indent=4))
    with LeRobotWriter.open(root, recover=False) as w, pytest.raises(DatasetError, match=r"has 2 tasks, info\.json 3"):
        w.meta_update()


def test_a_line_separator_inside_a_text_does_not_split_its_line(base: Path, tmp_path: Path) -> None:
    """`ensure_ascii=False` writes U+2028 raw; `str.splitlines` would cut the line there and mis-number the rest."""
    root = _copy(base, tmp_path / "ds")
    text = "wipe\u2028the table"
    with LeRobotWriter.open(root) as w:
        update = w.meta_update()
        update.edit_episode(0, child.meta_edit(text, update.add_task(text)))
        w.commit_meta(update)
        update = w.meta_update()
        update.edit_episode(1, child.meta_edit("task 1", update.add_task("task 1")))
        w.commit_meta(update)
    eps = _jsonl(root, "episodes.jsonl")
    assert [e.get("note", {}).get("task") for e in eps] == [text, "task 1", None]


# -- SIGKILL at each step of a meta update ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clean(base: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The files an uninterrupted meta update leaves."""
    root = _copy(base, tmp_path_factory.mktemp("clean") / "ds")
    with LeRobotWriter.open(root) as w:
        child.update_meta(w)
    return _tree(root)


@pytest.mark.parametrize("point", list(child.KILL_POINTS))
def test_a_meta_update_killed_anywhere_is_rolled_forward_or_left_out(
    point: str, base: Path, clean: dict[str, bytes], tmp_path: Path
) -> None:
    """Killed inside the journal's atomic write: reopening leaves the dataset as before. Killed after it (nothing
    applied, tasks appended, all but info.json): reopening finishes the update. Either way a rerun of the same
    update gives the uninterrupted files byte for byte."""
    root, log = _copy(base, tmp_path / "ds"), tmp_path / "child.err"
    proc = start(f"meta-{point}", root, log)
    assert wait_for(proc, "KILLED-AT", log) == f"KILLED-AT {point}"
    assert reap(proc) == -signal.SIGKILL
    killed = _tree(root)
    before = _tree(base)
    journaled = point != "journal"
    assert (root / JOURNAL).exists() == journaled
    if point == "episodes":  # the tasks were appended first; the episodes not yet rewritten
        assert killed["meta/tasks.jsonl"] == clean["meta/tasks.jsonl"] != before["meta/tasks.jsonl"]
        assert killed["meta/episodes.jsonl"] == before["meta/episodes.jsonl"]
    if point == "info":
        assert killed["meta/episodes.jsonl"] == clean["meta/episodes.jsonl"]
        assert killed["meta/info.json"] == before["meta/info.json"]
    if point != "applied-nothing":
        assert any(is_temp_path(Path(k)) for k in killed)  # the kill cut an atomic write short

    LeRobotWriter.open(root).close()
    assert _tree(root) == (clean if journaled else before)
    with LeRobotWriter.open(root) as w:  # the rerun
        assert child.update_meta(w) == 2
    assert _tree(root) == clean
