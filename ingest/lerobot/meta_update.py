"""A meta update: tasks added and episode lines rewritten, as one journaled writer operation (the writer owns a
dataset's meta; a stage that annotates episodes asks it for one: `LeRobotWriter.update_meta`). The whole update is
validated, journaled and applied; lines of episodes not edited keep their bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest.lerobot.errors import DatasetError
from ingest.lerobot.journal import build_meta_journal
from schemas.lerobot import EPISODES_PATH, TASKS_PATH, InfoJson, dump_jsonl_line, split_lines

EpisodeEdit = Callable[[dict[str, Any]], dict[str, Any]]


class MetaUpdate:
    """Collects one update of a dataset's meta; nothing is written until the writer commits it."""

    def __init__(self, root: Path, info: InfoJson, tasks: dict[str, int]) -> None:
        if len(tasks) != info.total_tasks:
            raise DatasetError(f"{root}: {TASKS_PATH} has {len(tasks)} tasks, info.json {info.total_tasks}")
        self.root, self.info = root, info
        self.base = (info.total_episodes, info.total_tasks)  # the dataset this update was planned on
        self.tasks = dict(tasks)
        self.new_tasks: list[dict[str, Any]] = []
        self.edits: dict[int, EpisodeEdit] = {}

    def add_task(self, text: str) -> int:
        """The task index of `text`: the existing one, or the next index (appended to tasks.jsonl on commit)."""
        if text not in self.tasks:
            self.tasks[text] = len(self.tasks)
            self.new_tasks.append({"task_index": self.tasks[text], "task": text})
        return self.tasks[text]

    def edit_episode(self, episode_index: int, edit: EpisodeEdit) -> None:
        """`edit(line) -> line` for the episode's `episodes.jsonl` object (the last edit named for it wins)."""
        self.edits[int(episode_index)] = edit

    def journal(self) -> tuple[dict[str, Any], InfoJson, int]:
        """(the journal, the info.json it leaves, how many episode lines it rewrites). Raises `DatasetError`, with
        nothing written, when an edited episode is not in the dataset."""
        path = self.root / EPISODES_PATH
        lines = split_lines(path.read_text(encoding="utf-8")) if path.exists() else []
        replaced: dict[int, str] = {}
        seen: set[int] = set()
        for n, raw in enumerate(lines):
            if not raw.strip():
                continue
            line = json.loads(raw)
            index = int(line["episode_index"])
            if index in self.edits:
                replaced[n] = dump_jsonl_line(self.edits[index](line))
                seen.add(index)
        if missing := sorted(set(self.edits) - seen):
            raise DatasetError(f"{path}: no episodes {missing[:5]} to update")
        info = self.info
        appends = {}
        if self.new_tasks:  # info.json changes only with the task count, as lerobot's own meta
            info = info.model_copy(deep=True)
            info.total_tasks = len(self.tasks)
            appends[TASKS_PATH] = "".join(dump_jsonl_line(t) for t in self.new_tasks)
        journal = build_meta_journal(
            self.root,
            appends=appends,
            lines={EPISODES_PATH: replaced} if replaced else {},
            info=info if self.new_tasks else None,
        )
        return journal, info, len(replaced)
