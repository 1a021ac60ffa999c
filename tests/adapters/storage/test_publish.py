"""The publisher on a local output (`objects` gives a local path the same promises: O_EXCL for the conditional create):
the dataset it publishes is the local writer's, byte for byte; the meta is a pure function of the records; keys no
record names are garbage; a scratch folder behind the output is refused instead of overwriting committed objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.storage.commit_log import CommitConflictError
from adapters.storage.publish import DatasetPublisher, PublishError, derived_meta
from adapters.storage.root import Root
from ingest.lerobot.writer import LeRobotWriter
from tests.fixtures.episodes import canonical_frames, canonical_test_features

LENGTHS, TASKS = [8, 11, 6], ["pick", "place", "pick"]


def published_dataset(tmp_path: Path) -> DatasetPublisher:
    """A dataset of `LENGTHS` episodes written through a publisher and finished: what the derived-file and
    meta-change tests start from."""
    pub = publisher(tmp_path)
    pub.recover()
    write(pub.scratch, pub, range(len(LENGTHS)))
    pub.finish()
    return pub


def write(root: Path, publisher: DatasetPublisher | None, episodes: range) -> None:
    with LeRobotWriter.create_or_open(root, fps=10, features=canonical_test_features(), robot_type="franka") as w:
        w.on_commit = publisher.on_commit if publisher is not None else None
        for ep in episodes:
            with w.episode(task=TASKS[ep]) as b:
                for frame in canonical_frames(LENGTHS[ep], seed=ep):
                    b.add_frame(frame)


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def visible(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in files(root).items() if not k.startswith(".eidata/")}


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("local") / "ds"
    write(root, None, range(len(LENGTHS)))
    return visible(root)


def publisher(tmp_path: Path, scratch: str = "scratch") -> DatasetPublisher:
    out = Root(tmp_path / "out").path
    return DatasetPublisher(Root(f"{out}/datasets/a/b"), tmp_path / scratch)


def test_published_dataset_is_the_local_writers(tmp_path: Path, local: dict[str, bytes]) -> None:
    pub = publisher(tmp_path)
    assert pub.recover() == [] and pub.hydrate() is False
    write(pub.scratch, pub, range(len(LENGTHS)))
    assert sorted(pub.publish_meta()) == [
        "meta/episodes.jsonl",
        "meta/episodes_stats.jsonl",
        "meta/info.json",
        "meta/tasks.jsonl",
    ]
    out = tmp_path / "out/datasets/a/b"
    assert visible(out) == local
    assert sorted(files(out / ".eidata/commits")) == [f"{i:012d}.json" for i in (1, 2, 3)]
    assert not [k for k in files(pub.scratch) if k.endswith((".parquet", ".mp4"))]  # published, then dropped
    assert pub.publish_meta() == []  # unchanged meta is not rewritten


def test_rerun_on_a_fresh_scratch_continues_where_the_records_end(tmp_path: Path, local: dict[str, bytes]) -> None:
    first = publisher(tmp_path)
    write(first.scratch, first, range(2))  # two episodes committed, no meta published: a killed job
    second = publisher(tmp_path, "elsewhere")
    second.recover()
    assert second.hydrate() is True
    assert {k for k in files(second.scratch) if not k.startswith(".eidata/")} == {
        "meta/info.json",
        "meta/episodes.jsonl",
        "meta/episodes_stats.jsonl",
        "meta/tasks.jsonl",
    }
    with LeRobotWriter.open(second.scratch) as w:
        assert (w.num_episodes, w.tasks) == (2, {"pick": 0, "place": 1})
    write(second.scratch, second, range(2, 3))
    second.publish_meta()
    assert visible(tmp_path / "out/datasets/a/b") == local


def test_uncommitted_final_keys_are_garbage(tmp_path: Path) -> None:
    pub = publisher(tmp_path)
    write(pub.scratch, pub, range(1))
    stray = tmp_path / "out/datasets/a/b/data/chunk-000/episode_000001.parquet"  # put, its record never written
    stray.write_bytes(b"half a job")
    assert pub.recover() == [str(stray)]
    assert not stray.exists() and (stray.parent / "episode_000000.parquet").exists()


def test_derived_meta_is_the_records_text(tmp_path: Path) -> None:
    pub = publisher(tmp_path)
    write(pub.scratch, pub, range(2))
    meta = derived_meta(pub.log.records())
    assert meta["meta/info.json"] == (pub.scratch / "meta/info.json").read_bytes()
    assert meta["meta/episodes.jsonl"] == (pub.scratch / "meta/episodes.jsonl").read_bytes()
    assert derived_meta([]) == {}


def test_a_scratch_behind_the_output_is_refused(tmp_path: Path) -> None:
    first = publisher(tmp_path)
    write(first.scratch, first, range(1))
    behind = publisher(tmp_path, "stale")  # never hydrated: it would commit episode 0 again
    with pytest.raises(CommitConflictError, match="already committed"):
        write(behind.scratch, behind, range(1))
    with pytest.raises(PublishError, match="an earlier commit failed"):
        behind.on_commit({"moves": [], "appends": {}, "info": {}, "episodes": [{"episode_index": 1}]})


def test_compacted_records_read_as_the_records(tmp_path: Path, local: dict[str, bytes]) -> None:
    """A job's end compacts the records into one object; the next job reads it and the records after it, and gets
    the records one by one would give (and the local dataset in the end)."""
    first = publisher(tmp_path)
    write(first.scratch, first, range(2))
    first.finish()
    folder = tmp_path / "out/datasets/a/b/.eidata/compacted"
    assert sorted(p.name for p in folder.iterdir()) == ["000000000002.jsonl"]
    one_by_one = [p.read_bytes() for p in sorted((folder.parent / "commits").iterdir())]
    assert (folder / "000000000002.jsonl").read_bytes() == b"".join(one_by_one)
    second = publisher(tmp_path, "elsewhere")
    second.recover()
    second.hydrate()
    assert [r.to_bytes() for r in second.log.records()] == one_by_one
    write(second.scratch, second, range(2, 3))
    second.finish()
    assert sorted(p.name for p in folder.iterdir()) == ["000000000003.jsonl"]  # the older compaction is gone
    assert len(publisher(tmp_path, "third").log.records()) == 3
    assert visible(tmp_path / "out/datasets/a/b") == local
