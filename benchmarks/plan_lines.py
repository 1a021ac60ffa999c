"""Issue 99: what a plan reads of the catalog (`adapters.storage.plan_lines.catalog_lines`: every episode's
`plan_line` and `native_moves`) at a million episodes, where no corpus of that size fits this machine.

The catalog of a real corpus (command_surface's, replicated real samples) is tiled to N rows: each tile a copy of
its rows with the datasets renamed (`<dataset>_t<k>`, as `benchmarks._replicate` names copies) and the uids made
new, sorted and written by the rebuild's own writer (`jobs.catalog.parts`: its row groups, zstd), with the columns
`catalog_lines` reads alone (it skips the others' column chunks). Then, in a fresh process, `catalog_lines` of every
episode of every dataset (an every-episode manifest's plan, train's index or a gr00t description of the whole
corpus) is timed, with its CPU and peak RSS (VmHWM). What a plan reads per dataset (its info.json, tasks.jsonl; the
census's marks) is not in it: benchmarks/COMMAND_SURFACE.md measures it at 10k.

    nice -n 10 .venv/bin/python -m benchmarks.plan_lines CORPUS --episodes 1000000 [--out DIR]
    .venv/bin/python -m benchmarks.plan_lines --smoke  # the training tests' small catalog tiled to 40: measures nothing
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks._cli import parse_args
from benchmarks._machine import ROOT, log

READ = """import json, sys, time
from pathlib import Path
from adapters.storage.plan_lines import catalog_lines
t0, c0 = time.perf_counter(), time.process_time()
found = catalog_lines(Path(sys.argv[1]), None)
print(json.dumps({"seconds": round(time.perf_counter() - t0, 2), "cpu_s": round(time.process_time() - c0, 2),
    "episodes": sum(map(len, found.values())), "datasets": len(found),
    "peak_rss_mib": round(int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]) / 1024)}))"""


def tiled(catalog: pa.Table, episodes: int) -> pa.Table:
    """`catalog` copied until it holds `episodes` rows, each copy's datasets and uids its own."""
    tiles, k = [], 0
    while sum(t.num_rows for t in tiles) < episodes:
        t = catalog
        for col in ("dataset", "episode_uid"):
            renamed = pc.binary_join_element_wise(t[col], pa.scalar(f"_t{k}"), "")
            t = t.set_column(t.schema.get_field_index(col), col, renamed)
        tiles.append(t)
        k += 1
    return pa.concat_tables(tiles).slice(0, episodes)


def main() -> None:
    from adapters.storage.plan_lines import COLUMNS
    from jobs.catalog.parts import parquet_files, write_parquet_atomic
    from schemas.corpus import EPISODES_DIR
    from tests.fixtures.corpus import sort_catalog

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", type=Path, nargs="?", help="a corpus with a catalog (command_surface's --out/corpus)")
    p.add_argument("--episodes", type=int, default=1_000_000)
    p.add_argument("--out", type=Path, default=None, help="where the tiled catalog is written (default: a temp dir)")
    args = parse_args(p, {"episodes": 40}, "a small catalog tiled to 40 rows")
    work = args.out or Path(tempfile.mkdtemp(prefix="eidata-plan-lines-"))
    try:
        corpus = args.corpus
        if args.smoke:
            from tests.training.corpus import build_corpus

            corpus = build_corpus(work / "small").parent.parent
        # the columns `catalog_lines` reads (a part's others are column chunks it skips): a 1M table fits memory
        parts = parquet_files(corpus, EPISODES_DIR)
        catalog = pa.concat_tables(pq.read_table(f, columns=COLUMNS) for f in parts)
        t0 = time.perf_counter()
        table = sort_catalog(tiled(catalog, args.episodes))
        (work / EPISODES_DIR).mkdir(parents=True, exist_ok=True)
        write_parquet_atomic(table, work / EPISODES_DIR / "part-00000.parquet")
        log(f"[plan_lines] {table.num_rows:,} rows written in {time.perf_counter() - t0:.1f} s")
        del table, catalog
        run = subprocess.run([sys.executable, "-c", READ, str(work)], cwd=ROOT, capture_output=True, text=True)
        if run.returncode:
            raise SystemExit(run.stderr)
        row = json.loads(run.stdout.strip().splitlines()[-1])
        row["parquet_mib"] = round((work / EPISODES_DIR / "part-00000.parquet").stat().st_size / 2**20, 1)
        row["writer_peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        log(f"[plan_lines] catalog_lines of every episode: {row}")
        print(json.dumps(row))
    finally:
        if args.out is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
