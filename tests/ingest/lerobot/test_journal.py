"""The writer's journal on its own: applying it is idempotent from any point a crash can leave, and it refuses a
journal that names what is gone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.lerobot.errors import DatasetError
from ingest.lerobot.journal import apply_journal, build_meta_journal, describe
from ingest.lerobot.writer_dir import JOURNAL
from schemas.lerobot import EPISODES_PATH, TASKS_PATH, split_lines

TASKS = '{"task_index": 0, "task": "a"}\n'
EPISODES = "".join(f'{{"episode_index": {i}, "tasks": ["a"], "length": 3}}\n' for i in range(3))


def _meta(root: Path, tasks: str = TASKS) -> Path:
    (root / "meta").mkdir(parents=True)
    (root / TASKS_PATH).write_text(tasks)
    (root / EPISODES_PATH).write_text(EPISODES)
    return root


def _journal(root: Path) -> dict:
    journal = build_meta_journal(
        root,
        appends={TASKS_PATH: '{"task_index": 1, "task": "b"}\n'},
        lines={EPISODES_PATH: {1: '{"episode_index": 1, "tasks": ["a"], "length": 3, "x": 1}\n'}},
        info=None,
    )
    (root / JOURNAL).parent.mkdir(exist_ok=True)
    (root / JOURNAL).write_text(json.dumps(journal))
    return journal


def _files(root: Path) -> dict[str, str]:
    return {rel: (root / rel).read_text() for rel in (TASKS_PATH, EPISODES_PATH)}


def test_applying_twice_is_applying_once(tmp_path: Path) -> None:
    root = _meta(tmp_path / "ds")
    journal = _journal(root)
    apply_journal(root, journal, durable=False)
    once = _files(root)
    assert once[TASKS_PATH] == TASKS + '{"task_index": 1, "task": "b"}\n'
    assert split_lines(once[EPISODES_PATH])[1].endswith(', "x": 1}\n')
    assert split_lines(once[EPISODES_PATH])[::2] == split_lines(EPISODES)[::2]
    assert not (root / JOURNAL).exists()
    apply_journal(root, journal, durable=False)
    assert _files(root) == once


@pytest.mark.parametrize("cut", [0, 10, 31])
def test_an_append_cut_short_is_finished(tmp_path: Path, cut: int) -> None:
    """A crash inside the append leaves any prefix of it; applying again gives the whole append once."""
    clean = _meta(tmp_path / "clean")
    apply_journal(clean, _journal(clean), durable=False)
    root = _meta(tmp_path / "ds")
    journal = _journal(root)
    with open(root / TASKS_PATH, "a") as f:
        f.write(journal["appends"][TASKS_PATH]["text"][:cut])
    apply_journal(root, journal, durable=False)
    assert _files(root) == _files(clean)


def test_an_append_after_a_last_line_without_newline_starts_a_new_line(tmp_path: Path) -> None:
    root = _meta(tmp_path / "ds", tasks=TASKS.rstrip("\n"))
    apply_journal(root, _journal(root), durable=False)
    assert [json.loads(x)["task"] for x in split_lines((root / TASKS_PATH).read_text())] == ["a", "b"]


def test_a_move_whose_source_and_target_are_both_gone_is_refused(tmp_path: Path) -> None:
    root = _meta(tmp_path / "ds")
    (root / "moved.parquet").write_text("x")
    journal = {"moves": [["gone.parquet", "data/x.parquet"]], "appends": {}, "info": None}
    with pytest.raises(DatasetError, match=r"gone\.parquet, which is gone and was never moved"):
        apply_journal(root, journal, durable=False)
    done = {"moves": [["staged.parquet", "moved.parquet"]], "appends": {}, "info": None}
    apply_journal(root, done, durable=False)  # moved before the crash: nothing to do
    assert (root / "moved.parquet").read_text() == "x"


def test_a_line_past_the_end_is_refused(tmp_path: Path) -> None:
    root = _meta(tmp_path / "ds")
    journal = build_meta_journal(root, appends={}, lines={EPISODES_PATH: {3: "{}\n"}}, info=None)
    with pytest.raises(DatasetError, match="replaces line 4, the file has 3"):
        apply_journal(root, journal, durable=False)


def test_lines_split_on_newline_only() -> None:
    assert split_lines('{"t": "a\u2028b"}\n{}\n') == ['{"t": "a\u2028b"}\n', "{}\n"]
    assert split_lines("a\nb") == ["a\n", "b"]
    assert split_lines("") == []


def test_recovery_says_what_it_finishes(tmp_path: Path) -> None:
    root = _meta(tmp_path / "ds")
    assert describe(_journal(root)) == "meta update of 1 lines"
    assert describe({"episode_indices": [4, 5]}) == "commit of episodes [4, 5]"
