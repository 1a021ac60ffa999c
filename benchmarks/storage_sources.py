"""Each source of `make demo`'s raw corpus read from local disk and from an S3 bucket, side by side in one run:
discovery plus every episode read and every camera frame decoded, as an ingest task does; seconds, and for the
bucket what the store sent against what the readers used (bytes read per byte used) and how many ranged GETs.

The server is SeaweedFS's `weed server -s3` on loopback (tests/s3/server.py), so the bucket column measures the
protocol's cost (requests, signing, block caches), not a network. The corpus is `jobs/demo/corpus.write_raw_corpus`
at `--scale` (its files are small: most are read whole in one 1 MiB block; large-file reads are in
benchmarks/storage.py). Listing requests and the small metadata files an adapter reads whole (JSON, CSV, jsonl)
are not metered: the figures are for the files opened through `adapters/storage/location.py`. Each cell is the
median of `--reps` timed runs after one untimed run.

Then the ingest job itself (`jobs.ingest.job.run_ingest`, embedded Ray, `--num-cpus`) on the same sources, once with
every root the local folder and once the bucket URL (credential in the spec's `storage:`), alternating, `--ingest-reps`
times each: wall seconds, and whether the two corpora's dataset files are identical but the lineage's `raw_path`.

    python -m benchmarks.storage_sources [--scale 2] [--reps 3] [--ingest-reps 2] [--sources bridge lerobot ...]
        [--smoke]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from adapters import get_adapter
from adapters.base import AdapterError
from adapters.storage.location import Location, locate
from adapters.storage.reads import ReadMeter
from adapters.storage.urls import filesystem
from benchmarks._cli import parse_args
from benchmarks._machine import log, wait_quiet
from jobs.demo.corpus import ADAPTERS, OPTIONS, SOURCES, write_demo_spec, write_raw_corpus
from schemas.storage import StorageOptions

NAMES = tuple(s for s in SOURCES if s != "so101")  # so101 is a dataset inside the lerobot source


def ingest_reads(name: str, root: Location, storage: StorageOptions | None = None) -> tuple[int, int]:
    """Discover `root` and read every episode as a task does, decoding every frame; (episodes read, frames).
    `storage`: the store's options for a URL root."""
    adapter = get_adapter(ADAPTERS[name], OPTIONS.get(name), storage)
    episodes = frames = 0
    for ref in sorted(adapter.discover(root), key=lambda r: r.sort_key):
        try:
            raw = adapter.read(ref)
            for camera in raw.cameras.values():
                frames += sum(1 for _ in camera.frames())
        except AdapterError:
            continue  # the demo's corrupt episode of each source
        episodes += 1
    return episodes, frames


def measure(name: str, root: Location, reps: int, storage: StorageOptions | None = None) -> dict[str, Any]:
    times: list[float] = []
    meter, counts = ReadMeter(), (0, 0)
    for i in range(reps + 1):
        with Location.metering() as run:
            t0 = time.perf_counter()
            counts = ingest_reads(name, root, storage)
            if i:
                times.append(time.perf_counter() - t0)
        meter = run
    out: dict[str, Any] = {"s": round(statistics.median(times), 4), "episodes": counts[0], "frames": counts[1]}
    if meter.size:
        ratio = meter.fetched / meter.used if meter.used else float("inf")
        out |= {**dataclasses.asdict(meter), "fetched_per_used": round(ratio, 3)}
    return out


def _dataset_files(out: Path, swap: tuple[bytes, bytes] | None) -> dict[str, bytes]:
    files = {
        p.relative_to(out).as_posix(): p.read_bytes() for p in sorted((out / "datasets").rglob("*")) if p.is_file()
    }
    if swap is not None:  # the lineage names the URL it read: compared as the local path
        files = {k: v.replace(*swap) if k.endswith("meta/episodes.jsonl") else v for k, v in files.items()}
    return files


