"""Every read of a Zarr folder stays beneath it whatever changes between the check and the read (issue 58): a chunk
or an array folder swapped for a symlink after `open_store` checked the folder is shown to leak the outside file's
bytes through zarr's own LocalStore, then refused by `BeneathStore` naming the link; links inside the store are
followed, good stores read identically to LocalStore (v2 and v3, chunk keys with and without separators)."""

from __future__ import annotations

import errno
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import zarr

from adapters.arrays.stores import open_store
from adapters.hostile.zarr_beneath import BeneathStore
from adapters.storage.beneath import Fence
from adapters.storage.location import locate
from schemas.containment import ReachesOutside

SECRET = (b"SECRET-KEY=hunter2;" * 16)[:300]


def _store(folder: Path, fmt: int = 2) -> Path:
    g = zarr.open_group(folder, mode="w", zarr_format=fmt)
    g.create_array("data/secret", data=np.ones((50, 6), np.uint8), chunks=(50, 6), compressors=None)
    g.create_array("data/state", data=np.arange(600, dtype=np.float32).reshape(100, 6), chunks=(7, 4))
    return folder


def _outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir(exist_ok=True)
    (out / "secret.bin").write_bytes(SECRET)
    return out


def _leaks(a: np.ndarray) -> bool:
    return SECRET[:19] in np.ascontiguousarray(a).tobytes()


def _swap_chunk(store: Path, out: Path) -> str:
    chunk = store / "data/secret/0.0"
    chunk.unlink()
    chunk.symlink_to(out / "secret.bin")
    return "data/secret/0.0 (a symlink)"


def _swap_folder(store: Path, out: Path) -> str:
    shutil.copytree(store / "data/secret", out / "secret")
    (out / "secret/0.0").write_bytes(SECRET)
    shutil.rmtree(store / "data/secret")
    (store / "data/secret").symlink_to(out / "secret", target_is_directory=True)
    return "data/secret (a symlink)"


def _swap_relative(store: Path, out: Path) -> str:  # a relative link climbing out with `..`
    chunk = store / "data/secret/0.0"
    chunk.unlink()
    chunk.symlink_to(os.path.relpath(out / "secret.bin", chunk.parent))
    return "data/secret/0.0 (a symlink)"


@pytest.mark.parametrize("swap", [_swap_chunk, _swap_folder, _swap_relative])
def test_a_link_swapped_in_after_the_check_is_refused_at_the_read(tmp_path: Path, swap) -> None:
    out = _outside(tmp_path)
    store = _store(tmp_path / "replay.zarr")
    with open_store(locate(store), "zarr") as s:  # the folder is checked here: nothing leads out yet
        bare = zarr.open_group(zarr.storage.LocalStore(store, read_only=True), mode="r")
        named = swap(store, out)  # the race: between the check and the read
        assert _leaks(bare["data/secret"][:])  # a real escape: zarr's LocalStore reads the outside file
        with pytest.raises(ReachesOutside) as err:
            s.read("data/secret")
        assert named in str(err.value) and str(store) in str(err.value) and str(out) in str(err.value)
        assert s.read("data/state").shape == (100, 6)  # the arrays beside it are read


def test_links_inside_the_store_are_followed_and_loops_refused(tmp_path: Path) -> None:
    store = _store(tmp_path / "replay.zarr")
    (store / "data/twin").symlink_to(store / "data/state", target_is_directory=True)  # absolute, inside
    (store / "data/rel").symlink_to("../data/./state", target_is_directory=True)  # relative, via the parent
    with open_store(locate(store), "zarr") as s:
        want = np.arange(600, dtype=np.float32).reshape(100, 6)
        assert np.array_equal(s.read("data/twin"), want) and np.array_equal(s.read("data/rel"), want)
    (store / "data/loop").symlink_to("loop")
    fd = os.open(store, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError, match="data/loop: 40 links followed"):
            Fence.open_beneath(fd, os.path.realpath(store), "data/loop/0.0", str(store))
        with pytest.raises(ValueError, match="climbs out"):
            Fence.open_beneath(fd, os.path.realpath(store), "data/../../x", str(store))
        with pytest.raises(NotADirectoryError):  # a file where a folder is asked: absent, as open() says
            Fence.open_beneath(fd, os.path.realpath(store), "data/secret/0.0/x", str(store))
    finally:
        os.close(fd)


