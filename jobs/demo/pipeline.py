"""`make demo` / `eidata demo`: a multi-source raw corpus in real formats -> `eidata ingest` on embedded Ray ->
rule-based captions -> catalog queries -> a curated manifest -> an HTML report, printing what each step did."""

from __future__ import annotations

import argparse
import inspect
import shutil
import time
from pathlib import Path

from jobs.catalog.curate import curate
from jobs.catalog.query import format_table, run_query
from jobs.demo.corpus import SOURCES, write_demo_spec, write_raw_corpus
from jobs.ingest.job import run_ingest
from jobs.report.page import build_report
from jobs.runtime.options import Arg
from jobs.spec import load_spec
from jobs.stages.caption import CaptionJob, run_caption

# Frames stored at the size the DINOv3 latents and LDA consume, letterboxed like LLaVA's expand2square
TRAINING_SIZE = {"size": "224x224", "fit": "pad"}

QUERIES = {
    "hours by source x tier": "SELECT source, tier, count(*) AS episodes, round(sum(duration_s) / 3600, 4) AS hours "
    "FROM episodes GROUP BY ALL ORDER BY ALL",
    "embodiments and actions": "SELECT source, subset, embodiment, tier, count(*) AS episodes, "
    "count(*) FILTER (WHERE has_action) AS with_action FROM episodes GROUP BY ALL ORDER BY ALL",
    "episodes with hands": "SELECT source, subset, episode_index, num_frames, task FROM episodes "
    "WHERE has_hands ORDER BY ALL",
    "quarantine reasons": "SELECT source, stage, error_class, left(message, 80) AS reason FROM quarantine ORDER BY ALL",
    "captions that differ from their task": "SELECT source, task, caption FROM episodes WHERE caption <> task "
    "ORDER BY ALL",
}


def run_pipeline_demo(out: Path, scale: int = 1) -> int:
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    print(f"1. writing a raw corpus in the sources' own formats under {out / 'raw'} (one corrupt episode each)")
    roots = write_raw_corpus(out / "raw", scale=scale, sources=SOURCES)
    for name, root in roots.items():
        print(f"   {name:13s} {root}")
    print(f"   {'':13s} + so101_pick beside franka_cube: an SO-101 in joint space (lerobot v3.0), hands by FK")
    spec_path = write_demo_spec(out / "job.yaml", roots, out / "corpus", image=TRAINING_SIZE)
    print(f"2. eidata ingest {spec_path}  (embedded Ray)")
    report = run_ingest(load_spec(spec_path))
    print(report.table())
    print(
        f"\n2b. eidata caption {out / 'corpus'}  (no --model: the rule-based normalizer; a Qwen3-VL folder gives "
        "VLM captions)"
    )
    print(run_caption(CaptionJob(root=out / "corpus"), progress=False).summary())
    for title, sql in QUERIES.items():
        print(f"\n3. eidata query {out / 'corpus'}  -- {title}")
        print(format_table(run_query(out / "corpus", sql), "table"))
    manifest = curate(out / "corpus", "demo_train", "tier <> 'actionless'", balance="subset", val_fraction=0.2)
    print(f"\n4. eidata curate --name demo_train --where \"tier <> 'actionless'\" --balance subset -> {manifest}")
    report_path = build_report(out / "corpus", out / "report.html")
    print(f"\n5. eidata report {out / 'corpus'} --out {report_path}  (open it in a browser)")
    print(f"\ndone in {time.perf_counter() - t0:.1f} s; corpus at {out / 'corpus'}")
    return 0


# `eidata demo`: the scale's default is run_pipeline_demo's own
OPTIONS = (
    Arg(("--out",), {"default": "demo_out", "help": "working folder"}),
    Arg(
        ("--scale",),
        {
            "type": int,
            "default": inspect.signature(run_pipeline_demo).parameters["scale"].default,
            "help": "multiplies the number of episodes per source",
        },
    ),
)


def cli_demo(args: argparse.Namespace) -> int:
    return run_pipeline_demo(Path(args.out), scale=args.scale)
