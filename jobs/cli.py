"""The `eidata` command line: one entry point for every job, parse -> build -> run.

`COMMANDS` is the table of subcommands. A job's options are generated from its typed model (`jobs.runtime.options`:
flag, default, type, choices and help come from the model's `Field`), so each option is defined once, beside the
model it sets; a command without a model lists argparse's own arguments here. A command's options are imported only
when that command is parsed (a stage module may import torch). The surface is frozen by tests/jobs/test_cli_surface.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jobs.runtime import stops
from jobs.runtime.options import Arg, Opt, add_options
from jobs.runtime.stage import ADDRESS

ROOT = Arg(("root",), {"help": "corpus folder"})


@dataclass(frozen=True)
class Group:
    """Options shown under their own heading in `--help` (an export format's)."""

    title: str
    description: str
    options: str | Sequence[Opt | Arg]


@dataclass(frozen=True)
class Command:
    help: str
    run: str  # "module:function", called with the parsed arguments, returns the exit status
    # "module:NAME" where the job model's options are declared; an item may be one too (an option of a model that
    # is imported only when this command is parsed)
    options: str | Sequence[Opt | Arg | Group | str] = ()

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        for o in map(_load, _load(self.options)):
            if isinstance(o, Group):
                add_options(parser.add_argument_group(o.title, o.description), _load(o.options))
            else:
                add_options(parser, [o])


def _load(ref: Any) -> Any:
    if not isinstance(ref, str):
        return ref
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


COMMANDS: dict[str, Command] = {
    "demo": Command(
        "generate a multi-source raw corpus, ingest it, query it, curate a manifest",
        "jobs.demo.pipeline:cli_demo",
        "jobs.demo.pipeline:OPTIONS",
    ),
    "ingest": Command(
        "run a job spec: read, canonicalize and write every source on Ray",
        "jobs.ingest.job:cli_ingest",
        (
            Arg(("spec",), {"help": "job spec (YAML)"}),
            ADDRESS,
            "jobs.spec_models:STRICT",
            Arg(
                ("--retry-quarantined",),
                {
                    "action": "store_true",
                    "help": "do again the episodes quarantined for the environment's fault (a task that passed its"
                    " deadline on every attempt; a full disk or a store outage recorded by a run before issue 38)",
                },
            ),
        ),
    ),
    "latents": Command(
        "DINOv3 patch latents of every episode that lacks them (Ray, GPU actors)",
        "jobs.stages.latents:STAGE",
        "jobs.stages.latents:OPTIONS",
    ),
    "caption": Command(
        "one imperative instruction per episode: Qwen3-VL on Ray actors, else rules",
        "jobs.stages.caption:STAGE",
        "jobs.stages.caption:OPTIONS",
    ),
    "text-embed": Command(
        "VLM hidden states of every task text into latents/text/ (Ray actors)",
        "jobs.stages.text_embed:STAGE",
        "jobs.stages.text_embed:OPTIONS",
    ),
    "catalog": Command(
        "rebuild catalog/episodes from the datasets' meta",
        "jobs.catalog.build:cli_catalog",
        (
            ROOT,
            Arg(("--rehash",), {"action": "store_true", "help": "re-read every file instead of trusting size+mtime"}),
        ),
    ),
    "verdicts": Command(
        "judge what needs the whole corpus (copies, dead dims) into the episodes' lineage and the catalog",
        "jobs.verdicts.step:STAGE",
        "jobs.verdicts.step:OPTIONS",
    ),
    "query": Command(
        "run SQL (DuckDB) over the catalog views: episodes, quarantine, findings, verdicts, source_findings",
        "jobs.catalog.query:cli_query",
        "jobs.catalog.query:OPTIONS",
    ),
    "curate": Command(
        "turn a SQL selection over the catalog into manifests/NAME/",
        "jobs.catalog.curate:cli_curate",
        "jobs.catalog.curate:OPTIONS",
    ),
    "train": Command(
        "train the LDA MM-DiT on a manifest (torchrun -m jobs.cli train for DDP)",
        "jobs.train:cli_train",
        "jobs.train:TRAIN_OPTIONS",
    ),
    "eval": Command(
        "open-loop action L1/MSE and future-latent cosine of a checkpoint",
        "jobs.train:cli_eval",
        "jobs.train:EVAL_OPTIONS",
    ),
    "inspect": Command(
        "summarize a LeRobot dataset's meta and report its quirks",
        "jobs.cli:cli_inspect",
        (Arg(("root",), {"help": "dataset folder (holding meta/info.json)"}),),
    ),
    "export": Command(
        "write another model family's view of a corpus (gr00t: meta/modality.json)",
        "jobs.export:cli_export",
        (
            ROOT,
            Arg(("--format",), {"required": True, "help": "gr00t | lingbot-va | lerobot-v3 | lerobot-v21"}),
            Arg(("--out",), {"default": None, "help": "output folder, for formats that write a new dataset"}),
            Arg(("--dry-run",), {"action": "store_true", "help": "check and print, write nothing"}),
            Group(
                "lingbot-va",
                "LeRobot datasets + Wan2.2 latents for LingBot-VA post-training (Ray)",
                "jobs.export.lingbot.job:OPTIONS",
            ),
            Group(
                "lerobot-v3, lerobot-v21",
                "LeRobot v3.0 (lerobot >= 0.4) or v2.1 (lerobot 0.3.3, LDA, openpi) datasets (--cameras: as above)",
                "jobs.export.lerobot_v3.job:OPTIONS",
            ),
        ),
    ),
    "validate": Command(
        "report what a loader would trip on in a LeRobot v2.0/v2.1/v3.0 dataset",
        "jobs.validate:cli_validate",
        (
            Arg(("path",), {"help": "dataset folder (meta/info.json), or a folder of datasets"}),
            Arg(("--strict",), {"action": "store_true", "help": "warnings fail too (exit 1)"}),
            Arg(("--no-data",), {"action": "store_true", "help": "meta and file presence only"}),
            Arg(("--json",), {"action": "store_true", "help": "machine-readable report"}),
        ),
    ),
    "report": Command(
        "one self-contained HTML page of plots about a corpus",
        "jobs.report.page:cli_report",
        (
            Arg(("root",), {"help": "corpus folder (with a catalog)"}),
            Arg(("--out",), {"default": None, "help": "HTML file (default: ROOT/report.html)"}),
        ),
    ),
}


def cli_inspect(args: argparse.Namespace) -> int:
    from pathlib import Path

    from schemas.dataset_meta import DatasetMeta

    meta = DatasetMeta.load(Path(args.root))
    print(meta.summary())
    return 1 if any(q.severity == "error" for q in meta.quirks) else 0


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every subcommand; with `only`, the options of that one alone (the others' modules are not imported)."""
    p = argparse.ArgumentParser(prog="eidata", description="Ingest and curate embodied-AI corpora (LeRobot v2.1).")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        parser = sub.add_parser(name, help=command.help)
        if only is None or only == name:
            command.add_to(parser)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command or "").parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        with stops.armed():  # SIGTERM and Ctrl-C end the command with one line and 143 / 130 (jobs.runtime.stops)
            return int(_load(COMMANDS[args.command].run)(args))
    except stops.Stopped as e:
        print(stops.message(f"eidata {args.command}", e), file=sys.stderr)
        return e.status


if __name__ == "__main__":
    sys.exit(main())
