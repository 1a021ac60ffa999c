"""The `eidata` command line: one entry point for every job, parse -> build -> run.

`COMMANDS` is the table of subcommands (`commands.toml`). A job's options are generated from its typed model
(`jobs.runtime.options`: flag, default, type, choices and help come from the model's `Field`), so each option is
defined once, beside the model it sets; a command without a model lists argparse's own arguments in the table. A
command's options are imported only when that command is parsed (a stage module may import torch). The surface is
frozen by tests/jobs/test_cli_surface.
"""

from __future__ import annotations

import argparse
import faulthandler
import importlib
import logging
import os
import signal
import sys
import tomllib
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from adapters.hostile import limits, watcher
from ingest.progress import STACKS_AFTER_S, stacks_when_quiet
from jobs.runtime import exits, stops
from jobs.runtime.options import Arg, Opt, add_options
from schemas import settings
from schemas.spelling import did_you_mean, unknown

SETTINGS = Arg("--settings", metavar="TOML", help="a file of settings (schemas/settings.py); every command takes it")


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
        for o in [*map(_load, _load(self.options)), SETTINGS]:
            if isinstance(o, Group):
                add_options(parser.add_argument_group(o.title, o.description), _load(o.options))
            else:
                add_options(parser, [o])


def _load(ref: Any) -> Any:
    if not isinstance(ref, str):
        return ref
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def _options(value: str | list[str | dict[str, Any]]) -> str | list[str | Arg | Group]:
    """A command's options in `commands.toml`: a "module:NAME", or a list of those, groups and argparse arguments."""
    if isinstance(value, str):
        return value
    out: list[str | Arg | Group] = []
    for item in value:
        if isinstance(item, str):
            out.append(item)
        elif "group" in item:
            out.append(Group(item["group"], item["description"], item["options"]))
        else:
            kwargs = dict(item)
            out.append(Arg(*kwargs.pop("flags"), **kwargs))
    return out


def load_commands() -> dict[str, Command]:
    """The table of subcommands (`jobs/commands.toml`), in its order; a key `Command` has not is a TypeError."""
    table = tomllib.loads(resources.files("jobs").joinpath("commands.toml").read_text(encoding="utf-8"))
    return {name: Command(**{**c, "options": _options(c.get("options", []))}) for name, c in table.items()}


COMMANDS = load_commands()
EXIT_BROKEN_PIPE = 141  # as a shell reports a command SIGPIPE ended (128 + 13): its output was cut off by its reader


def cli_inspect(args: argparse.Namespace) -> int:
    """A dataset's meta as ingest reads it (the LeRobot adapter: v2.0, v2.1 and v3.0 natively), then its quirks: the
    same findings `validate` reports (`jobs.validate.dataset_quirks`); exit 1 when one is an error. Its bytes are
    parsed in a process of its own under `--memory-mib` (`adapters.hostile.sandbox`)."""
    from adapters.hostile.sandbox import Killed, answer
    from jobs.spec_models import memory_mib

    try:
        mib = memory_mib(args.memory_mib)
    except ValueError as e:
        return exits.fail(2, f"eidata inspect: {e}")
    try:
        summary, errors = answer(_inspected, args.root, mib=mib, what="eidata inspect")
    except (ValueError, OSError, Killed) as e:  # no info.json, one that is not LeRobot's, an unreadable meta file
        return exits.fail(1, f"eidata inspect: {e}")
    print(summary)
    return 1 if errors else 0


def _inspected(root: str) -> tuple[str, bool]:
    """In the parse process: the summary, and whether a quirk is an error."""
    from pathlib import Path

    from adapters.lerobot.adapter import LeRobotSource
    from adapters.storage.root import Root
    from jobs.validate import dataset_quirks
    from schemas.dataset_summary import dataset_summary

    ds = LeRobotSource({}).dataset(Root(root).location())
    quirks = dataset_quirks(ds)
    frames = sum(loc.length for loc in ds.episodes.values())
    summary = dataset_summary(Path(root).name, ds.info, len(ds.episodes), frames, len(ds.tasks), quirks)
    return summary, any(q.severity == "error" for q in quirks)


