"""Every open of a source's file contained at the moment of the open (issue 67 item 2): under `fenced(root)` a file,
a store, a bag file or a folder on the way swapped for a symlink out of the root after discovery, and a hard link,
are refused naming the file, whether a library opens it from `readable` (pyarrow, HDF5, PyAV, Zarr) or Python opens
it itself (numpy's `.npz`, json, rosbags); links inside the root are still followed; nothing changes unfenced.
End to end: the arrays adapter's robomimic file and Zarr store swapped between discovery and read, and a ROS 2 bag
folder whose `.mcap` is a symlink out (the report's c04, c08, c10; c01's hard link on a parquet)."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.arrays.adapter import ArraysAdapter, ZarrAdapter
from adapters.base import AdapterError
from adapters.hostile.h5 import open_h5
from adapters.registry import get_adapter
from adapters.storage.beneath import Fence
from adapters.storage.location import locate
from adapters.synthetic.arrays import write_robomimic
from schemas.containment import HardLinked, OutsideRoot
from tests.fixtures.fence import fenced
from tests.fixtures.writers.arrays import with_control_freq

SECRET = b"SECRET-KEY=hunter2 " * 8


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    """(root, outside): a root with a parquet, an npz, a meta json under `meta/`, an HDF5 and a video-named file;
    the outside folder holding the same names with the secret in them."""
    root, out = tmp_path / "root", tmp_path / "outside"
    for top in (root, out):
        (top / "meta").mkdir(parents=True)
        (top / "data").mkdir()
        pq.write_table(pa.table({"x": [1, 2]}), top / "data/ep.parquet")
        np.savez(top / "data/ep.npz", x=np.arange(3))
        (top / "meta/info.json").write_text(json.dumps({"fps": 10}))
        with_control_freq(write_robomimic(top / "data/d.hdf5", [3]), 10)
        (top / "data/cam.mp4").write_bytes(SECRET)
    return root, out


def _swap(path: Path, target: Path) -> None:
    """`path` replaced by a symlink to `target`, as a rename over it after discovery would."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    path.symlink_to(target, target_is_directory=target.is_dir())


def _read(path: Path) -> object:
    """What an adapter does with each kind of file: a library through `readable`, or Python's own open."""
    if path.suffix == ".parquet":
        with locate(path).readable() as src:
            return pq.read_table(src).num_rows
    if path.suffix == ".hdf5":
        with open_h5(locate(path)) as f:
            return list(f)
    if path.suffix == ".npz":
        return dict(np.load(path))
    if path.suffix == ".mp4":
        with locate(path).readable() as src, open(src, "rb") as f:
            return f.read()
    return json.loads(path.read_text())


CASES = ["data/ep.parquet", "data/ep.npz", "meta/info.json", "data/d.hdf5", "data/cam.mp4"]


@pytest.mark.parametrize("rel", CASES)
def test_a_file_swapped_for_a_link_out_is_refused_at_the_open_naming_it(tmp_path: Path, rel: str) -> None:
    root, out = _tree(tmp_path)
    with fenced(root):
        _read(root / rel)  # the file as discovery saw it reads
    _swap(root / rel, out / rel)
    _read(root / rel)  # unfenced, the link is followed: the defect a fence closes
    with fenced(root), pytest.raises(OutsideRoot, match=rf"{root / rel}.*outside the source root"):
        _read(root / rel)


@pytest.mark.parametrize("rel", CASES)
def test_a_folder_on_the_way_swapped_for_a_link_out_is_refused(tmp_path: Path, rel: str) -> None:
    root, out = _tree(tmp_path)
    top = rel.split("/")[0]
    _swap(root / top, out / top)
    with fenced(root), pytest.raises(OutsideRoot, match=rf"{root / rel}.*outside the source root"):
        _read(root / rel)


@pytest.mark.parametrize("rel", CASES)
def test_a_hard_link_is_refused_naming_it(tmp_path: Path, rel: str) -> None:
    root, out = _tree(tmp_path)
    (root / rel).unlink()
    os.link(out / rel, root / rel)
    with fenced(root), pytest.raises(HardLinked, match=rf"{root / rel} is a hard link \(2 names"):
        _read(root / rel)


