"""Data that is not there is refused naming the file, never read as values (issue 55 item 5): a Git LFS pointer in
any file a reader opens (a LeRobot `meta/info.json`, a jsonl meta file, an HDF5 recording, a sidecar JSON read whole,
a Zarr chunk) and Zarr chunks never written (zarr-python returns the fill value for them without a word). The doors:
`adapters.storage.location.readable`, `bounds.read_bounded`, `adapters.lerobot_format.files.read_json` /
`adapters.lerobot_format.files.read_jsonl`, `adapters.arrays.stores.Store.read`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import zarr

from adapters.arrays.adapter import ArraysAdapter
from adapters.hostile import bounds
from adapters.lerobot.adapter import LeRobotSource
from adapters.storage.location import locate
from adapters.synthetic.lerobot import write_lerobot_v3
from schemas.faults import environment_fault
from schemas.lfs import LfsPointer
from tests.fixtures.writers.arrays import write_isaaclab


def _pointer(path: Path) -> Path:
    """`path` replaced by the Git LFS pointer a clone without `git lfs` holds (git-lfs docs/spec.md)."""
    data = path.read_bytes()
    oid = hashlib.sha256(data).hexdigest()
    path.write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n")
    return path


def test_lerobot_info_json_pointer_is_named_not_invalid_json(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_lerobot_v3(root, (5, 6), cameras={})
    info = _pointer(root / "meta/info.json")
    refs = list(LeRobotSource().discover(root))
    assert len(refs) == 1 and refs[0].error is not None
    assert f"{info}: Git LFS pointer file for a " in refs[0].error and "git lfs pull" in refs[0].error
    assert "not valid JSON" not in refs[0].error


def test_hdf5_pointer_is_named_by_the_door_every_library_open_passes(tmp_path: Path) -> None:
    h5 = _pointer(write_isaaclab(tmp_path / "stack.hdf5", [6]))
    (ref,) = ArraysAdapter().discover(tmp_path)
    assert ref.error is not None and f"{h5}: Git LFS pointer file for a " in ref.error
    with pytest.raises(LfsPointer, match=r"stack\.hdf5") as err, locate(h5).readable():
        pass
    assert environment_fault(err.value) is None  # the data's fault: the episode is quarantined, the job goes on


def test_a_sidecar_read_whole_is_refused_too(tmp_path: Path) -> None:
    side = tmp_path / "calib.json"
    side.write_text('{"intrinsic": [1, 2, 3]}')
    assert bounds.load_json(locate(side), "calib.json") == {"intrinsic": [1, 2, 3]}
    _pointer(side)
    with pytest.raises(LfsPointer, match=r"calib\.json: Git LFS pointer file"):
        bounds.load_json(locate(side), "calib.json")


def _buffer(path: Path, rows: int = 12) -> Path:
    g = zarr.open_group(path, mode="w", zarr_format=2)
    g.create_array("data/action", data=np.arange(rows * 2, dtype="f8").reshape(rows, 2), chunks=(4, 2))
    g.create_array("data/state", data=np.ones((rows, 5)), chunks=(4, 5))
    g.create_array("data/keypoint", data=np.ones((rows, 9, 2)), chunks=(4, 9, 2))
    g.create_array("meta/episode_ends", data=np.array([6, rows]), chunks=(2,))
    return path


def test_zarr_chunks_never_written_refuse_only_the_episodes_over_them(tmp_path: Path) -> None:
    buf = _buffer(tmp_path / "replay_buffer.zarr")
    (buf / "data/action/2.0").unlink()  # rows 8..11: episode 1 only; zarr would read zeros (its fill value)
    adapter = ArraysAdapter()
    refs = {r.raw_id: r for r in adapter.discover(tmp_path)}
    ok = adapter.read(refs["replay_buffer.zarr/episode_0"])
    assert np.array_equal(ok.actions["action"].values[:, 0], np.arange(0, 12, 2))
    with pytest.raises(Exception) as err:
        adapter.read(refs["replay_buffer.zarr/episode_1"])
    msg = str(err.value)
    assert str(buf) in msg and "data/action" in msg
    assert "1 of its 2 chunks for rows 6..11 were never written (2.0): zarr would read them as the fill value" in msg


def test_zarr_chunk_that_is_a_pointer_is_named(tmp_path: Path) -> None:
    buf = _buffer(tmp_path / "replay_buffer.zarr")
    _pointer(buf / "data/state/0.0")
    adapter = ArraysAdapter()
    refs = {r.raw_id: r for r in adapter.discover(tmp_path)}
    with pytest.raises(Exception) as err:
        adapter.read(refs["replay_buffer.zarr/episode_0"])
    msg = str(err.value)
    assert str(buf) in msg and "data/state" in msg and "chunk 0.0 is a Git LFS pointer file for a" in msg
    assert adapter.read(refs["replay_buffer.zarr/episode_1"]).states["state"].values.shape == (6, 5)


def test_an_object_in_a_store_that_is_a_pointer_is_refused_too() -> None:
    import fsspec

    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 1234\n"
    fsspec.filesystem("memory").pipe("/lfs-test/episode_0.hdf5", pointer)
    with pytest.raises(LfsPointer, match=r"memory://.*episode_0\.hdf5: Git LFS pointer file for a 1,234-byte"):
        with locate("memory://lfs-test/episode_0.hdf5").readable():
            pass
    fsspec.filesystem("memory").pipe("/lfs-test/small.json", b'{"a": 1}')
    with locate("memory://lfs-test/small.json").readable() as f:
        assert f.read() == b'{"a": 1}'  # a small file that is no pointer is read from its start
