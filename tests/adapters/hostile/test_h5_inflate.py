"""`adapters.hostile.h5_inflate`: a gzip or LZF chunk inflating past its declared bytes is refused, under any memory
limit (review 6 N10: HDF5 read 64 MiB of zeros for a (30, 7) float64 chunk, and the episode was written with zero
actions; review 7: the same with h5py's LZF filter); a filter eidata cannot bound (scale-offset, n-bit, szip, a
plugin's) is refused naming file, dataset and filter; honest chunks, shuffled and checksummed ones, and partial reads
pass unchanged."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.hostile.bounds import read_array
from adapters.hostile.h5_inflate import InflatesPast, UnboundedFilter, check_inflate, lzf_length
from tests.fixtures import library_bombs as lb


def test_a_chunk_inflating_past_its_declared_size_is_refused_not_read_as_zeros(tmp_path: Path) -> None:
    path = tmp_path / "demo.hdf5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("actions", shape=(30, 7), dtype="f8", chunks=(30, 7), compression="gzip")
        ds.id.write_direct_chunk((0, 0), lb.zlib_stream(64 << 20))  # 64 MiB of zeros for 1,680 bytes
    with h5py.File(path) as f:
        assert not np.asarray(f["actions"][()]).any()  # what h5py alone gives: zeros, no error
        with pytest.raises(
            InflatesPast, match=r"actions in .*demo.hdf5: gzip chunk at \(0, 0\) inflates past the 1,680"
        ):
            read_array(f["actions"])


@pytest.mark.parametrize("fletcher32", [False, True])
def test_an_lzf_chunk_inflating_past_its_declared_size_is_refused(tmp_path: Path, fletcher32: bool) -> None:
    path = tmp_path / "demo.hdf5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset(
            "actions", shape=(30, 7), dtype="f8", chunks=(30, 7), compression="lzf", fletcher32=fletcher32
        )
        raw = lb.lzf_stream(8 << 20)
        if fletcher32:  # HDF5's checksum over the stored bytes, as its filter appends it
            raw += _fletcher32(raw)
        # 8 MiB of zeros for 1,680 bytes, 95 KB stored (h5py grows its buffer a chunk at a time: 64 MiB took minutes)
        ds.id.write_direct_chunk((0, 0), raw)
    with h5py.File(path) as f:
        assert not np.asarray(f["actions"][()]).any()  # what h5py alone gives: zeros, no error
        past = r"actions in .*demo.hdf5: LZF chunk at \(0, 0\) inflates past the 1,680"
        with pytest.raises(InflatesPast, match=past):
            read_array(f["actions"])


def _fletcher32(data: bytes) -> bytes:
    """HDF5's Fletcher-32 of `data` (H5checksum.c: 16-bit big-endian words, an odd last byte shifted high)."""
    sum1 = sum2 = 0
    words = [data[i] << 8 | data[i + 1] for i in range(0, len(data) - 1, 2)]
    if len(data) % 2:
        words.append(data[-1] << 8)
    for w in words:
        sum1 = (sum1 + w) % 65535
        sum2 = (sum2 + sum1) % 65535
    return ((sum2 << 16) | sum1).to_bytes(4, "little")


def test_the_lzf_length_is_the_streams_own() -> None:
    """The length read from the control bytes against liblzf's own output (h5py's filter) on real-looking data."""
    values = np.cumsum(np.random.default_rng(0).integers(0, 3, size=(4096, 7)), axis=0).astype("f8")
    data = values.tobytes()
    assert lzf_length(lb.lzf_stream(64 << 20), 1 << 40) == 1 + 264 * (((64 << 20) - 1) // 264)
    import io

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_dataset("a", data=values, chunks=values.shape, compression="lzf")
    with h5py.File(buf, "r") as f:
        _, raw = f["a"].id.read_direct_chunk((0, 0))
        assert len(raw) < len(data) and lzf_length(raw, 1 << 40) == len(data)
        assert 100 < lzf_length(raw, 100) < 400  # stops once past the bound


@pytest.mark.parametrize(
    ("options", "fid"),
    [({"scaleoffset": 2}, 6), ({"compression": 32015, "allow_unknown_filter": True}, 32015)],  # a plugin: Zstd's id
)
def test_a_filter_eidata_cannot_bound_is_refused_naming_it(tmp_path: Path, options: dict, fid: int) -> None:
    path = tmp_path / "other.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("actions", data=np.ones((30, 7)), chunks=(30, 7), **options)
    with h5py.File(path) as f, pytest.raises(UnboundedFilter, match=rf"actions in .*other.hdf5: HDF5 filter {fid} "):
        read_array(f["actions"])


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"shuffle": True},
        {"fletcher32": True},
        {"shuffle": True, "fletcher32": True},
        {"compression": "lzf"},
        {"compression": "lzf", "shuffle": True, "fletcher32": True},
    ],
)
def test_honest_chunks_read_unchanged(tmp_path: Path, options: dict) -> None:
    values = np.random.default_rng(0).normal(size=(100, 7))
    with h5py.File(tmp_path / "ok.hdf5", "w") as f:
        f.create_dataset("a", data=values, chunks=(16, 7), **{"compression": "gzip", **options})
        f.create_dataset("raw", data=values)  # contiguous, no filter: nothing to check
    with h5py.File(tmp_path / "ok.hdf5") as f:
        assert np.array_equal(read_array(f["a"]), values)
        assert np.array_equal(read_array(f["a"], start=40, stop=60), values[40:60])
        check_inflate(f["raw"])


def test_only_the_chunks_of_the_rows_read_are_inflated(tmp_path: Path) -> None:
    values = np.ones((64, 7))
    with h5py.File(tmp_path / "part.hdf5", "w") as f:
        ds = f.create_dataset("a", data=values, chunks=(16, 7), compression="gzip")
        ds.id.write_direct_chunk((48, 0), lb.zlib_stream(16 << 20))  # the last chunk lies
    with h5py.File(tmp_path / "part.hdf5") as f:
        assert np.array_equal(read_array(f["a"], start=0, stop=48), values[:48])
        with pytest.raises(InflatesPast, match=r"\(48, 0\)"):
            read_array(f["a"], start=40, stop=50)