def test_links_inside_the_root_are_followed_and_the_library_gets_the_checked_file(tmp_path: Path) -> None:
    root, out = _tree(tmp_path)
    (root / "alias").symlink_to(root / "data", target_is_directory=True)
    with fenced(root):
        assert _read(root / "alias/ep.parquet") == 2
        with Fence.held(root / "data/ep.parquet") as src:
            assert src.startswith("/proc/self/fd/")
            _swap(root / "data/ep.parquet", out / "data/ep.parquet")  # renamed over after the open
            assert pq.read_table(src).num_rows == 2 and os.path.realpath(src) != str(out / "data/ep.parquet")
        with Fence.held(out / "data/ep.parquet") as src:  # not of the root's tree: as given (a corpus, a cache)
            assert src == str(out / "data/ep.parquet")


def test_robomimic_file_swapped_between_discovery_and_read_is_refused(tmp_path: Path) -> None:
    root, out = tmp_path / "src", tmp_path / "outside"
    root.mkdir(), out.mkdir()
    with_control_freq(write_robomimic(root / "d.hdf5", [4, 5]), 10)
    with_control_freq(write_robomimic(out / "secret.hdf5", [4, 5]), 10)
    adapter = ArraysAdapter({})
    refs = list(adapter.discover(root))
    assert len(refs) == 2 and all(r.error is None for r in refs)
    _swap(root / "d.hdf5", out / "secret.hdf5")
    with fenced(root), pytest.raises(AdapterError, match=r"d\.hdf5.*outside the source root"):
        adapter.read(refs[0])


def test_zarr_store_folder_swapped_between_discovery_and_read_is_refused(tmp_path: Path) -> None:
    from tests.fixtures.writers.arrays import write_umi

    root, out = tmp_path / "src", tmp_path / "outside"
    for folder in (root / "d/replay.zarr", out / "secret.zarr"):  # a store folder, as Diffusion Policy keeps one
        with zipfile.ZipFile(write_umi(tmp_path / "umi.zarr.zip", [5, 9])) as z:
            z.extractall(folder)
    adapter = ZarrAdapter({"fps": 10})
    refs = list(adapter.discover(root))
    assert refs and all(r.error is None for r in refs)
    _swap(root / "d/replay.zarr", out / "secret.zarr")
    with fenced(root), pytest.raises(AdapterError, match=r"replay\.zarr.*outside the source root"):
        adapter.read(refs[0])


def test_bag_folder_whose_mcap_is_a_link_out_is_refused_at_read(tmp_path: Path) -> None:
    from tests.adapters.rosbag.conftest import write_bag
    from tests.adapters.rosbag.test_adapter import OPTIONS

    root, out = tmp_path / "bags", tmp_path / "outside"
    for i in range(2):
        write_bag(root / f"episode_{i}")
    write_bag(out / "episode_1")
    (mcap,) = (root / "episode_1").glob("*.mcap")
    _swap(mcap, out / "episode_1" / mcap.name)
    adapter = get_adapter("rosbag", OPTIONS)
    refs = list(adapter.discover(root))
    (bad,) = [r for r in refs if r.raw_id.startswith("episode_1")]
    (good,) = [r for r in refs if r.raw_id.startswith("episode_0")]
    with fenced(root):
        adapter.read(good)  # a bag folder of its own files reads
        with pytest.raises(AdapterError, match=rf"{mcap.name}.*outside the source root"):
            adapter.read(bad)


@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_a_special_file_python_opens_is_refused_naming_it(tmp_path: Path, kind: str) -> None:
    """A FIFO named like a meta file (`tasks.jsonl`, read by Python's open, not a library's door) blocked the read for
    good, the worker's deadline its only way out; now refused at the open, as the door refuses it."""
    import signal
    import socket

    root, _ = _tree(tmp_path)
    meta = root / "meta/tasks.jsonl"
    if kind == "fifo":
        os.mkfifo(meta)
    else:
        socket.socket(socket.AF_UNIX).bind(str(meta))

    def hung(*_: object) -> None:
        raise TimeoutError(f"open of the {kind} still blocked after 20 s")

    before = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        with fenced(root), pytest.raises(OSError, match=rf"{meta} is not a regular file \(mode [ps]"):
            meta.read_text()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)
