"""Writing a dataset to a bucket output against writing it to local disk, side by side in one run, and what a job
start costs to read a dataset's commit records with and without their compaction (DESIGN.md 3.2).

Contestants, each writing the same `--episodes` canonical episodes (`--frames` frames, the test cameras 96x128 and
64x80) through the same writer: `local` (a folder) and `bucket` (a scratch folder, each commit published by
`adapters.storage.publish.DatasetPublisher` to SeaweedFS's `weed server -s3` on loopback, then the job's end: meta and
compaction). The bucket's extra cost is reported as the seconds spent publishing (the `on_commit` hook and `finish`)
and the bytes put. Record reads: `--records` records committed through `CommitLog` (one small object each), then
`CommitLog.records()` timed from a fresh log, before and after `compact()`. The server is on this machine, so the
figures are the protocol's cost (requests, signing, hashing), not a network's. Each cell: the median of `--reps`.

    python -m benchmarks.bucket_output [--episodes 20] [--frames 30] [--records 500] [--reps 3] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from adapters.storage.commit_log import CommitLog
from adapters.storage.objects import list_keys
from adapters.storage.publish import DatasetPublisher
from adapters.storage.root import Root
from adapters.storage.urls import filesystem
from benchmarks._cli import parse_args
from benchmarks._machine import log, wait_quiet
from ingest.lerobot.writer import LeRobotWriter
from tests.fixtures.episodes import canonical_frames, canonical_test_features


def write(root: Path, episodes: int, frames: int, publisher: DatasetPublisher | None) -> dict[str, float]:
    publish_s = 0.0

    def timed(journal: dict[str, Any]) -> None:
        nonlocal publish_s
        t = time.perf_counter()
        assert publisher is not None
        publisher.on_commit(journal)
        publish_s += time.perf_counter() - t

    t0 = time.perf_counter()
    with LeRobotWriter.create(root, fps=10, features=canonical_test_features(), robot_type="franka") as w:
        w.on_commit = timed if publisher is not None else None
        for ep in range(episodes):
            with w.episode(task=f"task {ep % 3}") as b:
                for frame in canonical_frames(frames, seed=ep):
                    b.add_frame(frame)
    if publisher is not None:
        t = time.perf_counter()
        publisher.finish()
        publish_s += time.perf_counter() - t
    return {"s": time.perf_counter() - t0, "publish_s": publish_s}


def record_reads(root: Root, records: int, reps: int) -> dict[str, float]:
    log_ = CommitLog(root)
    for i in range(records):
        log_.commit(f"g{i}", {f"data/{i:06d}.bin": log_.stage(f"data/{i:06d}.bin", b"x" * 64)}, {"i": i})

    def timed() -> float:
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            assert len(CommitLog(root).records()) == records
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    one_by_one = timed()
    log_.compact()
    return {"records": records, "one_by_one_s": round(one_by_one, 4), "compacted_s": round(timed(), 4)}


def main() -> None:
    from tests.s3.server import s3_server

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--records", type=int, default=500)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quiet-wait", type=float, default=60.0, help="wait up to this long for a quiet machine")
    args = parse_args(
        ap, {"episodes": 2, "frames": 5, "records": 3, "reps": 1, "quiet_wait": 0.0}, "two short episodes"
    )
    runs: dict[str, list[dict[str, float]]] = {"local": [], "bucket": []}
    with (
        tempfile.TemporaryDirectory(prefix="eidata-bench-bucket-") as tmp,
        s3_server(Path(tmp) / "weed", ("bench",)) as server,
    ):
        fs, _ = filesystem("s3://", server.options())
        write(Path(tmp) / "warm-up", 1, 2, None)  # imports, the encoder's first open: paid by neither contestant
        quiet = wait_quiet(0.5, args.quiet_wait)
        for rep in range(args.reps):  # the contestants alternate, so a load change hits both
            runs["local"].append(write(Path(tmp) / f"local-{rep}", args.episodes, args.frames, None))
            scratch = Path(tmp) / f"scratch-{rep}"
            pub = DatasetPublisher(Root(f"s3://bench/run-{rep}/datasets/demo/default", server.options()), scratch)
            runs["bucket"].append(write(scratch, args.episodes, args.frames, pub))
            shutil.rmtree(Path(tmp) / f"local-{rep}")
            log(f"rep {rep}: local {runs['local'][-1]['s']:.2f} s, bucket {runs['bucket'][-1]['s']:.2f} s")
        put = sum(fs.info(k)["size"] for k in list_keys(fs, "bench/run-0/datasets"))
        reads = record_reads(Root("s3://bench/records", server.options()), args.records, max(args.reps, 1))
    cells = {
        name: {
            "s": round(statistics.median(r["s"] for r in rs), 3),
            "publish_s": round(statistics.median(r["publish_s"] for r in rs), 3),
            "s_per_episode": round(statistics.median(r["s"] for r in rs) / args.episodes, 4),
        }
        for name, rs in runs.items()
    }
    log(f"records read: {reads}")
    out = {
        "benchmark": "bucket_output",
        "episodes": args.episodes,
        "frames": args.frames,
        "reps": args.reps,
        **quiet,
        "loadavg_1m_after": os.getloadavg()[0],
        "contestants": cells,
        "bucket_bytes_put_per_run": put,
        "record_reads": reads,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