def ingest_both(tmp: Path, raw: Path, roots: dict[str, Path], server: Any, reps: int, num_cpus: int) -> dict[str, Any]:
    """The ingest job from local roots and from bucket URLs, alternating; wall seconds (median) and file identity."""
    from jobs.ingest.job import run_ingest
    from jobs.spec import load_spec

    storage = {
        "endpoint_url": server.endpoint,
        "access_key_id": server.access_key,
        "secret_access_key": server.secret_key,
    }
    times: dict[str, list[float]] = {"local": [], "s3": []}
    for _ in range(reps):
        for kind in times:
            out = tmp / f"out_{kind}"
            shutil.rmtree(out, ignore_errors=True)
            spec_path = write_demo_spec(tmp / f"{kind}.yaml", roots, out, num_cpus=num_cpus)
            if kind == "s3":
                doc = yaml.safe_load(spec_path.read_text())
                for src in doc["sources"]:
                    src["root"] = f"s3://bench/{Path(src['root']).relative_to(raw.resolve()).as_posix()}"
                    src["storage"] = dict(storage)  # a copy each: one shared dict would be dumped as a YAML alias
                spec_path.write_text(yaml.safe_dump(doc, sort_keys=False))
            t0 = time.perf_counter()
            run_ingest(load_spec(spec_path), progress=False)
            times[kind].append(time.perf_counter() - t0)
            log(f"ingest from {kind}: {times[kind][-1]:.1f} s")
    same = _dataset_files(tmp / "out_local", None) == _dataset_files(
        tmp / "out_s3", (b"s3://bench", str(raw.resolve()).encode())
    )
    return {kind: round(statistics.median(t), 2) for kind, t in times.items()} | {"identical_datasets": same}


def main() -> None:
    from tests.s3.server import s3_server

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=int, default=2, help="write_raw_corpus scale (episodes per source)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--sources", nargs="+", default=list(NAMES), choices=NAMES)
    ap.add_argument("--ingest-reps", type=int, default=2, help="ingest jobs per side (0: none)")
    ap.add_argument("--num-cpus", type=int, default=2, help="the ingest job's embedded Ray CPUs")
    ap.add_argument("--quiet-wait", type=float, default=60.0, help="wait up to this long for a quiet machine")
    args = parse_args(
        ap,
        {"scale": 1, "reps": 1, "ingest_reps": 1, "sources": ["bridge", "lerobot"], "quiet_wait": 0.0},
        "two sources, one rep, one ingest each way",
    )
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="eidata-bench-sources-") as tmp:
        raw = Path(tmp) / "raw"
        wanted = [*args.sources, *(["so101"] if "lerobot" in args.sources else [])]
        roots = write_raw_corpus(raw, scale=args.scale, sources=wanted)
        with s3_server(Path(tmp) / "weed", ("bench",)) as server:
            s3, _ = filesystem("s3://", server.options())
            for f in sorted(p for p in raw.rglob("*") if p.is_file()):
                s3.put_file(str(f), f"bench/{f.relative_to(raw).as_posix()}")
            quiet = wait_quiet(0.5, args.quiet_wait)
            for name in args.sources:
                root = roots[name]
                size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
                row = {"source": name, "bytes_under_root": size, "local": measure(name, root, args.reps)}
                url = locate(f"s3://bench/{root.relative_to(raw).as_posix()}", server.options())
                row["s3"] = cell = measure(name, url, args.reps, server.options())
                log(
                    f"{name:14s} local {row['local']['s']:.3f} s  s3 {cell['s']:.3f} s  episodes {cell['episodes']} "
                    f"frames {cell['frames']}  fetched/used {cell.get('fetched_per_used', 0):.2f}  "
                    f"requests {cell.get('requests', 0)}"
                )
                rows.append(row)
            picked = {k: v for k, v in roots.items() if k in args.sources}
            reps = args.ingest_reps
            ingest = ingest_both(Path(tmp), raw, picked, server, reps, args.num_cpus) if reps else {}
    load = {"loadavg_1m_after": os.getloadavg()[0]}
    head = {"benchmark": "storage_sources", "scale": args.scale, "reps": args.reps, "ingest_reps": args.ingest_reps}
    print(json.dumps({**head, **quiet, **load, "rows": rows, "ingest": ingest}))


if __name__ == "__main__":
    main()
