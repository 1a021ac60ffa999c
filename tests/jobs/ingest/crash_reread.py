"""`python -m tests.jobs.ingest.crash_reread POINT ARGS...`: `eidata ARGS` (an ingest with `--reread`, a removal) with
this process SIGKILLed at POINT of the re-read (`jobs.ingest.reread`), never by timing (a removal reaches only
`mid-catalog`):

- `after-read`: the nested ingest of the source committed, the intent just moved on to the swap;
- `mid-swap`: the old datasets moved aside (a bucket's: deleted), the new ones not yet (all) in their place;
- `mid-rows`: the re-read's quarantine parts copied in, the source's older rows not yet dropped;
- `after-rows`: the rows replaced, the catalog not yet rebuilt;
- `mid-catalog`: the catalog's rebuild begun.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import jobs.ingest.reread as reread
from adapters.storage.root import Root
from schemas.corpus import DATASETS_DIR


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(point: str) -> None:
    if point in ("after-read", "after-rows"):
        phase = {"after-read": "swap", "after-rows": "catalog"}[point]
        write = reread.write_intent

        def written(corpus: Any, rel: str, intent: dict[str, Any]) -> None:
            write(corpus, rel, intent)
            if any(e.get("phase") == phase for e in intent.get("sources", {}).values()):
                _die()

        reread.write_intent = written  # type: ignore[assignment]
    elif point == "mid-swap":
        rename = Path.rename

        def renamed(self: Path, target: Any) -> Any:
            out = rename(self, target)
            if str(target).endswith(".retired"):
                _die()
            return out

        Path.rename = renamed  # type: ignore[method-assign]
        copy = Root.copy

        def copied_in(self: Root, rel: str, to: str) -> None:  # a bucket's: the first object copied in
            copy(self, rel, to)
            if to.startswith(f"{DATASETS_DIR}/"):
                _die()

        Root.copy = copied_in  # type: ignore[method-assign]
    elif point == "mid-rows":
        atomic = reread.write_parquet_atomic

        def part(table: Any, path: Path) -> Any:
            out = atomic(table, path)
            if path.name.startswith("reread-"):
                _die()
            return out

        reread.write_parquet_atomic = part  # type: ignore[assignment]
    elif point == "mid-catalog":
        import jobs.catalog.build as build

        build.rebuild_catalog = lambda *a, **k: _die()  # type: ignore[assignment]
    else:
        raise SystemExit(f"unknown point {point}")


if __name__ == "__main__":
    arm(sys.argv[1])
    import jobs.cli

    sys.exit(jobs.cli.main(sys.argv[2:]))
