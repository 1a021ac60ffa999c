"""The per-task memory limit for the commands that read a source's bytes outside ingest's workers (issue 67 item 3:
`eidata trace`, `validate` and `inspect` parsed without it, and a 30000x30000 JPEG or a 4e8-row parquet grew them past
2.6 GB). Every command runs whole under the limit, set at the command line's dispatch (`jobs.cli._run`), so no command
can forget it; one that cannot says why in `commands.toml` (`unbounded`), and the Ray it starts runs without the
command's limit (`memory_limit.lifted`: Ray's processes inherit the limit's bytes, not a share). A failure the limit
caused is said in one line naming the limit and the last source file opened, exit 1 (the input's fault, as ingest
quarantines such an episode), never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping

from adapters.hostile.memory_limit import DEFAULT_MIB, Limit, task_memory
from adapters.storage.declared import EVENT

ENV = "EIDATA_TASK_MEMORY_MIB"  # a command's own limit (an ingest's tasks: the spec's parallelism.task_memory_mib)
EXIT_LIMIT = 1  # the data's fault: what ingest quarantines (`jobs.ingest.worker.MEMORY_LIMIT`), not the environment's
RECENT = 16  # the files opened last, among which the culprit is the latest still a file
_opened: list[list[str]] = []  # per bounded block (innermost last): the files it opened for reading, latest last
_hooked = False
_NO_INPUT = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_DIRECTORY  # written, or a folder
# what a library opens for itself, never the input: the kernel's files, the system's data (a time zone a parquet's
# timestamps load: `report` of a 4e8-row parquet named /usr/share/zoneinfo/UTC), the interpreter's own
_LIBRARY = tuple({"/proc/", "/sys/", "/dev/", "/usr/", "/etc/", f"{sys.prefix}/", f"{sys.base_prefix}/"})


def _hook(event: str, args: tuple[object, ...]) -> None:
    """The files opened for reading: what the command writes is no input."""
    writes = event == "open" and len(args) > 2 and isinstance(args[2], int) and args[2] & _NO_INPUT
    path = args[0] if _opened and (event == EVENT or event == "open") and not writes else None
    if isinstance(path, str) and not path.startswith(_LIBRARY) and not path.endswith((".py", ".pyc")):
        recent = _opened[-1]
        recent.append(path)
        del recent[:-RECENT]


def command_mib(environ: Mapping[str, str] = os.environ) -> int:
    """A command's memory limit: `EIDATA_TASK_MEMORY_MIB` where set (a corpus of 100,000 episodes: `catalog` took
    711 MiB, benchmarks/COMMAND_SURFACE.md), else the default; a value that is not a whole number of at least 64 is
    refused naming the variable."""
    given = environ.get(ENV)
    if given is None:
        return DEFAULT_MIB
    if not given.strip().isdigit() or int(given) < 64:
        raise ValueError(f"{ENV}={given!r}: a whole number of MiB, at least 64")
    return int(given)


@contextlib.contextmanager
def bounded(mib: int | None = None) -> Iterator[Limit | None]:
    """The block under the per-task memory limit (`command_mib` unless `mib` is given), the files it opens followed
    (`refusal` names the last)."""
    global _hooked
    if not _hooked:
        _hooked = True
        sys.addaudithook(_hook)
    _opened.append([])
    try:
        with task_memory(command_mib() if mib is None else mib, ENV) as limit:
            yield limit
    finally:
        _opened.pop()


def last_opened() -> str | None:
    """The source file the bounded block opened last (the limit's culprit), None when none: the latest opened that
    is a file still (a cleanup after the failure walks folders, by names relative to a descriptor, and deletes)."""
    return next((p for p in reversed(_opened[-1]) if os.path.isfile(p)), None) if _opened else None


def refusal(command: str, limit: Limit | None, e: BaseException) -> str | None:
    """The one line `eidata COMMAND` says when the limit stopped it, None when `e` is not the limit's."""
    if limit is None or not limit.reached(e):
        return None
    return f"eidata {command}: {limit.explain(e, last_opened())}"
