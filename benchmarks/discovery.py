"""Driver memory of discovery at corpus scale: `eidata ingest` on 1,000,000 discovered episodes, next to the old
driver-side work list on the same sources.

The sources use `SyntheticRefs`, an adapter (named by import path, as a team's own adapter would be) that yields
`--episodes` refs cheaply, split over `--sources` sources; all but `--todo` of them are already done (a quarantine
part of an earlier run lists them), and reading a remaining one fails at once, so those are quarantined: the run
measures discovery, the done set and the scheduler's stream, not ingest work. Each contestant runs in its own
process, whose peak RSS (VmHWM) is reported:

- **job**: `jobs.ingest.job.run_ingest` (embedded Ray): per-source discovery tasks write sorted work files, DuckDB drops
  the done uids, the driver streams what is left;
- **old**: what the driver held before streaming: every source's refs discovered and sorted in the driver
  (`jobs.ingest.discovery.discover`, the old code kept for small corpora), the done uids read into a Python set, the
  todo list.

    python -m benchmarks.discovery [--episodes 1000000] [--sources 4] [--todo 200] [--no-old] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from adapters.base import AdapterOptions, EpisodeRef, RawEpisode
from adapters.source_adapter import SourceAdapter
from benchmarks._cli import parse_args
from benchmarks._machine import ROOT, log, peak_rss_mb, rss_mb

SUBSETS = 10


class SyntheticRefsOptions(AdapterOptions):
    count: int = 1000
    first: int = 0  # raw ids first .. first + count - 1


class SyntheticRefs(SourceAdapter):
    """`count` refs over `SUBSETS` subsets, made on the fly; reading one fails (quarantined at once)."""

    name = "synthetic_refs"
    options_model = SyntheticRefsOptions

    def discover(self, root: Path) -> Iterator[EpisodeRef]:
        o = self.options
        for i in range(o.first, o.first + o.count):
            yield EpisodeRef(
                adapter=self.name,
                source="synthetic",
                subset=f"s{i % SUBSETS}",
                raw_id=f"ep{i:08d}",
                paths=(f"{root}/ep{i:08d}",),
            )

    def read(self, ref: EpisodeRef) -> RawEpisode:
        raise self.error("synthetic episode: nothing to read", episode=ref.raw_id, file=ref.paths[0])


def _spec(tmp: Path, episodes: int, sources: int) -> dict[str, Any]:
    (tmp / "raw").mkdir(exist_ok=True)
    per = episodes // sources
    srcs = [
        {
            "name": f"src{k}",
            "adapter": "benchmarks.discovery:SyntheticRefs",
            "root": str(tmp / "raw"),
            "options": {"count": per, "first": k * per},
        }
        for k in range(sources)
    ]
    return {"output": str(tmp / "corpus"), "sources": srcs, "parallelism": {"num_cpus": 2, "max_in_flight": 2}}


def _done_part(spec: dict[str, Any], todo: int) -> int:
    """An earlier run's quarantine part listing every uid but the first `todo` of each source (in sorted order)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from schemas.corpus import QUARANTINE_DIR, QUARANTINE_SCHEMA, episode_uid

    out = Path(spec["output"]) / QUARANTINE_DIR
    out.mkdir(parents=True, exist_ok=True)
    per_source_todo = max(1, todo // len(spec["sources"]))
    n = 0
    for k, s in enumerate(spec["sources"]):
        first, count = s["options"]["first"], s["options"]["count"]
        ids = sorted((f"s{i % SUBSETS}", f"ep{i:08d}") for i in range(first, first + count))[per_source_todo:]
        uids = [episode_uid(s["name"], sub, rid) for sub, rid in ids]
        n += len(uids)
        cols = {f.name: pa.nulls(len(uids), f.type) for f in QUARANTINE_SCHEMA}
        cols.update(
            episode_uid=pa.array(uids),
            source=pa.array([s["name"]] * len(uids)),
            subset=pa.array([sub for sub, _ in ids]),
            adapter=pa.array([s["adapter"]] * len(uids)),
            raw_path=pa.array(["x"] * len(uids)),
            stage=pa.array(["read"] * len(uids)),
            error_class=pa.array(["AdapterError"] * len(uids)),
            message=pa.array(["earlier run"] * len(uids)),
            quarantined_at=pa.array([0] * len(uids), pa.timestamp("us", tz="UTC")),
        )
        table = pa.table([cols[f.name].cast(f.type) for f in QUARANTINE_SCHEMA], schema=QUARANTINE_SCHEMA)
        pq.write_table(table, out / f"earlier-{k:05d}.parquet")
    return n


def child(kind: str, spec_json: dict[str, Any]) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from jobs.catalog.parts import parquet_files
    from jobs.ingest.job import run_ingest
    from jobs.spec_models import JobSpec
    from schemas.corpus import QUARANTINE_DIR
    from tests.fixtures.discovery import discover

    spec = JobSpec.model_validate(spec_json)
    base = rss_mb()
    t0, cpu0 = time.perf_counter(), time.process_time()
    if kind == "job":
        report = run_ingest(spec, progress=False)
        out = {"skipped": report.skipped, "quarantined": report.quarantined}
    else:
        items, _ = discover(spec)
        done: set[str] = set()
        for part in parquet_files(spec.output, QUARANTINE_DIR):
            done.update(pq.read_table(part, columns=["episode_uid"]).column("episode_uid").to_pylist())
        todo = [it for it in items if it.uid not in done]
        out = {"skipped": len(items) - len(todo), "todo": len(todo)}
    return {
        "contestant": kind,
        "seconds": round(time.perf_counter() - t0, 1),
        "driver_cpu_s": round(time.process_time() - cpu0, 1),
        "rss_mb_after_imports": round(base),
        "driver_peak_rss_mb": round(peak_rss_mb()),
        **out,
    }


def _run_child(kind: str, spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    cmd = [sys.executable, "-m", "benchmarks.discovery", "--child", kind, "--spec-json", json.dumps(spec)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        return {"contestant": kind, "failed": proc.returncode, "stderr": proc.stderr[-1500:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=1_000_000)
    parser.add_argument("--sources", type=int, default=4)
    parser.add_argument("--todo", type=int, default=200, help="episodes not done yet (quarantined at once)")
    parser.add_argument("--no-old", action="store_true", help="skip the old driver-side work list")
    parser.add_argument("--timeout", type=float, default=3000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--spec-json", help=argparse.SUPPRESS)
    args = parse_args(parser, {"episodes": 5_000, "todo": 4, "timeout": 200}, "5,000 refs")
    if args.child:
        print(json.dumps(child(args.child, json.loads(args.spec_json))))
        return
    tmp = Path(tempfile.mkdtemp(prefix="eidata-discovery-"))
    try:
        spec = _spec(tmp, args.episodes, args.sources)
        done = _done_part(spec, args.todo)
        log(f"{args.episodes} refs over {args.sources} sources, {done} done by an earlier run")
        runs = []
        for kind in ([] if args.no_old else ["old"]) + ["job"]:  # old first: the job writes the quarantine
            log(f"{kind} ...")
            runs.append(_run_child(kind, spec, args.timeout))
            log(f"  {json.dumps(runs[-1])}")
        print(
            json.dumps(
                {
                    "benchmark": "discovery",
                    "episodes": args.episodes,
                    "sources": args.sources,
                    "done_before": done,
                    "runs": runs,
                }
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
