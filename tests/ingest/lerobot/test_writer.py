"""Writer behaviour on our side of the format: totals, chunking, tasks, reopening, episode extras and segments.

A meta update (tasks added, episode lines rewritten) as a journaled writer operation: what it writes, what it
leaves byte for byte, what it refuses, and a writer SIGKILLed at each step of it, reopened and rerun.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.lerobot_format.files import load_entries, load_info
from adapters.storage.atomic import is_temp_path
from ingest.lerobot.errors import DatasetError, EpisodeError, WriterLockedError
from ingest.lerobot.video import VideoCodec
from ingest.lerobot.video_read import decode_frames
from ingest.lerobot.writer import LeRobotWriter
from ingest.lerobot.writer_dir import JOURNAL
from schemas.canonical import STATE
from schemas.lerobot import EpisodeEntry
from tests.fixtures.episodes import canonical_frames, canonical_test_features, write_canonical_dataset
from tests.fixtures.readback import count_frames
from tests.ingest.lerobot import _crash_writer as child
from tests.ingest.lerobot.crash_child import reap, start, wait_for


def _write(w: LeRobotWriter, n: int, task: str, seed: int = 0, **kw) -> EpisodeEntry:
    ctx = w.episode(task=task, **kw)
    with ctx as ep:
        for f in canonical_frames(n, seed=seed):
            ep.add_frame(f)
    assert ctx.entry is not None
    return ctx.entry


def test_totals_tasks_and_index_columns(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_canonical_dataset(root, [4, 6, 3], tasks=["pick", "place", "pick"])
    info = load_info(root / "meta/info.json")
    assert (info.total_episodes, info.total_frames, info.total_tasks, info.total_videos) == (3, 13, 2, 6)
    assert info.splits == {"train": "0:3"} and info.total_chunks == 1
    tasks = [json.loads(line) for line in (root / "meta/tasks.jsonl").read_text().splitlines()]
    assert tasks == [{"task_index": 0, "task": "pick"}, {"task_index": 1, "task": "place"}]
    index = np.concatenate([pq.read_table(root / info.data_file(e)).column("index").to_numpy() for e in range(3)])
    assert index.tolist() == list(range(13))
    t = pq.read_table(root / info.data_file(2))
    assert t.column("task_index").to_pylist() == [0, 0, 0]
    assert t.column("episode_index").to_pylist() == [2, 2, 2]
    assert np.allclose(t.column("timestamp").to_numpy(), np.arange(3) / 10)
    for key in info.video_keys:
        assert count_frames(root / info.video_file(2, key)) == 3
        vi = info.features[key].video_info
        assert vi is not None and vi.codec == "av1" and vi.pix_fmt == "yuv420p" and vi.fps == 10


def test_several_tasks_in_one_episode(tmp_path: Path) -> None:
    with LeRobotWriter.create(tmp_path / "ds", fps=10, features=canonical_test_features()) as w:
        with w.episode(task="reach") as ep:
            for i, f in enumerate(canonical_frames(6)):
                ep.add_frame(f, task="grasp" if i >= 3 else None)
    entry = load_entries(tmp_path / "ds/meta/episodes.jsonl", EpisodeEntry)[0]
    assert entry.tasks == ["reach", "grasp"]  # order of first appearance, deterministic
    col = pq.read_table(tmp_path / "ds/data/chunk-000/episode_000000.parquet").column("task_index")
    assert col.to_pylist() == [0, 0, 0, 1, 1, 1]


def test_chunking(tmp_path: Path) -> None:
    feats = {k: v for k, v in canonical_test_features().items() if v.dtype != "video"}
    with LeRobotWriter.create(tmp_path / "ds", fps=10, features=feats, chunks_size=2) as w:
        for e in range(5):
            _write_numeric(w, e)
        assert w.info.total_chunks == 3 and w.info.video_path is None
    assert (tmp_path / "ds/data/chunk-002/episode_000004.parquet").exists()


def _write_numeric(w: LeRobotWriter, seed: int) -> None:
    with w.episode(task="numeric only") as ep:
        for f in canonical_frames(3, seed=seed):
            ep.add_frame({k: v for k, v in f.items() if not k.startswith("observation.images")})


def test_reopen_continues_at_next_index(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_canonical_dataset(root, [3, 3])
    with LeRobotWriter.open(root) as w:
        entry = _write(w, 4, "task 0", seed=9)
    assert entry.episode_index == 2
    info = load_info(root / "meta/info.json")
    assert (info.total_episodes, info.total_frames, info.total_tasks) == (3, 10, 2)
    assert pq.read_table(root / info.data_file(2)).column("index").to_pylist() == [6, 7, 8, 9]


def test_second_writer_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    with LeRobotWriter.create(root, fps=10, features=canonical_test_features()):
        with pytest.raises(WriterLockedError) as err:
            LeRobotWriter.open(root)
        assert err.value.holder == str(os.getpid())  # the lock file names its holder
    LeRobotWriter.open(root).close()  # free again once the first one is closed


def test_create_refuses_existing_and_create_or_open_checks_features(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    LeRobotWriter.create(root, fps=10, features=canonical_test_features()).close()
    with pytest.raises(DatasetError, match="already exists"):
        LeRobotWriter.create(root, fps=10, features=canonical_test_features())
    LeRobotWriter.create_or_open(root, fps=10, features=canonical_test_features()).close()
    other = canonical_test_features({"head": (32, 32)})
    with pytest.raises(DatasetError, match="other features"):
        LeRobotWriter.create_or_open(root, fps=10, features=other)


def test_extras_and_action_config_in_episodes_jsonl(tmp_path: Path) -> None:
    with LeRobotWriter.create(tmp_path / "ds", fps=10, features=canonical_test_features()) as w:
        ep = w.stage("open the drawer")
        for f in canonical_frames(8):
            ep.add_frame(f)
        ep.extra = {"eidata": {"raw_path": "raw/ep.h5", "content_hash": "abc"}}
        ep.action_config = [
            {"start_frame": 0, "end_frame": 5, "action_text": "reach the handle"},
            {"start_frame": 5, "end_frame": 8, "action_text": "pull"},
        ]
        w.commit(ep.finish())
    line = json.loads((tmp_path / "ds/meta/episodes.jsonl").read_text())
    assert list(line) == ["episode_index", "tasks", "length", "action_config", "eidata"]
    assert line["action_config"][1] == {"start_frame": 5, "end_frame": 8, "action_text": "pull"}
    assert line["eidata"]["raw_path"] == "raw/ep.h5"


def test_h264_option(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    with LeRobotWriter.create(root, fps=10, features=canonical_test_features(), codec=VideoCodec.h264()) as w:
        _write(w, 5, "h264")
    info = load_info(root / "meta/info.json")
    assert info.features["observation.images.head"].video_info.codec == "h264"
    frames = list(decode_frames(root / info.video_file(0, "observation.images.head")))
    assert len(frames) == 5 and frames[0][1].shape == (96, 128, 3)


def test_expected_frames_hint_mismatch_still_gives_stats(tmp_path: Path) -> None:
    """A wrong length hint measures the missing sample frames from the encoded video instead."""
    roots = {}
    for name, hint in (("exact", None), ("wrong_hint", 40)):
        roots[name] = tmp_path / name
        with LeRobotWriter.create(roots[name], fps=10, features=canonical_test_features()) as w:
            _write(w, 12, "t", expected_frames=hint)
    stats = {k: json.loads((r / "meta/episodes_stats.jsonl").read_text())["stats"] for k, r in roots.items()}
    a, b = stats["exact"]["observation.images.head"], stats["wrong_hint"]["observation.images.head"]
    assert a["count"] == b["count"] == [12]
    assert np.allclose(a["mean"], b["mean"], atol=0.01) and np.allclose(a["std"], b["std"], atol=0.01)
    assert stats["exact"][STATE] == stats["wrong_hint"][STATE]


def test_long_episode_memory_is_bounded(tmp_path: Path) -> None:
    """Rows spill to disk: the builder never holds more than `spill_every` frames of numeric data."""
    with LeRobotWriter.create(tmp_path / "ds", fps=10, features=canonical_test_features({"head": (16, 16)})) as w:
        ep = w.stage("long")
        ep._spill_every = 64
        for f in canonical_frames(300, cameras={"head": (16, 16)}):
            ep.add_frame(f)
            assert len(ep._rows[STATE]) < 64
        w.commit(ep.finish())
    t = pq.read_table(tmp_path / "ds/data/chunk-000/episode_000000.parquet")
    assert t.num_rows == 300 and t.column("frame_index").to_pylist() == list(range(300))


def test_commit_group_is_all_or_nothing(tmp_path: Path) -> None:
    with LeRobotWriter.create(tmp_path / "ds", fps=10, features=canonical_test_features()) as w:
        staged = []
        for seed in range(3):
            b = w.stage(f"part {seed}", label=f"raw/ep#span{seed}")
            for f in canonical_frames(4, seed=seed):
                b.add_frame(f)
            staged.append(b.finish())
        broken = [staged[0], staged[1].model_copy(update={"length": 99}), staged[2]]
        with pytest.raises(EpisodeError, match="staged 4 rows but 99"):
            w.commit_group(broken)
        assert w.info.total_episodes == 0 and not any((w.root / "data").glob("**/*.parquet"))
        assert all(not s.stage_dir.exists() for s in staged)
        again = []
        for seed in range(3):
            b = w.stage(f"part {seed}")
            for f in canonical_frames(4, seed=seed):
                b.add_frame(f)
            again.append(b.finish())
        entries = w.commit_group(again)
    assert [e.episode_index for e in entries] == [0, 1, 2]
    info = load_info(tmp_path / "ds/meta/info.json")
    assert (info.total_episodes, info.total_frames, info.total_tasks) == (3, 12, 3)
    index = [pq.read_table(tmp_path / "ds" / info.data_file(e)).column("index").to_pylist() for e in range(3)]
    assert index == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]


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
