"""The rerun benchmark's instrumented `eidata ingest SPEC`: run as `python -c <this file's text> SPEC OUT.json` from the
root of the checkout under test (so `-c` puts that checkout first on sys.path), it times the job's phases and writes
them to OUT.json, then exits as the CLI does.

A phase is one call of a named function (`TARGETS`: the job's entry point and the steps inside it). Each is wrapped
when its module is first imported (an import hook), so nothing is imported earlier than the job itself imports it, and
a `from module import name` made later binds the wrapper. A name a checkout does not have is simply not timed.
"""

from __future__ import annotations

import importlib.abc
import json
import sys
import time
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

T0 = time.time()  # the first line of Python that runs: before it, the interpreter's own start

TARGETS: dict[str, dict[str, str]] = {  # module -> {function (or Class.method): phase}
    "jobs.spec": {"load_spec": "spec load"},
    "jobs.runtime.ray_pool": {"init_ray": "Ray start"},
    "jobs.runtime.shared_fs": {"check_shared_output": "shared-fs check"},
    "jobs.runtime.job_lock": {"JobLock.__init__": "job lock"},
    "jobs.ingest.resume": {"settled": "nothing-to-do check (no Ray)"},
    "jobs.ingest.settled": {"settled": "nothing-to-do check (no Ray)"},  # where a `--before` checkout has it
    "jobs.ingest.discovery": {"discover_all": "discovery (Ray tasks)", "discover_source": "discovery: one source"},
    "jobs.ingest.commit": {"Committer.close": "committer close"},
    "jobs.catalog.build": {"rebuild_catalog": "catalog rebuild"},
    "ray": {"shutdown": "Ray shutdown"},
}
marks: list[tuple[str, float, float]] = []


def _timed(phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.time()
        try:
            return fn(*args, **kwargs)
        finally:
            marks.append((phase, t, time.time()))

    wrapper.__wrapped__ = fn
    return wrapper


def _patch(module: ModuleType) -> None:
    for dotted, phase in TARGETS.get(module.__name__, {}).items():
        owner, _, name = dotted.rpartition(".")
        obj = getattr(module, owner) if owner else module
        if hasattr(obj, name):
            setattr(obj, name, _timed(phase, getattr(obj, name)))


class _Hook(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader of a module named in `TARGETS` so the module is patched once loaded."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> ModuleSpec | None:
        if name not in TARGETS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                run = spec.loader.exec_module

                def exec_module(module: ModuleType, run: Callable[[ModuleType], None] = run) -> None:
                    run(module)
                    _patch(module)

                spec.loader.exec_module = exec_module
                return spec
        return None


def main() -> None:
    spec, out = sys.argv[1], sys.argv[2]
    sys.meta_path.insert(0, _Hook())
    import jobs.cli

    module, _, func = jobs.cli.COMMANDS["ingest"].run.partition(":")
    TARGETS.setdefault(module, {})[func] = "job"
    code = 1
    try:
        code = jobs.cli.main(["ingest", spec])
    finally:
        t_end = time.time()
        with open(out, "w") as f:
            json.dump({"t0": T0, "t_end": t_end, "code": code, "marks": marks}, f)
    sys.exit(code)


if __name__ == "__main__":
    main()
