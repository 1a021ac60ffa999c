"""`make demo` / `eidata demo`: a multi-source raw corpus in real formats -> `eidata ingest` on embedded Ray ->
rule-based captions -> corpus-level verdicts -> catalog queries -> a curated manifest -> an HTML report, printing
what each step did."""

from __future__ import annotations

import argparse
import inspect
import shutil
import time
from pathlib import Path

from adapters.storage.corpus import Corpus
from jobs.catalog.curate import curate
from jobs.catalog.query import format_table, run_query
from jobs.demo.corpus import SOURCES, placed_spec, write_demo_spec, write_raw_corpus
from jobs.ingest.job import run_ingest
from jobs.report.command import write_report
from jobs.runtime.options import Arg
from jobs.spec import load_spec
from jobs.stages.caption import CaptionJob, CaptionStage
from jobs.verdicts.step import run_verdicts
from schemas.behaviour import BehaviourConfig
from schemas.storage import StorageOptions

# Frames stored at the size the DINOv3 latents and LDA consume, letterboxed like LLaVA's expand2square
TRAINING_SIZE = {"size": "224x224", "fit": "pad"}

QUERIES = {
    "hours by source x tier": "SELECT source, tier, count(*) AS episodes, round(sum(duration_s) / 3600, 4) AS hours "
    "FROM episodes GROUP BY ALL ORDER BY ALL",
    "embodiments and actions": "SELECT source, subset, embodiment, tier, count(*) AS episodes, "
    "count(*) FILTER (WHERE has_action) AS with_action FROM episodes GROUP BY ALL ORDER BY ALL",
    "episodes with hands": "SELECT source, subset, episode_index, num_frames, task FROM episodes "
    "WHERE has_hands ORDER BY ALL",
    "quarantine reasons": "SELECT source, stage, error_class, message FROM quarantine ORDER BY ALL",
    "captions that differ from their task": "SELECT source, task, caption FROM episodes WHERE caption <> task "
    "ORDER BY ALL",
}


def run_pipeline_demo(
    out: Path, scale: int = 1, bucket: str | None = None, storage: StorageOptions | None = None
) -> int:
    """The demo in `out`; with `bucket` (`s3://bucket/prefix`) its raw corpus and its corpus live in the bucket
    (`jobs.demo.corpus.placed_spec`), `storage` the store's options (None: the AWS environment)."""
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
    spec, corpus = load_spec(spec_path), out / "corpus"
    if bucket is not None:
        spec = placed_spec(spec, out / "raw", bucket, storage)
        corpus = spec.output
        print(f"   raw corpus uploaded under {bucket.rstrip('/')}/raw, output {corpus}")
    print(f"2. eidata ingest {spec_path}  (embedded Ray)")
    print(run_ingest(spec).table())
    print(
        f"\n2b. eidata caption {corpus}  (no --model: the rule-based normalizer; a Qwen3-VL folder gives VLM captions)"
    )
    # a bucket's corpus by its URL: the stage runs on its scratch under the output's lease and publishes its edits
    print(CaptionStage(CaptionJob(root=str(corpus))).run(progress=False, storage=storage).summary())
    print(f"\n2c. eidata verdicts {corpus}  (copies verified on the signals, dims dead against their dataset)")
    print(run_verdicts(str(corpus), BehaviourConfig(), options=storage).summary())
    with Corpus.read(corpus, storage) as readable:
        for title, sql in QUERIES.items():
            print(f"\n3. eidata query {corpus}  -- {title}")
            print(format_table(run_query(readable.root, sql), "table"))
    where = "tier <> 'actionless'"
    manifest = curate(corpus, "demo_train", where, balance="subset", val_fraction=0.2, options=storage)
    print(f'\n4. eidata curate --name demo_train --where "{where}" --balance subset -> {manifest}')
    with Corpus.read(corpus, storage, copy=True) as readable:  # the report reads files by path
        # and the pages of the first episodes it names (the default count; each other link names its command)
        report_path, links = write_report(readable.root, out / "report.html", corpus=str(corpus))
    print(f"\n5. eidata report {corpus} --out {report_path}  (open it in a browser; episode pages: {links.summary()})")
    print(f"\ndone in {time.perf_counter() - t0:.1f} s; corpus at {corpus}")
    return 0


# `eidata demo`: the scale's default is run_pipeline_demo's own
OPTIONS = (
    Arg("--out", default="demo_out", help="working folder"),
    Arg(
        "--scale",
        type=int,
        default=inspect.signature(run_pipeline_demo).parameters["scale"].default,
        help="multiplies the number of episodes per source",
    ),
    Arg(
        "--bucket",
        default=None,
        help="s3://bucket/prefix: upload the raw corpus there and write the corpus there (endpoint and "
        "credential from the AWS environment)",
    ),
)


def cli_demo(args: argparse.Namespace) -> int:
    return run_pipeline_demo(Path(args.out), scale=args.scale, bucket=args.bucket)
