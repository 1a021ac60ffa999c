"""Reads from a real S3 server: files of the real samples (GR00T mp4 and parquet, Bridge tfrecord) and an HDF5 file
put in the bucket, read as file objects by the libraries the adapters use; what is fetched is measured against what the
reader used and against the whole file, and the decoded data equal the local read."""

from __future__ import annotations

from contextlib import closing

import av
import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.storage.object_cache import LocalCache
from adapters.storage.reads import ReadMeter, open_seekable, open_stream
from adapters.storage.urls import filesystem
from tests.fixtures.readback import used_bytes
from tests.realdata import realdata
from tests.s3.server import S3Server

# real files of the samples (tests/REAL_SAMPLES.md), read with `realdata`
MP4 = "gr00t_robot_sim_picknplace/videos/chunk-000/observation.images.ego_view/episode_000000.mp4"
PARQUET = "gr00t_robot_sim_picknplace/data/chunk-000/episode_000000.parquet"
TFRECORD = "octo_bridge_debug_rlds/bridge_dataset/1.0.0/bridge_dataset-train.tfrecord-00000-of-00001"


@pytest.fixture(scope="module")
def bucket(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The files in `raw/reads/`, plus an HDF5 file of eight 4 MB datasets (written here: no real one is stored)."""
    h5 = tmp_path_factory.mktemp("h5") / "episode.hdf5"
    rng = np.random.default_rng(0)
    with h5py.File(h5, "w") as f:
        for i in range(8):
            f.create_dataset(f"obs/cam{i}", data=rng.integers(0, 255, (64, 256, 256), dtype=np.uint8))
        f.create_dataset("action", data=rng.normal(size=(64, 7)))
    fs, _ = filesystem("s3://", s3.options())
    keys = {}
    for name, path in {
        "mp4": realdata(MP4),
        "parquet": realdata(PARQUET),
        "tfrecord": realdata(TFRECORD),
        "hdf5": h5,
    }.items():
        keys[name] = f"raw/reads/{path.name}"
        fs.put_file(str(path), keys[name])
    keys["hdf5_local"] = str(h5)
    return keys


def window(container: av.container.InputContainer, start: float, end: float) -> list[np.ndarray]:
    """Frames with start <= t < end, decoding from the keyframe before `start` and stopping at `end`."""
    stream = container.streams.video[0]
    container.seek(int(start / stream.time_base), stream=stream)
    out = []
    for frame in container.decode(stream):
        if frame.time >= end:
            break
        if frame.time >= start:
            out.append(frame.to_ndarray(format="rgb24"))
    return out


def test_mp4_window_is_read_without_the_whole_file(s3: S3Server, bucket: dict[str, str]) -> None:
    # this real GR00T episode (20.8 s, H.264) has keyframes at 0 and 12.5 s: a window after the second one
    fs, _ = filesystem("s3://", s3.options())
    meter = ReadMeter()
    with open_seekable(fs, bucket["mp4"], block_size=64 << 10, meter=meter) as f, av.open(f) as c:
        frames = window(c, 13.0, 14.0)
    with av.open(str(realdata(MP4))) as c:
        local = window(c, 13.0, 14.0)
    assert len(frames) == len(local) == 20 and all(np.array_equal(a, b) for a, b in zip(frames, local, strict=True))
    assert meter.fetched < 0.35 * meter.size, meter  # the moov and 12.5-14 s of samples, not the file


def test_hdf5_dataset_read_fetches_about_that_dataset(s3: S3Server, bucket: dict[str, str]) -> None:
    fs, _ = filesystem("s3://", s3.options())
    meter = ReadMeter()
    with open_seekable(fs, bucket["hdf5"], meter=meter) as f, h5py.File(f, "r") as h:
        cam = h["obs/cam5"][:]
    with h5py.File(bucket["hdf5_local"], "r") as h:
        assert np.array_equal(cam, h["obs/cam5"][:])
    # one dataset, whole blocks at its two ends, the superblock's and the object header's blocks
    assert cam.nbytes <= meter.fetched <= cam.nbytes + 4 * (1 << 20), meter
    assert meter.fetched < 0.25 * meter.size  # of 8 camera datasets, one read


def test_parquet_one_column_fetches_that_column(s3: S3Server, bucket: dict[str, str]) -> None:
    fs, _ = filesystem("s3://", s3.options())
    meter = ReadMeter()
    local = pq.ParquetFile(realdata(PARQUET))
    column = "timestamp"  # 3 KB compressed of this real file's 180 KB (observation.state is 109 KB)
    with open_seekable(fs, bucket["parquet"], block_size=64 << 10, meter=meter) as f:
        table = pq.ParquetFile(f).read(columns=[column])
    assert table.equals(local.read(columns=[column]))
    # pyarrow reads the footer with a 64 KiB guess, then the column chunk; fetched in whole 64 KiB blocks
    assert meter.used < 0.5 * meter.size and meter.fetched <= 2 * (64 << 10), meter


def test_tfrecord_stream_is_sequential_and_whole(s3: S3Server, bucket: dict[str, str]) -> None:
    fs, _ = filesystem("s3://", s3.options())
    meter = ReadMeter()
    with open_stream(fs, bucket["tfrecord"], block_size=1 << 20, meter=meter) as f:
        data = b"".join(iter(lambda: f.read(65536), b""))
    assert data == realdata(TFRECORD).read_bytes()
    assert meter.fetched == meter.size == meter.used and meter.requests == -(-meter.size // (1 << 20))


def test_local_cache_is_bounded_and_cleaned(s3: S3Server, bucket: dict[str, str]) -> None:
    fs, _ = filesystem("s3://", s3.options())
    other = realdata(MP4).with_name("episode_000001.mp4")
    fs.put_file(str(other), "raw/reads/other.mp4")
    with closing(LocalCache(max_bytes=int(1.5 * realdata(MP4).stat().st_size))) as cache:
        first = cache.path(fs, bucket["mp4"])
        assert (
            first.read_bytes() == realdata(MP4).read_bytes() and cache.path(fs, bucket["mp4"]) == first
        )  # fetched once
        second = cache.path(fs, "raw/reads/other.mp4")  # both do not fit: the least recently used goes
        assert second.read_bytes() == other.read_bytes() and not first.exists()
        assert used_bytes(cache) == other.stat().st_size <= cache.max_bytes
        with pytest.raises(OSError, match="exceed the local cache bound"):
            cache.path(fs, bucket["tfrecord"])
        folder = cache.dir
    assert not folder.exists()
