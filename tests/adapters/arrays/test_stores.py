"""One view of a Zarr (v2, v3; a folder or a zip, its root at the zip's root or one folder down) or HDF5 store:
what a path is, every array and group by path, attributes as plain values, rows read on demand.

`adapters.arrays.stores`: where each episode of a store lies under its layout, on stores written by the makers'
layouts (`adapters/synthetic/arrays.py`): a Zarr replay buffer cut at `meta/episode_ends`, a robomimic file's demo
groups in natural order; a broken episode index is refused naming what is wrong.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import h5py
import numcodecs
import numpy as np
import pytest
import zarr
import zarr.codecs.numcodecs as zn

from adapters.arrays.layouts import LAYOUTS
from adapters.arrays.stores import any_of, base_rows, container_of, episodes_of, join, open_store, rows_per_array
from adapters.hostile.absent import AbsentData
from adapters.storage.location import locate
from tests.fixtures import bombs
from tests.fixtures.writers.arrays import zip_folder


def _buffer(path: Path, zarr_format: int) -> Path:
    g = zarr.open_group(path, mode="w", zarr_format=zarr_format)
    g.attrs["note"] = "x"
    g.create_array("data/action", data=np.arange(12, dtype=np.float32).reshape(6, 2))
    g.create_array("meta/episode_ends", data=np.array([2, 6]))
    return path


def test_container_of(tmp_path: Path) -> None:
    v2, v3 = _buffer(tmp_path / "a.zarr", 2), _buffer(tmp_path / "b", 3)
    (tmp_path / "plain").mkdir()
    for name in ("c.zip", "d.hdf5", "e.H5", "f.txt"):
        (tmp_path / name).write_bytes(b"")
    got = {p.name: container_of(p) for p in (v2, v3, *(tmp_path / n for n in ("plain", "c.zip", "d.hdf5", "e.H5")))}
    assert got == {"a.zarr": "zarr", "b": "zarr", "plain": None, "c.zip": "zarr", "d.hdf5": "hdf5", "e.H5": "hdf5"}
    assert container_of(tmp_path / "f.txt") is None


@pytest.mark.parametrize("form", ["v2", "v3", "zip", "zip_one_down"])
def test_zarr_stores_read_the_same(tmp_path: Path, form: str) -> None:
    folder = _buffer(tmp_path / "replay_buffer.zarr", 3 if form == "v3" else 2)
    path = folder
    if form == "zip":
        path = zip_folder(folder, tmp_path / "buffer.zarr.zip")
    elif form == "zip_one_down":  # `zip -r x.zip replay_buffer.zarr`
        path = tmp_path / "x.zip"
        with zipfile.ZipFile(path, "w") as z:
            for f in sorted(folder.rglob("*")):
                if f.is_file():
                    z.write(f, f.relative_to(tmp_path).as_posix())
    with open_store(locate(path), "zarr") as store:
        assert set(store.arrays) == {"data/action", "meta/episode_ends"} and store.groups == {"", "data", "meta"}
        assert store.arrays["data/action"].shape == (6, 2) and store.keys >= {"data", "data/action"}
        assert store.read("data/action", 2, 4).tolist() == [[4.0, 5.0], [6.0, 7.0]]
        assert store.attrs()["note"] == "x" and store.all_attrs(("", "data", "nope")).keys() == {"", "data"}


def test_a_zip_without_group_metadata_is_refused(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "x.zip", "w") as z:
        z.writestr("readme.txt", "no store here")
    with pytest.raises(ValueError, match=r"no Zarr group metadata \(.zgroup or zarr.json\) in this zip"):
        with open_store(locate(tmp_path / "x.zip"), "zarr"):
            pass


def test_hdf5_attributes_read_as_plain_values(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "a.hdf5", "w") as f:
        f.attrs["sim"] = np.bool_(True)
        f["data/demo_0/actions"] = np.zeros((3, 7))
        f["data"].attrs["env"] = np.bytes_(b"Lift")
    with open_store(locate(tmp_path / "a.hdf5"), "hdf5") as store:
        assert store.attrs() == {"sim": True} and store.attrs("data") == {"env": "Lift"}
        assert set(store.arrays) == {"data/demo_0/actions"} and store.groups == {"", "data", "data/demo_0"}
        assert store.read("data/demo_0/actions").shape == (3, 7)


def test_zarr_in_an_object_store_is_refused() -> None:
    with pytest.raises(ValueError, match="Zarr stores are read from local paths only"):
        with open_store(locate("s3://bucket/buffer.zarr"), "zarr"):
            pass


def _store_read(path: Path, key: str) -> float:
    with open_store(path, "zarr") as store:
        return float(store.read(key).sum())


def test_a_zip_member_inflating_past_the_limit_is_refused_naming_the_zip(tmp_path: Path) -> None:
    """zarr's ZipStore inflates a member whole: a 200 KB deflated chunk of 200 MiB is refused by the parse
    process's memory limit (issue 84) naming the zip; the store's other arrays read."""
    folder = _buffer(tmp_path / "replay_buffer.zarr", 2)
    zarr.open_group(folder, mode="a").create_array("data/bomb", shape=(25 << 20,), chunks=(25 << 20,), dtype="f8")
    path = zip_folder(folder, tmp_path / "buffer.zarr.zip")
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("data/bomb/0", bytes(200 << 20))
    assert path.stat().st_size < 1 << 20
    assert bombs.caged_call(_store_read, path, "data/action") == (None, 66.0)
    bombs.assert_refused(bombs.caged_call(_store_read, path, "data/bomb")[0], path)


def test_a_sharded_array_is_read_and_a_missing_shard_named(tmp_path: Path) -> None:
    """A v3 sharded array stores one key per shard: its rows are read (they were taken for 15 of 20 chunks never
    written), and a shard deleted is named as never written."""
    g = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=3)
    data = np.arange(500, dtype=np.float32).reshape(100, 5)
    g.create_array("a", data=data, chunks=(5, 5), shards=(20, 5), compressors=zarr.codecs.ZstdCodec())
    with open_store(locate(tmp_path / "s.zarr"), "zarr") as store:
        assert np.array_equal(store.read("a"), data) and np.array_equal(store.read("a", 13, 57), data[13:57])
    (tmp_path / "s.zarr/a/c/2/0").unlink()
    with open_store(locate(tmp_path / "s.zarr"), "zarr") as store:
        assert np.array_equal(store.read("a", 0, 40), data[:40])
        with pytest.raises(AbsentData, match=r"1 of its 5 chunks for rows 0\.\.99 were never written \(c/2/0\)"):
            store.read("a")


CODECS = {  # numcodecs id -> (v2 compressor, v3 codec): every compressor a Zarr chunk bomb was built with
    "gzip": (numcodecs.GZip(), zarr.codecs.GzipCodec()),
    "zlib": (numcodecs.Zlib(), zn.Zlib()),
    "zstd": (numcodecs.Zstd(), zarr.codecs.ZstdCodec()),
    "bz2": (numcodecs.BZ2(), zn.BZ2()),
    "lzma": (numcodecs.LZMA(), zn.LZMA()),
    "blosc": (numcodecs.Blosc(), zarr.codecs.BloscCodec()),
    "lz4": (numcodecs.LZ4(), zn.LZ4()),
}


@pytest.mark.filterwarnings("ignore::UserWarning")  # numcodecs' codecs are not in the v3 specification
@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("size", [2000, 1004, 500])
def test_a_chunk_decoding_to_other_than_its_shape_is_refused_naming_the_array(
    tmp_path: Path, fmt: int, size: int
) -> None:
    """A chunk of (50, 5) float32 (1,000 bytes) decoding to more or fewer bytes is an error naming the array and the
    store, never its first bytes kept (as HDF5's deflate keeps them: `adapters.hostile.h5_inflate`), by every codec;
    what decodes to gigabytes is the parse process's memory limit's (tests/jobs/ingest/test_parse_limit.py)."""
    for cid, (v2, v3) in CODECS.items():
        path = tmp_path / f"{cid}-{size}-v{fmt}.zarr"
        g = zarr.open_group(path, mode="w", zarr_format=fmt)
        g.create_array("s", data=np.ones((50, 5), np.float32), chunks=(50, 5), compressors=v2 if fmt == 2 else v3)
        (path / ("s/0.0" if fmt == 2 else "s/c/0/0")).write_bytes(v2.encode((bytes(range(250)) * 8)[:size]))
        with open_store(locate(path), "zarr") as store, pytest.raises(ValueError) as e:
            store.read("s")
        assert f"s of {path}: a chunk does not decode to (50, 5) of float32" in str(e.value), (cid, e.value)


def _ends_buffer(root: Path, ends: list[int], rows: int) -> Path:
    path = root / "replay.zarr"
    g = zarr.open_group(path, mode="w", zarr_format=2)
    g.create_array("data/state", data=np.zeros((rows, 5), np.float32))
    g.create_array("data/action", data=np.zeros((rows, 2), np.float32))
    g.create_array("meta/episode_ends", data=np.array(ends, np.int64))
    return path


def test_a_replay_buffer_is_cut_at_its_episode_ends(tmp_path: Path) -> None:
    layout = LAYOUTS["diffusion_policy"]
    path = _ends_buffer(tmp_path, [3, 7, 10], 10)
    with open_store(locate(path), container_of(path)) as store:
        got = list(episodes_of(store, layout))
        assert got == [(f"episode_{i}", {"rows": r}) for i, r in enumerate([[0, 3], [3, 7], [7, 10]])]
        assert base_rows(store, layout.episodes.base) == 10
        assert rows_per_array(store, layout.episodes.base, 3, 7, layout) == {"state": 4, "action": 4}


def test_a_broken_episode_index_is_refused_naming_it(tmp_path: Path) -> None:
    layout = LAYOUTS["diffusion_policy"]
    path = _ends_buffer(tmp_path, [3, 2, 10], 10)
    with open_store(locate(path), container_of(path)) as store, pytest.raises(ValueError, match="rise"):
        list(episodes_of(store, layout))


def test_paths_join_and_match_the_layouts_patterns() -> None:
    assert join("data", "state") == "data/state" and join("", "state") == "state"
    assert any_of("obs/agentview_image", ("obs/*_image",)) and not any_of("obs/state", ("obs/*_image",))
