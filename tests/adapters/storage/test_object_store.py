"""A meta update made on a scratch dataset hydrated from the records (captions: a task added, episode lines
rewritten) published as one commit record, on a local output: the output's meta becomes the local writer's meta after
the same update, byte for byte; a scratch that dropped lines is refused; an unchanged scratch commits nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.storage.object_store import MetaChangeError, meta_change, publish_meta_change
from adapters.storage.publish import DatasetPublisher, derived_meta
from ingest.lerobot.writer import LeRobotWriter
from tests.adapters.storage.test_publish import LENGTHS, published_dataset, publisher, visible, write

EDITS = {0: "pick up the cube", 2: "put it back"}  # episode -> new task text (2 reuses no task: appended)


def caption(root: Path) -> None:
    """A meta update as the caption stage makes one: a task per text, a key added to each edited episode's line."""
    with LeRobotWriter.open(root) as w:
        update = w.meta_update()
        for ep, text in EDITS.items():
            index = update.add_task(text)
            update.edit_episode(ep, lambda line, i=index: {**line, "caption_task": i})
        assert w.commit_meta(update) == len(EDITS)


def meta(files: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if k.startswith("meta/")}


@pytest.fixture
def published(tmp_path: Path) -> DatasetPublisher:
    return published_dataset(tmp_path)


def test_a_meta_update_on_the_scratch_reaches_the_output_byte_for_byte(
    published: DatasetPublisher, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    write(local, None, range(len(LENGTHS)))
    caption(local)

    rerun = publisher(tmp_path, "scratch2")  # another job: a fresh scratch, meta from the records
    rerun.recover()
    assert rerun.hydrate()
    caption(rerun.scratch)
    before = len(rerun.log.records())
    record = publish_meta_change(rerun)
    assert record is not None and record.objects == {} and len(rerun.log.records()) == before + 1
    assert set(record.meta["lines"]) == {"meta/episodes.jsonl"} and set(record.meta["appends"]) == {"meta/tasks.jsonl"}
    assert sorted(int(n) for n in record.meta["lines"]["meta/episodes.jsonl"]) == sorted(EDITS)
    rerun.finish()
    assert visible(tmp_path / "out/datasets/a/b") == visible(local)  # meta and episode files alike

    again = publisher(tmp_path, "scratch3")
    again.recover()
    again.hydrate()
    assert meta(visible(again.scratch)) == meta(visible(local))  # the records replay to the same meta
    assert publish_meta_change(again) is None  # nothing edited: no record


def test_lines_dropped_or_files_removed_are_refused() -> None:
    old: dict[str, Any] = {"meta/info.json": b"{}", "meta/episodes.jsonl": b'{"a":1}\n{"a":2}\n'}
    with pytest.raises(MetaChangeError, match="2 lines in the bucket, 1 after"):
        meta_change(old, {**old, "meta/episodes.jsonl": b'{"a":1}\n'}, "ds")
    with pytest.raises(MetaChangeError, match="removed"):
        meta_change(old, {"meta/info.json": b"{}"}, "ds")
    change = meta_change(old, {**old, "meta/episodes.jsonl": b'{"a":1}\n{"a":3}\n{"a":4}\n'}, "ds")
    assert change is not None
    assert change["lines"] == {"meta/episodes.jsonl": {"1": '{"a":3}\n'}}
    assert change["appends"] == {"meta/episodes.jsonl": '{"a":4}\n'}


def test_derived_meta_replays_rewritten_lines_in_record_order(published: DatasetPublisher) -> None:
    records = published.log.records()
    old = derived_meta(records)
    lines = old["meta/episodes.jsonl"].decode().splitlines(keepends=True)
    new = {**old, "meta/episodes.jsonl": "".join([lines[0], "X\n", *lines[2:]]).encode()}
    change = meta_change(old, new)
    assert change is not None
    published.log.commit("meta change test", {}, change, in_place=True)
    assert derived_meta(published.log.records()) == new


def test_a_stage_killed_after_its_record_is_finished_by_the_next_recovery(
    published: DatasetPublisher, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    write(local, None, range(len(LENGTHS)))
    out = tmp_path / "out/datasets/a/b"
    before = visible(out)

    killed = publisher(tmp_path, "scratch2")
    killed.recover()
    killed.hydrate()
    caption(killed.scratch)
    assert visible(out) == before  # killed before its record: the bucket is as it was
    publish_meta_change(killed)  # the commit point; then killed before the meta rewrite
    assert visible(out) == before

    caption(local)
    rerun = publisher(tmp_path, "scratch3")
    rerun.recover()  # the next job's recovery rewrites the meta from the records
    assert visible(out) == visible(local)
    rerun.hydrate()
    caption(rerun.scratch)  # the rerun plans the same edits: they change nothing
    assert publish_meta_change(rerun) is None
