"""The `eidata` command line: one entry point for every job."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _cmd_demo(args: argparse.Namespace) -> int:
    from jobs.demo_pipeline import run_pipeline_demo

    return run_pipeline_demo(Path(args.out), scale=args.scale)


def _cmd_ingest(args: argparse.Namespace) -> int:
    from jobs.ingest import cli_ingest

    return cli_ingest(args)


def _cmd_catalog(args: argparse.Namespace) -> int:
    from jobs.catalog import cli_catalog

    return cli_catalog(args)


def _cmd_query(args: argparse.Namespace) -> int:
    from jobs.query import cli_query

    return cli_query(args)


def _cmd_curate(args: argparse.Namespace) -> int:
    from jobs.curate import cli_curate

    return cli_curate(args)


def _cmd_inspect(args: argparse.Namespace) -> int:
    from schemas.dataset_meta import DatasetMeta

    meta = DatasetMeta.load(Path(args.root))
    print(meta.summary())
    return 1 if any(q.severity == "error" for q in meta.quirks) else 0


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

    inspect = sub.add_parser("inspect", help="summarize a LeRobot dataset's meta and report its quirks")
    inspect.add_argument("root", help="dataset folder (holding meta/info.json)")
    inspect.set_defaults(func=_cmd_inspect)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
