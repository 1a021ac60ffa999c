"""`eidata --help` and each command's `--help` answer a newcomer: every option says what it does, the export names
every format it writes, the query names its views, and no text speaks of the project's issue numbers or of a Python
argument (`overwrite=True`) where a flag is meant. The flags themselves are frozen by test_cli_surface; this reads
their words."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

from jobs.catalog.views import VIEWS
from jobs.cli import build_parser

INTERNAL = re.compile(r"\bissues? \d+|\w=(True|False)\b")


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _texts() -> Iterator[tuple[str, str]]:
    """(where, text) of every help text `eidata ... --help` shows."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for choice in sub._choices_actions:
        yield f"eidata --help: {choice.dest}", choice.help or ""
    for name, parser in _commands().items():
        for group in parser._action_groups:
            yield f"eidata {name}: group {group.title}", group.description or ""
        for a in parser._actions:
            yield f"eidata {name} {'/'.join(a.option_strings) or a.dest}", a.help or ""


def test_every_option_says_what_it_does() -> None:
    silent = [
        f"eidata {name} {'/'.join(a.option_strings) or a.dest}"
        for name, parser in _commands().items()
        for a in parser._actions
        if not (a.help or "").strip()
    ]
    assert silent == []


def test_no_help_speaks_of_issues_or_python_arguments() -> None:
    assert [f"{where}: {text}" for where, text in _texts() if INTERNAL.search(text)] == []


def test_the_command_list_names_every_export_format_and_query_view() -> None:
    top = dict((w.removeprefix("eidata --help: "), t) for w, t in _texts() if w.startswith("eidata --help: "))
    assert all(f in top["export"] for f in ("LeRobot v3.0", "v2.1", "GR00T", "LingBot-VA")), top["export"]
    assert all(v in top["query"] for v in VIEWS) and "--describe" in top["query"]
    sql = next(a for a in _commands()["query"]._actions if a.dest == "sql")
    assert all(v in sql.help for v in VIEWS)
    manifest = next(a for a in _commands()["export"]._actions if a.dest == "manifest")
    assert "NAME in ROOT" in manifest.help and "folder's path, as `eidata train --manifest` takes it" in manifest.help
