"""`adapters.storage.h5_inflate`: a gzip chunk inflating past its declared bytes is refused, under any memory limit
(review 6 N10: HDF5 read 64 MiB of zeros for a (30, 7) float64 chunk, and the episode was written with zero
actions); honest chunks, shuffled and checksummed ones, and partial reads pass unchanged."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.storage.bounds import read_array
from adapters.storage.h5_inflate import InflatesPast, check_inflate
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


@pytest.mark.parametrize(
    "options", [{}, {"shuffle": True}, {"fletcher32": True}, {"shuffle": True, "fletcher32": True}]
)
def test_honest_chunks_read_unchanged(tmp_path: Path, options: dict) -> None:
    values = np.random.default_rng(0).normal(size=(100, 7))
    with h5py.File(tmp_path / "ok.hdf5", "w") as f:
        f.create_dataset("a", data=values, chunks=(16, 7), compression="gzip", **options)
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
