"""`python -m tests.jobs.verdicts.kill_child ROOT POINT`: `eidata verdicts ROOT` (through `jobs.cli.main`, as the
command runs) that SIGKILLs its own process at POINT, one of `POINTS`:

- `intent`: the intent recorded, nothing written yet (`jobs.runtime.intent.CatalogIntent.begin`);
- `journal`: the first dataset's meta update journaled on disk, not applied (`LeRobotWriter._apply`, the writer
  crash tests' seam; the next open of the dataset replays it);
- `lineage`: every lineage written, the catalog not rebuilt (the review's 2a, 2.2 s);
- `rebuild`: the new catalog built beside the old one, not swapped in (`jobs.catalog.build._build`);
- `done`: the catalog rebuilt, the intent not yet removed.

With no POINT it runs to its end. A kill is the process's own SIGKILL: no handler, no `finally` runs.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

POINTS = ("intent", "journal", "lineage", "rebuild", "done")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _after(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*a: Any, **kw: Any) -> Any:
        out = fn(*a, **kw)
        _die()
        return out

    return wrapped


def arm(point: str) -> None:
    import jobs.catalog.build as build
    import jobs.runtime.stage as stage
    from ingest.lerobot.writer import LeRobotWriter
    from jobs.runtime.intent import CatalogIntent

    if point == "intent":
        begin = CatalogIntent.begin.__func__  # type: ignore[attr-defined]
        CatalogIntent.begin = classmethod(_after(begin))  # type: ignore[method-assign]
    elif point == "journal":
        LeRobotWriter._apply = lambda self, journal: _die()  # type: ignore[method-assign]
    elif point == "lineage":
        refresh = stage.refresh_catalog

        def killed(*a: Any, **kw: Any) -> Any:
            _die()
            return refresh(*a, **kw)

        stage.refresh_catalog = killed  # type: ignore[assignment]
    elif point == "rebuild":
        build._build = _after(build._build)  # type: ignore[assignment]
    elif point == "done":
        CatalogIntent.done = lambda self: _die()  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown point {point!r}; known: {POINTS}")


if __name__ == "__main__":
    if len(sys.argv) > 2:
        arm(sys.argv[2])
    from jobs.cli import main

    sys.exit(main(["verdicts", sys.argv[1]]))
