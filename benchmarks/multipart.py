"""One large object into a bucket: a single conditional PUT against a multipart upload completed with
`If-None-Match: *` (adapters/storage/multipart.py, DESIGN.md 3.2), side by side in one run.

Contestants, each creating a new key with the bytes of the same local file of `--mb` MB (random bytes: nothing to
compress) on SeaweedFS's `weed server -s3` on loopback: `single_put` (the file read whole, one `PutObject` with
`If-None-Match: *`: the path of objects at or below the threshold), `parts` (`put_file_if_absent`: `--part-mb` parts,
`--concurrency` in flight, hashed as read) and `parts_serial` (the same, one part at a time). The server shares this
machine, so the figures are the protocol's and the server's cost, not a network's. Each cell: the median of `--reps`,
the contestants alternating; then, untimed, the peak of Python's allocations (tracemalloc) while each puts it.

    python -m benchmarks.multipart [--mb 200] [--part-mb 64] [--concurrency 4] [--reps 3] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from adapters.storage.multipart import PartPlan, put_file_if_absent
from adapters.storage.objects import put_if_absent
from adapters.storage.urls import filesystem
from benchmarks._cli import parse_args
from benchmarks._machine import log, wait_quiet

MB = 1_000_000
MIB = 1 << 20


def main() -> None:
    from tests.s3.server import s3_server

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=200, help="object size in MB")
    ap.add_argument("--part-mb", type=int, default=64, help="part size in MiB (S3: 5 to 5120)")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quiet-wait", type=float, default=60.0, help="wait up to this long for a quiet machine")
    args = parse_args(ap, {"mb": 12, "part_mb": 5, "reps": 1, "quiet_wait": 0.0}, "a 12 MB object in 5 MiB parts")
    part = args.part_mb * MIB
    plans = {
        "parts": PartPlan(threshold=part, part_size=part, concurrency=args.concurrency),
        "parts_serial": PartPlan(threshold=part, part_size=part, concurrency=1),
    }
    times: dict[str, list[float]] = {"single_put": [], **{name: [] for name in plans}}
    with (
        tempfile.TemporaryDirectory(prefix="eidata-bench-multipart-") as tmp,
        # 64 MB volumes; a deleted object's space is not reclaimed at once, so every put of every rep needs room
        s3_server(
            Path(tmp) / "weed", ("bench",), max_volumes=20 + 2 * len(times) * (args.reps + 1) * args.mb // 64
        ) as server,
    ):
        fs, _ = filesystem("s3://", server.options())
        src = Path(tmp) / "object.bin"
        src.write_bytes(os.urandom(args.mb * MB))
        size = src.stat().st_size
        put_if_absent(fs, "bench/warm-up", b"x")  # the client's connection and signing set up: paid by none
        quiet = wait_quiet(0.5, args.quiet_wait)

        def create(name: str, rep: int | str) -> None:
            key = f"bench/{name}-{rep}.bin"
            if name == "single_put":
                assert put_if_absent(fs, key, src.read_bytes())
            else:
                assert put_file_if_absent(fs, key, src, plans[name], claim=f"bench/claims/{name}-{rep}")[0]
            assert fs.info(key)["size"] == size
            fs.rm_file(key)

        for rep in range(args.reps):
            for name in times:
                t = time.perf_counter()
                create(name, rep)
                times[name].append(time.perf_counter() - t)
            log(f"rep {rep}: " + ", ".join(f"{n} {ts[-1]:.2f} s" for n, ts in times.items()))
        peak: dict[str, int] = {}
        for name in times:  # untimed: Python's allocations at their peak while one object is put (bodies included)
            tracemalloc.start()
            create(name, "memory")
            peak[name] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    cells = {
        name: {
            "s": round(statistics.median(ts), 3),
            "mb_per_s": round(size / MB / statistics.median(ts), 1),
            "runs_s": [round(t, 2) for t in ts],
            "peak_python_mb": round(peak[name] / MB, 1),
        }
        for name, ts in times.items()
    }
    out = {
        "benchmark": "multipart",
        "bytes": size,
        "part_bytes": part,
        "concurrency": args.concurrency,
        "reps": args.reps,
        **quiet,
        "loadavg_1m_after": os.getloadavg()[0],
        "contestants": cells,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