def test_a_fifo_in_a_store_is_refused_not_waited_on(tmp_path: Path) -> None:
    store = _store(tmp_path / "replay.zarr")
    (store / "data/secret/0.0").unlink()
    os.mkfifo(store / "data/secret/0.0")
    with open_store(locate(store), "zarr") as s, pytest.raises(OSError, match=r"0\.0 is not a regular file"):
        s.read("data/secret")


@pytest.mark.parametrize("fmt", [2, 3])
def test_a_good_store_reads_and_lists_as_zarrs_own(tmp_path: Path, fmt: int) -> None:
    store = _store(tmp_path / "replay.zarr", fmt)
    ours = BeneathStore(store)
    theirs = zarr.storage.LocalStore(store, read_only=True)
    try:
        a, b = zarr.open_group(ours, mode="r"), zarr.open_group(theirs, mode="r")
        assert sorted(n for n, _ in a.members(max_depth=None)) == sorted(n for n, _ in b.members(max_depth=None))
        for key in ("data/secret", "data/state"):
            assert np.array_equal(a[key][:], b[key][:]) and np.array_equal(a[key][3:17, 1:5], b[key][3:17, 1:5])
        assert ours.get_sync("data/nothing") is None and ours.get_sync("data") is None  # absent, a folder
        assert sorted(zarr.core.sync.sync(_all(ours))) == sorted(zarr.core.sync.sync(_all(theirs)))
    finally:
        ours.close()
    with pytest.raises(OSError) as err:
        os.fstat(ours._fd)  # the folder's descriptor closed with the store
    assert err.value.errno == errno.EBADF
    with pytest.raises(ValueError, match="reads only"):
        BeneathStore(store, read_only=False)


async def _all(store: zarr.abc.store.Store) -> list[str]:
    return [k async for k in store.list()]


def test_the_arrays_adapter_flags_a_store_swapped_after_discovery(tmp_path: Path) -> None:
    """Discovery checked the folder; a chunk swapped for a link before the episode's read: the read fails naming
    the link (the episode is quarantined with it), the store beside it reads, nothing of the secret is read."""
    from adapters.arrays.adapter import ArraysAdapter
    from adapters.base import AdapterError
    from tests.fixtures.writers.arrays import write_umi

    out, root = _outside(tmp_path), tmp_path / "root"
    zipped = write_umi(tmp_path / "umi.zarr.zip", [4, 9])
    for name in ("bad.zarr", "good.zarr"):
        with zipfile.ZipFile(zipped) as z:
            z.extractall(root / name)
    adapter = ArraysAdapter({"fps": 20})
    refs = list(adapter.discover(root))
    assert len(refs) == 4 and all(r.error is None for r in refs)
    chunk = next((root / "bad.zarr/data/robot0_eef_pos").glob("0*"))
    chunk.unlink()
    chunk.symlink_to(out / "secret.bin")  # after discovery, before the read
    for ref in refs:
        if "bad.zarr" in ref.paths[0]:
            with pytest.raises(AdapterError, match=f"data/robot0_eef_pos/{chunk.name} .a symlink. leads to {out}"):
                adapter.read(ref)
        else:
            ep = adapter.read(ref)
            assert ep.states and not any(_leaks(np.asarray(s.values)) for s in ep.states.values())


@pytest.mark.parametrize("fmt", [2, 3])
def test_a_metadata_document_past_the_json_limit_is_refused_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: int
) -> None:
    """zarr parses its JSON documents (`.zattrs`, `zarr.json`) whole: held to max_json_bytes like every JSON a source
    holds (at e7043c41 read whatever their size); a store within it reads."""
    from schemas.settings import ENV

    store = tmp_path / "s.zarr"
    zarr.open_group(str(store), mode="w", zarr_format=fmt).attrs["pad"] = "x" * 200  # type: ignore[arg-type]
    monkeypatch.setenv(ENV, '{"max_json_bytes": 100}')
    with pytest.raises(ValueError, match=r"size in bytes: \d+ declared, more than the limit \(100\), the setting max"):
        zarr.open_group(store=BeneathStore(store), mode="r").attrs.asdict()
    monkeypatch.setenv(ENV, "{}")
    assert zarr.open_group(store=BeneathStore(store), mode="r").attrs["pad"] == "x" * 200
