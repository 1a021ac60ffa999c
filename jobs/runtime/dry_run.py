"""A dry run writes nothing: the net under every command that takes `--dry-run`.

Each such command plans through handles that only read (an export's `PlanTree`, `adapters/storage/tree.py`); while it
runs with `--dry-run` (`jobs/cli.py`), a Python audit hook (PEP 578) also refuses every change of the file system under
its corpus and output folders with `DryRunWriteError` naming the path, so a command that forgets its dry run fails
loudly where it would have written. Writes from C through its own file handles (pyarrow's, FFmpeg's) pass under a hook:
tests/jobs/runtime/test_dry_run.py compares every `--dry-run` command's folders before and after.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from schemas.storage import DryRunWriteError

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# audit events that change the file system -> the positions of their path arguments
_CHANGES = {
    "os.mkdir": (0,),
    "os.rename": (0, 1),  # os.replace too
    "os.remove": (0,),  # os.unlink too
    "os.rmdir": (0,),
    "shutil.rmtree": (0,),
    "os.truncate": (0,),
    "os.link": (0, 1),
    "os.symlink": (1,),
    "os.utime": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
}
_guarded: list[str] = []  # absolute folders no write may touch now (one command at a time per process)
_lock = threading.Lock()
_installed = False


def _inside(path: Any) -> str | None:
    """The guarded folder `path` lies in, None when it is in none (or is not a path: a file descriptor)."""
    if isinstance(path, int) or path is None:
        return None
    try:
        p = os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return None
    return next((g for g in _guarded if p == g or p.startswith(g + os.sep)), None)


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _guarded:
        return
    if event == "open":
        path, mode, flags = (*args, None, None, None)[:3]
        writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE_FLAGS)
        paths = (path,) if writes else ()
    else:
        paths = tuple(args[i] for i in _CHANGES.get(event, ()) if i < len(args))
    for path in paths:
        if (folder := _inside(path)) is not None:
            raise DryRunWriteError(f"a dry run writes nothing: {event} of {os.fsdecode(path)} (under {folder})")


@contextmanager
def refusing_writes(folders: Iterable[Path]) -> Iterator[None]:
    """Inside the block, any change under `folders` (absolute or relative to here) raises `DryRunWriteError`."""
    global _installed
    with _lock:
        if not _installed:
            sys.addaudithook(_hook)  # for the process's life: idle (one list test) outside this block
            _installed = True
        added = [os.path.abspath(f) for f in folders]
        _guarded.extend(added)
    try:
        yield
    finally:
        with _lock:
            for f in added:
                _guarded.remove(f)
