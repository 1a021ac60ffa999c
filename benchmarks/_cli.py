"""What every benchmark shares: the flag `--smoke`, a run of seconds at tiny sizes that checks it runs, nothing more;
and its exit when the environment fails it (a Ray that does not start, a full disk): one line and 75, as every
`eidata` command (`jobs.cli`), never a traceback and 1, so a machine's failure is not read as the benchmark's
(issue 97 item 5: `test_benchmark_runs[ingest]` failed at load 15-60 on Ray's start)."""

from __future__ import annotations

import argparse
import sys
from types import TracebackType
from typing import Any


def parse_args(parser: argparse.ArgumentParser, smoke: dict[str, Any], what: str) -> argparse.Namespace:
    """`parser`'s arguments plus `--smoke`, which overrides them with `smoke` (`what` says what it then runs); from
    here on an error of the environment that ends the benchmark ends it with one line and 75 (`environment_exit`)."""
    parser.add_argument("--smoke", action="store_true", help=f"{what}: runs in seconds, measures nothing")
    args = parser.parse_args()
    if args.smoke:
        vars(args).update(smoke)
    sys.excepthook = environment_exit
    return args


def environment_exit(kind: type[BaseException], e: BaseException, tb: TracebackType | None) -> None:
    """An error that ends the benchmark: the environment's (`schemas.faults.environment_fault`) said in one line,
    the process ended with 75 (`EXIT_ENVIRONMENT`); any other, its traceback as Python prints it (exit 1). Imported
    here: a benchmark that times its imports (latents' model part) imports none of the job's modules."""
    from jobs.runtime.exits import finish_process
    from jobs.runtime.retry import EXIT_ENVIRONMENT
    from schemas.faults import environment_fault

    cause = environment_fault(e)
    if cause is None:
        sys.__excepthook__(kind, e, tb)
        return
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    name = spec.name if spec is not None else "benchmark"
    print(f"{name}: the environment failed, not the benchmark (rerun once it is fixed): {cause}", file=sys.stderr)
    finish_process(EXIT_ENVIRONMENT)
