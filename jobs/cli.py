"""The `eidata` command line: one entry point for every job."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _cmd_demo(args: argparse.Namespace) -> int:
    from jobs.demo.pipeline import run_pipeline_demo

    return run_pipeline_demo(Path(args.out), scale=args.scale)


def _cmd_ingest(args: argparse.Namespace) -> int:
    from jobs.ingest import cli_ingest

    return cli_ingest(args)


def _cmd_latents(args: argparse.Namespace) -> int:
    from jobs.stages.latents import cli_latents

    return cli_latents(args)


def _cmd_caption(args: argparse.Namespace) -> int:
    from jobs.stages.caption import cli_caption

    return cli_caption(args)


def _cmd_text_embed(args: argparse.Namespace) -> int:
    from jobs.stages.text_embed import cli_text_embed

    return cli_text_embed(args)


def _cmd_catalog(args: argparse.Namespace) -> int:
    from jobs.catalog.build import cli_catalog

    return cli_catalog(args)


def _cmd_query(args: argparse.Namespace) -> int:
    from jobs.catalog.query import cli_query

    return cli_query(args)


def _cmd_curate(args: argparse.Namespace) -> int:
    from jobs.catalog.curate import cli_curate

    return cli_curate(args)


def _cmd_train(args: argparse.Namespace) -> int:
    from jobs.train import cli_train

    return cli_train(args)


def _cmd_eval(args: argparse.Namespace) -> int:
    from jobs.train import cli_eval

    return cli_eval(args)


def _cmd_inspect(args: argparse.Namespace) -> int:
    from schemas.dataset_meta import DatasetMeta

    meta = DatasetMeta.load(Path(args.root))
    print(meta.summary())
    return 1 if any(q.severity == "error" for q in meta.quirks) else 0


def _cmd_export(args: argparse.Namespace) -> int:
    from jobs.export import cli_export

    return cli_export(args)


def _cmd_validate(args: argparse.Namespace) -> int:
    from jobs.validate import cli_validate

    return cli_validate(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from jobs.report.page import cli_report

    return cli_report(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="eidata", description="Ingest and curate embodied-AI corpora (LeRobot v2.1).")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="generate a multi-source raw corpus, ingest it, query it, curate a manifest")
    demo.add_argument("--out", default="demo_out", help="working folder (default: demo_out)")
    demo.add_argument("--scale", type=int, default=1, help="multiplies the number of episodes per source")
    demo.set_defaults(func=_cmd_demo)

    ingest = sub.add_parser("ingest", help="run a job spec: read, canonicalize and write every source on Ray")
    ingest.add_argument("spec", help="job spec (YAML)")
    ingest.add_argument("--address", default=None, help="an existing Ray cluster (default: embedded Ray)")
    ingest.add_argument("--strict", action="store_true", help="any quarantined episode fails the job (exit 1)")
    ingest.set_defaults(func=_cmd_ingest)

    lat = sub.add_parser("latents", help="DINOv3 patch latents of every episode that lacks them (Ray, GPU actors)")
    lat.add_argument("root", help="corpus folder")
    lat.add_argument("--model", default=None, help="local DINOv3 ViT weights folder (config.json + model.safetensors)")
    lat.add_argument("--random-init", action="store_true", dest="random_init",
                     help="FOR TESTS/BENCHMARKS ONLY: random-weight ViT-S/16 instead of --model")  # fmt: skip
    lat.add_argument("--rate", type=float, default=3.0, help="latent frames per second (default: 3)")
    lat.add_argument("--camera", default="main",
                     help="'main' (head, else third_person, wrist_right, wrist_left, else the first camera), "
                          "'all', or comma-separated camera names (default: main)")  # fmt: skip
    lat.add_argument("--dtype", choices=["bfloat16", "float16"], default="bfloat16", help="stored dtype")
    lat.add_argument("--batch", type=int, default=256, help="frames per forward pass (default: 256)")
    lat.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto", help="auto: cuda when Ray has GPUs")
    lat.add_argument("--actors", type=int, default=None, help="encoder actors (default: one per GPU, 1 on CPU)")
    lat.add_argument("--num-cpus", type=int, default=None, dest="num_cpus", help="embedded Ray's CPUs")
    lat.add_argument("--compile", choices=["auto", "on", "off"], default="auto",
                     help="torch.compile the encoder with static shapes (default auto: on CUDA)")  # fmt: skip
    lat.add_argument("--overwrite", action="store_true", help="recompute latents that exist")
    lat.add_argument("--address", default=None, help="an existing Ray cluster (default: embedded Ray)")
    lat.set_defaults(func=_cmd_latents)

    cap = sub.add_parser("caption", help="one imperative instruction per episode: Qwen3-VL on Ray actors, else rules")
    cap.add_argument("root", help="corpus folder")
    cap.add_argument("--model", default=None, help="local Qwen3-VL folder (default: rule-based captions, text only)")
    cap.add_argument("--camera", default=None, help="camera shown to the VLM (default: head, else the first camera)")
    cap.add_argument("--frames", type=int, default=4, help="frames per episode shown to the VLM (default: 4)")
    cap.add_argument("--max-pixels", type=int, default=448 * 448, dest="max_pixels", help="pixel budget per frame")
    cap.add_argument("--batch", type=int, default=8, help="episodes per model call (default: 8)")
    cap.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto", help="auto: cuda when Ray has GPUs")
    cap.add_argument("--actors", type=int, default=None, help="VLM actors (default: one per GPU, 1 on CPU)")
    cap.add_argument("--num-cpus", type=int, default=None, dest="num_cpus", help="embedded Ray's CPUs")
    cap.add_argument("--force", "--recaption", action="store_true", dest="force",
                     help="redo episodes this model (or, without --model, the rules) captioned already")  # fmt: skip
    cap.add_argument("--text-embeddings", action="store_true", dest="text_embeddings",
                     help="then embed every task with the same model, as `eidata text-embed`")  # fmt: skip
    cap.add_argument("--layer", type=int, default=-1, help="hidden-state index for --text-embeddings (default: -1)")
    cap.add_argument("--address", default=None, help="an existing Ray cluster (default: embedded Ray)")
    cap.set_defaults(func=_cmd_caption)

    emb = sub.add_parser("text-embed", help="VLM hidden states of every task text into latents/text/ (Ray actors)")
    emb.add_argument("root", help="corpus folder")
    emb.add_argument("--model", default=None, help="local Qwen3-VL folder (required)")
    emb.add_argument("--layer", type=int, default=-1, help="hidden-state index: 0 embeddings, -1 last (default: -1)")
    emb.add_argument("--dtype", choices=["bfloat16", "float16"], default="bfloat16", help="stored dtype")
    emb.add_argument("--batch", type=int, default=64, help="texts per model call (default: 64)")
    emb.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto", help="auto: cuda when Ray has GPUs")
    emb.add_argument("--actors", type=int, default=None, help="model actors (default: one per GPU, 1 on CPU)")
    emb.add_argument("--num-cpus", type=int, default=None, dest="num_cpus", help="embedded Ray's CPUs")
    emb.add_argument("--force", action="store_true", help="recompute embeddings that are up to date")
    emb.add_argument("--address", default=None, help="an existing Ray cluster (default: embedded Ray)")
    emb.set_defaults(func=_cmd_text_embed)

    catalog = sub.add_parser("catalog", help="rebuild catalog/episodes from the datasets' meta")
    catalog.add_argument("root", help="corpus folder")
    catalog.add_argument("--rehash", action="store_true", help="re-read every file instead of trusting size+mtime")
    catalog.set_defaults(func=_cmd_catalog)

    query = sub.add_parser("query", help="run SQL (DuckDB) over the views `episodes` and `quarantine`")
    query.add_argument("root", help="corpus folder")
    query.add_argument("sql")
    query.add_argument("--format", choices=["table", "csv", "json"], default="table")
    query.set_defaults(func=_cmd_query)

    curate = sub.add_parser("curate", help="turn a SQL selection over the catalog into manifests/NAME/")
    curate.add_argument("root", help="corpus folder")
    curate.add_argument("--name", required=True)
    curate.add_argument("--where", required=True, help="SQL condition over the `episodes` view")
    curate.add_argument("--balance", choices=["none", "source", "subset"], default="none")
    curate.add_argument("--val-fraction", type=float, default=0.05, dest="val_fraction")
    curate.add_argument("--routing", default=None, help="routing table JSON (default: uniform over allowed tasks)")
    curate.add_argument("--overwrite", action="store_true")
    curate.set_defaults(func=_cmd_curate)

    from jobs.train import add_eval_arguments, add_train_arguments  # light: pydantic configs, no torch

    train = sub.add_parser("train", help="train the LDA MM-DiT on a manifest (torchrun -m jobs.cli train for DDP)")
    add_train_arguments(train)
    train.set_defaults(func=_cmd_train)

    evaluate = sub.add_parser("eval", help="open-loop action L1/MSE and future-latent cosine of a checkpoint")
    add_eval_arguments(evaluate)
    evaluate.set_defaults(func=_cmd_eval)

    inspect = sub.add_parser("inspect", help="summarize a LeRobot dataset's meta and report its quirks")
    inspect.add_argument("root", help="dataset folder (holding meta/info.json)")
    inspect.set_defaults(func=_cmd_inspect)

    export = sub.add_parser("export", help="write another model family's view of a corpus (gr00t: meta/modality.json)")
    export.add_argument("root", help="corpus folder")
    export.add_argument("--format", required=True, help="gr00t | lingbot-va | lerobot-v3")
    export.add_argument("--out", default=None, help="output folder, for formats that write a new dataset")
    export.add_argument("--dry-run", action="store_true", dest="dry_run", help="check and print, write nothing")
    lb = export.add_argument_group("lingbot-va", "LeRobot datasets + Wan2.2 latents for LingBot-VA post-training (Ray)")
    lb.add_argument("--vae", default=None, help="local Wan2.2 VAE folder (diffusers AutoencoderKLWan; required)")
    lb.add_argument("--text-encoder", default=None, dest="text_encoder", help="local UMT5 encoder folder (required)")
    lb.add_argument("--tokenizer", default=None, help="tokenizer folder (default: in or beside the text encoder)")
    lb.add_argument("--fps", type=int, default=5, help="latent sampling fps; divides the dataset's (default: 5)")
    lb.add_argument("--size", default="256x256", help="frame size HxW, multiples of 16 (default: 256x256)")
    lb.add_argument("--text-len", type=int, default=512, dest="text_len", help="text_emb rows (default: 512)")
    lb.add_argument("--cameras", nargs="+", default=None, help="video keys or short names (default: all)")
    lb.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto", help="auto: cuda when Ray has GPUs")
    lb.add_argument("--actors", type=int, default=None, help="encoder actors (default: one per GPU, 1 on CPU)")
    lb.add_argument("--num-cpus", type=int, default=None, dest="num_cpus", help="embedded Ray's CPUs")
    lb.add_argument("--max-in-flight", type=int, default=4, dest="max_in_flight", help="episodes at once (memory)")
    lb.add_argument("--address", default=None, help="an existing Ray cluster (default: embedded Ray)")
    v3 = export.add_argument_group("lerobot-v3", "LeRobot v3.0 datasets for lerobot >= 0.4 (--cameras: as above)")
    v3.add_argument("--manifest", default=None, help="export this manifest's episodes as ONE dataset OUT/NAME")
    v3.add_argument("--data-file-size-mb", type=int, default=None, dest="data_file_size_mb",
                    help="data parquet file size limit (default: lerobot's 100)")  # fmt: skip
    v3.add_argument("--video-file-size-mb", type=int, default=None, dest="video_file_size_mb",
                    help="video file size limit (default: lerobot's 200)")  # fmt: skip
    export.set_defaults(func=_cmd_export)

    validate = sub.add_parser("validate", help="report what a loader would trip on in a LeRobot v2.0/v2.1/v3.0 dataset")
    validate.add_argument("path", help="dataset folder (meta/info.json), or a folder of datasets")
    validate.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")
    validate.add_argument("--no-data", action="store_true", dest="no_data", help="meta and file presence only")
    validate.add_argument("--json", action="store_true", help="machine-readable report")
    validate.set_defaults(func=_cmd_validate)

    report = sub.add_parser("report", help="one self-contained HTML page of plots about a corpus")
    report.add_argument("root", help="corpus folder (with a catalog)")
    report.add_argument("--out", default=None, help="HTML file (default: ROOT/report.html)")
    report.set_defaults(func=_cmd_report)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
