"""The `eidata` command line: one entry point for every job."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _cmd_demo(args: argparse.Namespace) -> int:
    from jobs.demo import run_demo

    run_demo(Path(args.out), episodes=args.episodes, seed=args.seed)
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from schemas.dataset_meta import DatasetMeta

    meta = DatasetMeta.load(Path(args.root))
    print(meta.summary())
    return 1 if any(q.severity == "error" for q in meta.quirks) else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="eidata", description="Ingest and curate embodied-AI corpora (LeRobot v2.1).")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="write a small canonical dataset from generated episodes")
    demo.add_argument("--out", default="demo_out", help="output corpus folder (default: demo_out)")
    demo.add_argument("--episodes", type=int, default=6)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_cmd_demo)

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
