"""Finding and opening bags (`adapters.rosbag.bags`): a ROS 2 folder (metadata.yaml) is one bag and is not searched
further, a bare .mcap / .db3 / .bag elsewhere is one, hidden folders and other files are not, no deeper than
max_depth, the same on an object store; and the real WidowX 200 excerpt opens alike from its three containers and from
an object store; a bare sqlite3 file without type definitions reads with ROS 2 Humble's types."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.rosbag2 import StoragePlugin, Writer
from upath import UPath

from adapters.base import AdapterError
from adapters.registry import get_adapter
from adapters.rosbag.bags import find_bags, open_bag
from adapters.storage.location import locate
from adapters.storage.special import NotRegularFile
from tests.adapters.rosbag.conftest import T0, TS, _header, write_bag
from tests.adapters.rosbag.test_adapter import OPTIONS
from tests.adapters.rosbag.test_real import INTERBOTIX, WX200
from tests.realdata import realdata

# path under the root -> kind found (None: present and not a bag)
TREE = {
    "top.db3": "db3",
    "notes.txt": None,
    "lab/run1/metadata.yaml": "ros2 folder",
    "lab/run1/run1_0.mcap": None,  # the folder's own file, not a bag of its own
    "lab/run1/extra/stray.mcap": None,  # inside a bag folder: not searched
    "lab/loose.MCAP": "mcap",
    "lab/run.bag.txt": None,
    "old/arm.bag": "ros1",
    "old/deep/d2/store.db3": "db3",  # three folders below the root
    ".cache/x.mcap": None,
}
FOUND = [
    ("lab/loose.MCAP", "mcap"),
    ("lab/run1", "ros2 folder"),
    ("old/arm.bag", "ros1"),
    ("old/deep/d2/store.db3", "db3"),
    ("top.db3", "db3"),
]


def _plant(root: Path | UPath) -> None:
    for rel in TREE:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")


def _found(root: Path | UPath, max_depth: int) -> list[tuple[str, str]]:
    bags = list(find_bags(locate(root), max_depth))
    for b in bags:
        assert b.path == root / b.rel
    return [(b.rel, b.kind) for b in bags]


def test_bags_are_found_by_layout_in_path_order_no_deeper_than_max_depth(tmp_path: Path) -> None:
    _plant(tmp_path)
    assert _found(tmp_path, 3) == FOUND
    assert _found(tmp_path, 2) == [f for f in FOUND if f[0] != "old/deep/d2/store.db3"]
    assert _found(tmp_path, 1) == [("lab/loose.MCAP", "mcap"), ("old/arm.bag", "ros1"), ("top.db3", "db3")]
    assert _found(tmp_path, 0) == [("top.db3", "db3")]


def test_the_root_may_itself_be_a_bag(tmp_path: Path) -> None:
    _plant(tmp_path)
    (bag,) = find_bags(locate(tmp_path / "lab/run1"), 6)
    assert (bag.rel, bag.kind, bag.path) == ("run1", "ros2 folder", tmp_path / "lab/run1")
    (bag,) = find_bags(locate(tmp_path / "old/arm.bag"), 6)
    assert (bag.rel, bag.kind) == ("arm.bag", "ros1")
    assert list(find_bags(locate(tmp_path / "notes.txt"), 6)) == []
    assert list(find_bags(locate(tmp_path / "missing"), 6)) == []


def test_an_object_store_root_is_searched_alike() -> None:
    root = UPath("memory://rosbag-bags-test/root")
    _plant(root)
    assert _found(root, 3) == FOUND


def _messages(reader: AnyReader) -> list[tuple[str, int, object]]:
    return [(c.topic, t, reader.deserialize(raw, c.msgtype)) for c, t, raw in reader.messages()]


@pytest.fixture(scope="module")
def ros1_messages() -> list[tuple[str, int, object]]:
    with open_bag(locate(realdata(INTERBOTIX) / WX200[0])) as r:
        return _messages(r)


def _same(a: list[tuple[str, int, object]], b: list[tuple[str, int, object]]) -> None:
    assert [(t, log) for t, log, _ in a] == [(t, log) for t, log, _ in b]
    joint = next(i for i, m in enumerate(a) if m[0] == "/wx200/joint_states")
    assert list(a[joint][2].position) == list(b[joint][2].position) and a[-1][2].__msgtype__ == b[-1][2].__msgtype__


def test_the_three_containers_of_one_recording_open_to_the_same_messages(ros1_messages) -> None:
    assert len(ros1_messages) == 1303
    for other in WX200[1:]:
        with open_bag(locate(realdata(INTERBOTIX) / other)) as r:
            _same(_messages(r), ros1_messages)


def test_a_bag_on_an_object_store_reads_as_the_local_one(ros1_messages) -> None:
    root = UPath("memory://rosbag-bags-test/objects") / WX200[1]
    root.mkdir(parents=True, exist_ok=True)
    for f in (realdata(INTERBOTIX) / WX200[1]).iterdir():
        (root / f.name).write_bytes(f.read_bytes())
    (bag,) = find_bags(locate(root), 6)
    with open_bag(locate(bag.path)) as r:
        _same(_messages(r), ros1_messages)


def test_a_sqlite3_bag_without_type_definitions_reads_with_humble_types(tmp_path: Path) -> None:
    # rosbag2 before Iron stored no message definitions in sqlite3 bags: such a bag, a bare .db3 file. (The real
    # db3 excerpt cannot be stripped for this: its CDR was written with ROS 1's definitions, header.seq included.)
    written = tmp_path / "written"
    joint_state = TS.types["sensor_msgs/msg/JointState"]
    positions = [[0.1 * k, -0.2 * k] for k in range(5)]
    with Writer(written, version=8, storage_plugin=StoragePlugin.SQLITE3) as w:
        conn = w.add_connection("/arm/joint_states", "sensor_msgs/msg/JointState", typestore=TS)
        for k, pos in enumerate(positions):
            msg = joint_state(
                header=_header(T0 + k),
                name=["a", "b"],
                position=np.array(pos),
                velocity=np.array([]),
                effort=np.array([]),
            )
            w.write(conn, T0 + k * 10, TS.serialize_cdr(msg, "sensor_msgs/msg/JointState"))
    bare = tmp_path / "bags" / "old.db3"
    bare.parent.mkdir()
    shutil.copy(next(written.glob("*.db3")), bare)
    with sqlite3.connect(bare) as db:
        db.execute("DELETE FROM message_definitions")
    with pytest.raises(AnyReaderError, match="no type definitions"), AnyReader([bare]):
        pass  # rosbags alone cannot read it
    (found,) = find_bags(locate(bare.parent), 0)
    assert found.kind == "db3"
    with open_bag(locate(found.path)) as r:
        read = [(t, r.deserialize(raw, c.msgtype)) for c, t, raw in r.messages()]
    assert [t for t, _ in read] == [T0 + k * 10 for k in range(5)]
    assert [m.position.tolist() for _, m in read] == positions and read[0][1].name == ["a", "b"]


@pytest.mark.timeout(60)  # the old code waited on the FIFO for ever
def test_a_fifo_among_good_bags_is_refused_at_its_open_naming_it_and_the_others_read(tmp_path: Path) -> None:
    """Review 7 i06: `mkfifo episode_1.mcap` among good bags hung the job (rosbags' open waits for a writer). A bare
    FIFO bag and a ROS 2 folder whose .mcap is a FIFO are refused before rosbags opens them, each naming its file; the
    good bags beside them are read."""
    root = tmp_path / "bags"
    for name in ("episode_0", "episode_2", "episode_3"):
        write_bag(root / name, seconds=0.5)
    os.mkfifo(root / "episode_1.mcap")
    (inner,) = (root / "episode_3").glob("*.mcap")
    inner.unlink()
    os.mkfifo(inner)
    adapter = get_adapter("rosbag", OPTIONS)
    refs = list(adapter.discover(root))
    assert [r.raw_id for r in refs] == ["episode_0", "episode_1.mcap", "episode_2", "episode_3"]
    read, refused = {}, {}
    for r in refs:
        try:
            read[r.raw_id] = adapter.read(r)
        except AdapterError as e:
            refused[r.raw_id] = e
    assert set(read) == {"episode_0", "episode_2"}
    assert refused["episode_1.mcap"].file == str(root / "episode_1.mcap")
    assert f"{root / 'episode_1.mcap'}: not a regular file (a FIFO): not opened" in refused["episode_1.mcap"].reason
    assert f"{inner}: not a regular file (a FIFO)" in refused["episode_3"].reason
    with pytest.raises(NotRegularFile), open_bag(locate(root / "episode_1.mcap")):
        pass
