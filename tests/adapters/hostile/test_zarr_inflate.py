"""Every Zarr chunk decoded into at most its declared size (issue 58): a bomb per compressor (gzip, zlib, zstd as a
streaming frame, bz2, lzma, Blosc, LZ4; Zarr v2 and v3), a chunk of an array declaring (50, 5) float32 = 1,000
bytes whose stored bytes inflate to 256 MiB, is refused naming the chunk and the codec, with the reading process's
peak memory far below the inflated size (it is read in a fresh interpreter: a pytest process may reuse heap an
earlier test freed); zarr's own pipeline is shown to inflate it whole. Good chunks of every codec read as zarr
reads them, sharded arrays included."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zarr
import zarr.codecs.numcodecs as zn
from backports import zstd

from adapters.arrays.stores import open_store
from adapters.hostile import bounds
from adapters.hostile.zarr_inflate import BoundedPipeline, decode, use_bounded_pipeline

PIECE, PIECES = 8 << 20, 32  # 256 MiB inflated, built as concatenated streams (each decoder reads them all)
ROOT = Path(__file__).resolve().parents[3]


def _streaming_zstd() -> bytes:  # a frame that states no content size, as reliability-6 N2
    c = zstd.ZstdCompressor()
    return b"".join(c.compress(bytes(PIECE)) for _ in range(PIECES)) + c.flush()


BOMBS = {  # numcodecs id -> (v2 compressor, v3 codec, the stored bytes)
    "gzip": (numcodecs.GZip(), zarr.codecs.GzipCodec(), lambda: gzip.compress(bytes(PIECE)) * PIECES),
    "zlib": (numcodecs.Zlib(), zn.Zlib(), lambda: zlib.compress(bytes(PIECE * PIECES), 1)),
    "zstd": (numcodecs.Zstd(), zarr.codecs.ZstdCodec(), _streaming_zstd),
    "bz2": (numcodecs.BZ2(), zn.BZ2(), lambda: bz2.compress(bytes(PIECE)) * PIECES),
    "lzma": (numcodecs.LZMA(), zn.LZMA(), lambda: lzma.compress(bytes(PIECE)) * PIECES),
    "blosc": (numcodecs.Blosc(), zarr.codecs.BloscCodec(), lambda: numcodecs.Blosc().encode(bytes(PIECE * PIECES))),
    "lz4": (numcodecs.LZ4(), zn.LZ4(), lambda: numcodecs.LZ4().encode(bytes(PIECE * PIECES))),
}
GOOD = np.arange(500, dtype=np.float32).reshape(100, 5)


def _store(path: Path, fmt: int, cid: str) -> Path:
    v2, v3, _ = BOMBS[cid]
    g = zarr.open_group(path, mode="w", zarr_format=fmt)
    kw = {"compressors": v2} if fmt == 2 else {"compressors": v3}
    g.create_array("data/state", data=np.ones((50, 5), np.float32), chunks=(50, 5), **kw)
    g.create_array("data/good", data=GOOD, chunks=(7, 5), **kw)
    return path


def _chunk(fmt: int) -> str:
    return "data/state/0.0" if fmt == 2 else "data/state/c/0/0"


PEAK = """
def peak():  # MiB: this image's own high-water mark (ru_maxrss keeps the parent's across fork and exec)
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
"""
CHILD = (
    PEAK
    + """
import json, sys
from adapters.arrays.stores import open_store
out = {}
for path, key in json.loads(sys.argv[1]):
    with open_store(path, "zarr") as s:
        good = float(s.read("data/good").sum())
        try:
            s.read(key)
            out[path] = [good, None]
        except Exception as e:
            out[path] = [good, f"{type(e).__name__}: {e}"]
    out[path].append(peak())  # the peak so far
print(json.dumps(out))
"""
)

BARE = (
    PEAK
    + """
import sys, zarr
try:  # inflated whole, then refused by its shape ("cannot reshape array of size 67108864 into shape (50,5)")
    zarr.open_group(zarr.storage.LocalStore(sys.argv[1], read_only=True), mode="r")["data/state"][:]
except ValueError:
    pass
print(peak())
"""
)


def _child(code: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_a_chunk_bomb_of_every_compressor_is_refused_naming_the_chunk(tmp_path: Path) -> None:
    stores = []
    for cid, (_, _, bomb) in BOMBS.items():
        stored = bomb()
        assert len(stored) < 2 << 20  # a small file: its size says nothing of what it inflates to
        for fmt in (2, 3):
            path = _store(tmp_path / f"{cid}-v{fmt}.zarr", fmt, cid)
            (path / _chunk(fmt)).write_bytes(stored)
            stores.append((str(path), "data/state"))
    got = json.loads(_child(CHILD, json.dumps(stores)))
    for path, _ in stores:
        good, err, _ = got[path]
        cid, fmt = Path(path).stem.split("-v")
        assert good == GOOD.sum(), path  # the array beside the bomb is read
        assert err is not None and f"chunk {_chunk(int(fmt))} ({cid}) decoded size in bytes" in err, (path, err)
        assert "more than the chunk's declared size (1,000)" in err, err
    peaks = {Path(p).stem: round(v[2]) for p, v in got.items()}
    assert max(peaks.values()) < 200, peaks  # 256 MiB inflated by each of 14 bombs


def test_zarrs_own_pipeline_inflates_the_bomb_whole(tmp_path: Path) -> None:
    path = _store(tmp_path / "gzip.zarr", 2, "gzip")
    (path / _chunk(2)).write_bytes(BOMBS["gzip"][2]())
    assert float(_child(BARE, str(path))) > 256  # what the bound spares: the whole stream in memory


@pytest.mark.parametrize("fmt", [2, 3])
def test_good_chunks_of_every_codec_read_as_zarr_reads_them(tmp_path: Path, fmt: int) -> None:
    for cid in BOMBS:
        path = _store(tmp_path / f"{cid}.zarr", fmt, cid)
        with open_store(path, "zarr") as s:
            assert np.array_equal(s.read("data/good"), GOOD) and np.array_equal(
                s.read("data/state", 3, 9), np.ones((6, 5))
            )
    g = zarr.open_group(tmp_path / "sharded.zarr", mode="w", zarr_format=3)
    g.create_array("a", data=GOOD, chunks=(5, 5), shards=(20, 5), compressors=zarr.codecs.ZstdCodec())
    use_bounded_pipeline()  # as open_store sets it; the shard's inner chunks go through a pipeline of its own
    a = zarr.open_group(tmp_path / "sharded.zarr", mode="r")["a"]
    assert type(a._async_array.codec_pipeline) is BoundedPipeline
    assert np.array_equal(a[:], GOOD) and np.array_equal(a[13:57], GOOD[13:57])


def test_decode_bounds_before_inflating_and_names_a_bad_stream() -> None:
    blosc = numcodecs.Blosc().encode(bytes(1 << 20))
    with pytest.raises(ValueError, match="stated by its header"):  # refused from its header: nothing decoded
        decode("blosc", numcodecs.Blosc(), np.frombuffer(blosc, np.uint8), 1000)
    assert decode("gzip", None, np.frombuffer(gzip.compress(b"x" * 1000), np.uint8), 1000) == b"x" * 1000
    with pytest.raises(ValueError, match="not a valid zlib stream"):
        decode("zlib", None, np.frombuffer(b"not zlib at all", np.uint8), 1000)
    big = np.frombuffer(zlib.compress(bytes(bounds.limit("READ_BYTES") + 1)), np.uint8)
    with pytest.raises(ValueError, match="reading budget"):  # no declared size: the budget bounds it
        decode("zlib", None, big, None)
