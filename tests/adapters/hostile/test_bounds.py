"""`adapters.hostile.bounds`: a declared size past its bound is TooLarge naming what, the size and the bound; limits
are the settings `max_<name>`; a file is read whole only within its limit; the reading budget (READ_BYTES) bounds
every array read and every decompression."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from adapters.hostile import bounds
from adapters.storage.location import locate
from tests.fixtures import bombs


def test_check_names_what_and_the_bound() -> None:
    bounds.check("rows", 40, 42, "the cameras' frames")
    with pytest.raises(bounds.TooLarge, match=r"rows: 40,000,000 declared, more than the cameras' frames \(42\)"):
        bounds.check("rows", 40_000_000, 42, "the cameras' frames")
    with pytest.raises(bounds.TooLarge, match="nan declared"):
        bounds.check("duration", float("nan"), 10, "max")
    with pytest.raises(bounds.TooLarge, match=r"1e\+09 declared"):
        bounds.check("duration", 1e9 + 0.5, 10, "max")


def test_limits_are_configured(settings: Any) -> None:
    assert bounds.limit("JSON_BYTES") == 1 << 30
    settings(max_json_bytes=2_000_000_000)
    assert bounds.limit("JSON_BYTES") == 2_000_000_000


def test_a_file_is_read_whole_only_within_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{"a": [1, 2]}')
    assert bounds.load_json(locate(path), "a.json") == {"a": [1, 2]}
    assert bounds.read_bounded(locate(path), 13, "a.json") == b'{"a": [1, 2]}'
    with pytest.raises(bounds.TooLarge, match=r"a\.json size in bytes: 13 declared, more than the limit \(12\)"):
        bounds.read_bounded(locate(path), 12, "a.json")


def test_an_array_is_read_only_within_the_reading_budget(tmp_path: Path, settings: Any) -> None:
    with h5py.File(tmp_path / "a.h5", "w") as f:
        big = f.create_dataset("big", shape=(80_000_000, 4, 4), dtype="f8", chunks=(1024, 4, 4))  # 10 GB declared
        big[:1024] = 1.0  # its first chunk written, the rest never
        f["rows"] = np.arange(40.0).reshape(10, 4)
        f["scalar"] = 3.0
    with h5py.File(tmp_path / "a.h5") as f:
        assert bounds.declared_bytes(f["big"]) == 10_240_000_000
        with pytest.raises(bounds.TooLarge, match=r"/big in .*a\.h5 \(\(80000000, 4, 4\) float64\) size in bytes: "):
            bounds.read_array(f["big"])
        assert bounds.read_array(f["big"], start=5, stop=7).shape == (2, 4, 4)  # a slice asks for its own size
        with pytest.raises(ValueError, match=r"rows 2000\.\.2001 lie in chunks never written"):  # absent_data
            bounds.read_array(f["big"], start=2000, stop=2002)
        settings(max_read_bytes=64)
        assert bounds.read_array(f["rows"], start=8).tolist() == [[32, 33, 34, 35], [36, 37, 38, 39]]
        assert bounds.read_array(f["scalar"]) == 3.0
        with pytest.raises(bounds.TooLarge, match=r"rows \(\(10, 4\) float64\) size in bytes: 320 declared"):
            bounds.read_array(f["rows"], "rows")


@pytest.mark.parametrize("codec", sorted(bounds.CODECS))
def test_inflate_stops_at_the_budget_and_at_what_is_declared(codec: str, settings: Any) -> None:
    compress = bombs.COMPRESS[codec]
    data = bytes(range(256)) * 400  # 102,400 bytes
    assert bounds.inflate(compress(data), codec, "x") == data
    after = b"" if codec == "zlib" else b"abc"  # concatenated frames; zlib ignores what follows, as zlib.decompress
    assert bounds.inflate(compress(data) + compress(b"abc"), codec, "x") == data + after
    assert bounds.inflate(compress(data), codec, "x", declared=len(data)) == data
    assert len(bounds.inflate(compress(data), codec, "x", declared=100)) == 101  # the caller names the mismatch
    with pytest.raises(EOFError, match="x: compressed data ended"):
        bounds.inflate(compress(data)[:-8], codec, "x")
    settings(max_read_bytes=50000)
    with pytest.raises(bounds.TooLarge, match=r"chunk inflated size in bytes: 50,001 reached, more than the reading"):
        bounds.inflate(compress(data), codec, "chunk")
    with pytest.raises(bounds.TooLarge, match=r"chunk size in bytes: 1,000,000,000,000 declared"):
        bounds.inflate(compress(b"x"), codec, "chunk", declared=10**12)


def test_a_chunk_is_asked_for_whatever_the_selection() -> None:
    """A chunk is decoded whole: one declared far larger than the array (an unlimited HDF5 dataset, a Zarr array)
    is refused before the read is even tried."""

    class Declared:  # what h5py and Zarr arrays answer from their metadata; slicing would decode the chunk
        shape, dtype, chunks, name = (10,), np.dtype("f8"), (1 << 30,), "/tiny"

        def __getitem__(self, key: object) -> np.ndarray:
            raise AssertionError("read before the budget was asked")

    with pytest.raises(bounds.TooLarge, match=r"x: one chunk \(1073741824,\) of float64 size in bytes: 8,589,934,592"):
        bounds.read_array(Declared(), "x")
