"""A writer process for `test_crash.py` to kill: `python tests/ingest/lerobot/_crash_writer.py <mode> ROOT`.

Modes (each prints a line naming the point it reached, then either waits to be killed or kills itself):
  mid-episode   create ROOT, commit 2 episodes, stage a third with some frames, print MID-EPISODE, wait
  mid-commit    open ROOT, commit one episode whose journal is written but never applied (SIGKILL inside `_apply`)
  mid-info      open ROOT, commit one episode and die inside the atomic write of its info.json (temp file written,
                not yet renamed), after printing INFO-TEMP-WRITTEN
  hold          open ROOT and keep the writer (and its lock) until killed, after printing HOLDING
  meta-POINT    open ROOT and commit `META_TASKS` / `META_EDITS` as one meta update, killed at POINT (`KILL_POINTS`)
                after printing KILLED-AT POINT
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ingest.lerobot.writer import LeRobotWriter
from ingest.lerobot.writer_dir import JOURNAL
from tests.fixtures.episodes import canonical_frames, canonical_test_features

FPS = 10
COMPLETE_LENGTH = 20
PARTIAL_FRAMES = 7
COMMIT_LENGTH = 24
COMMIT_SEED = 40


def _signal(line: str) -> None:
    print(line, flush=True)


def _wait_for_kill() -> None:
    time.sleep(120)
    sys.exit("not killed within 120 s")


def _write_episode(w: LeRobotWriter, n: int, seed: int, task: str) -> None:
    with w.episode(task=task) as b:
        for frame in canonical_frames(n, seed=seed):
            b.add_frame(frame)


def mid_episode(root: Path) -> None:
    with LeRobotWriter.create(root, fps=FPS, features=canonical_test_features(), robot_type="franka") as w:
        for ep in range(2):
            _write_episode(w, COMPLETE_LENGTH, seed=ep, task=f"task {ep}")
        b = w.stage(task="the killed episode")
        for frame in canonical_frames(PARTIAL_FRAMES, seed=99):
            b.add_frame(frame)
        _signal("MID-EPISODE")
        _wait_for_kill()


def mid_commit(root: Path) -> None:
    def die(self: LeRobotWriter, journal: dict) -> None:
        _signal(f"JOURNAL-WRITTEN {journal['episode_indices'][0]}")
        os.kill(os.getpid(), signal.SIGKILL)

    LeRobotWriter._apply = die  # only the commit in this process; recovery in the parent uses the real one
    with LeRobotWriter.open(root) as w:
        _write_episode(w, COMMIT_LENGTH, seed=COMMIT_SEED, task="committed while crashing")
    sys.exit("_apply returned; the process should have been killed")


def mid_info(root: Path) -> None:
    replace = os.replace

    def die_before_info(src: Path, dst: Path) -> None:
        if Path(dst).name == "info.json":  # `_apply`'s last step: journal, moves and appends are done
            _signal(f"INFO-TEMP-WRITTEN {Path(src).name}")
            os.kill(os.getpid(), signal.SIGKILL)
        replace(src, dst)

    with LeRobotWriter.open(root) as w:
        os.replace = die_before_info
        _write_episode(w, COMMIT_LENGTH, seed=COMMIT_SEED, task="committed while crashing")
    sys.exit("info.json was written; the process should have been killed")


def hold(root: Path) -> None:
    with LeRobotWriter.open(root):
        _signal("HOLDING")
        _wait_for_kill()


# -- a meta update killed at each of its steps ---------------------------------------------------------------------
# point -> the atomic rename it dies in (the temp file written, not yet renamed), or None: inside `_apply`, with the
# journal written and nothing of it applied. Appends (tasks.jsonl) come before the episodes.jsonl rewrite, which
# comes before info.json: "episodes" dies with the tasks appended, "info" with everything but info.json done.
KILL_POINTS = {
    "journal": Path(JOURNAL).name,
    "applied-nothing": None,
    "episodes": "episodes.jsonl",
    "info": "info.json",
}
META_TASKS = {0: "wipe the table", 1: "task 0"}  # episode -> task text named in its line; "task 0" exists already


def meta_edit(task: str, index: int) -> Callable[[dict], dict]:
    return lambda line: {**line, "note": {"task": task, "task_index": index}}


def update_meta(w: LeRobotWriter) -> int:
    """The meta update every meta test makes: a new task, an existing one, two episode lines edited."""
    update = w.meta_update()
    for ep, text in META_TASKS.items():
        update.edit_episode(ep, meta_edit(text, update.add_task(text)))
    return w.commit_meta(update)


def kill_at(point: str) -> None:
    """Arm this process to SIGKILL itself at `point` of the next journaled write."""
    target = KILL_POINTS[point]

    def die() -> None:
        _signal(f"KILLED-AT {point}")
        os.kill(os.getpid(), signal.SIGKILL)

    if target is None:
        LeRobotWriter._apply = lambda self, journal: die()
        return
    replace = os.replace

    def die_before(src: Path, dst: Path) -> None:
        if Path(dst).name == target:
            die()
        replace(src, dst)

    os.replace = die_before


def meta(root: Path, point: str) -> None:
    with LeRobotWriter.open(root) as w:
        kill_at(point)
        update_meta(w)
    sys.exit(f"the meta update finished; the process should have been killed at {point}")


MODES = {"mid-episode": mid_episode, "mid-commit": mid_commit, "mid-info": mid_info, "hold": hold}

if __name__ == "__main__":
    if sys.argv[1].startswith("meta-"):
        meta(Path(sys.argv[2]), sys.argv[1].removeprefix("meta-"))
    else:
        MODES[sys.argv[1]](Path(sys.argv[2]))