def _dry(args: argparse.Namespace) -> AbstractContextManager[None]:
    """A `--dry-run` command runs with its corpus and output folders refusing writes (`jobs.runtime.dry_run`)."""
    if not getattr(args, "dry_run", False):
        return nullcontext()
    from adapters.storage.root import Root
    from jobs.runtime.dry_run import refusing_writes

    return refusing_writes(Root.local_folders(getattr(args, a, None) for a in ("root", "out")))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every subcommand; with `only`, the options of that one alone (the others' modules are not imported)."""
    p = argparse.ArgumentParser(prog="eidata", description="Ingest and curate embodied-AI corpora (LeRobot v2.1).")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--version", action="version", version=f"eidata {_version()}")
    p.add_argument(
        "--stacks-after-s",
        type=_seconds,
        default=STACKS_AFTER_S,
        metavar="S",
        help="print every thread's stack once the command has shown no progress for S seconds, and again every S"
        " seconds while it shows none (0: never)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        parser = sub.add_parser(name, help=command.help)
        if only is None or only == name:
            command.add_to(parser)
    return p


def _seconds(text: str) -> float:
    """A number of seconds, 0 or more (argparse says the flag and the value when it is not one)."""
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError(text)
    return value


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("eidata")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def parse(argv: list[str]) -> argparse.Namespace:
    """The command line's arguments. A command's positionals may come after its flags (`query ROOT --unrestricted
    SQL`): argparse fills every optional positional at the first one it meets, so what is left is read again by the
    command's own parser, flags and positionals intermixed; what is still left is refused by name (exit 2)."""
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command or "")
    if command is not None and command not in COMMANDS:
        parser.error(unknown("command", command, COMMANDS))
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    own = sub.choices[command] if command is not None else parser
    if typos := _mistyped(own, argv[argv.index(command) + 1 :] if command is not None else argv):
        own.error(typos)  # before argparse's own checks, which would name a required option the typo hides
    args, extra = parser.parse_known_args(argv)
    if not extra:
        return args
    if command not in COMMANDS:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    rest = own.parse_intermixed_args(argv[argv.index(command) + 1 :])
    return argparse.Namespace(**{**vars(args), **vars(rest)})


def _mistyped(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """The `--options` of `argv` that `parser` has no option for (nor one they abbreviate), each with the closest
    option it has; None when there are none."""
    options = [s for action in parser._actions for s in action.option_strings]
    typed = [a.split("=")[0] for a in argv if a.startswith("--") and a != "--"]
    wrong = [t for t in typed if not any(o.startswith(t) for o in options)]
    if not wrong:
        return None
    return "unrecognized arguments: " + "; ".join(
        f"{t} ({did_you_mean(t, options, listing='its options')})" for t in wrong
    )


def main(argv: list[str] | None = None) -> int:
    """`eidata ARGV`'s exit status; without `argv` it is this process's own command line, watched by its watcher
    (`adapters.hostile.watcher`: a stop ends it whatever it waits in, and nothing it started is left), and the process
    ends once the command has (`exits.exit_process`, `exits.finish_process`)."""
    if argv is not None:
        return _command(list(argv))
    watched(next((a for a in sys.argv[1:] if not a.startswith("-")), "eidata"))
    status = _command(sys.argv[1:], own_process=True)
    exits.finish_process(status)


def watched(command: str) -> None:
    """This process watched from now on as its own `command`: its watcher started, the stacks it asks for before a
    kill printed on SIGUSR1, a stop before the command is armed said as any other (`stops.hold`). Under cgroup v2 the
    command first moves into a leaf of its own (`limits.home`), so its watcher and all it starts are there from the
    start (a process it started, asked first, would find the command in its cgroup and fall back)."""
    if sys.platform == "linux":
        watcher.start(cgroup=limits.command_cgroup())
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    stops.hold(f"eidata {command}")


def _command(argv: list[str], own_process: bool = False) -> int:
    args = parse(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if own_process:  # the stacks of a command quiet for long (ingest.progress)
        stacks_when_quiet(args.stacks_after_s)
    try:
        text = None if args.settings is None else Path(args.settings).read_text(encoding="utf-8")
        settings.use(settings.load(text, args.settings))  # refused naming the field before the command starts
    except OSError as e:
        return exits.fail(2, f"eidata {args.command}: {args.settings}: {e}")
    except ValueError as e:
        return exits.fail(2, f"eidata {args.command}: {e}")
    try:
        with stops.armed(), _dry(args):  # SIGTERM and Ctrl-C: one line and 143 / 130 (jobs.runtime.stops)
            status = int(_load(COMMANDS[args.command].run)(args))
            sys.stdout.flush()  # here, not at exit: a reader gone (`| head`) is the branch below, not a traceback
            return status
    except BrokenPipeError:  # the reader of stdout has gone: what it read is what it wanted; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the interpreter's last flush goes nowhere
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt as e:  # a `Stopped`, or the KeyboardInterrupt an extension raised in its place
        return _stopped(args.command, stops.stopped(e) or stops.Stopped(signal.SIGINT), own_process)
    except Exception as e:  # a full disk, a store that stopped answering: one line and 75, never a traceback
        from jobs.runtime.retry import EXIT_ENVIRONMENT, EnvironmentFaultError
        from schemas.faults import environment_fault

        if (stop := stops.stopped(e)) is not None:  # an error raised over a stop (a C call's SystemError): the stop
            return _stopped(args.command, stop, own_process)
        if (cause := environment_fault(e)) is None:
            raise
        return exits.fail(EXIT_ENVIRONMENT, f"eidata {args.command}: {EnvironmentFaultError(args.command, cause)}")


def _stopped(command: str, stop: stops.Stopped, own_process: bool) -> int:
    """The stop said in one line; its status, or, for the process's own command line, the process ended with it."""
    print(stops.message(f"eidata {command}", stop), file=sys.stderr)
    if own_process:
        exits.exit_process(stop.status)
    return stop.status


if __name__ == "__main__":
    main()
