"""How a command's process leaves: a line and a status (`fail`), at once (`say_and_exit`, `exit_process`), or once its
work is done, before the libraries' teardown (`finish_process`)."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
from typing import NoReturn


def fail(status: int, line: object) -> int:
    """`line` said on stderr; `status`, the exit status a command returns with it."""
    print(line, file=sys.stderr)
    return status


def say_and_exit(line: str, status: int) -> NoReturn:
    """`line` on stderr, then the process ended at once with `status` (no Python code runs after it)."""
    os.write(2, f"{line}\n".encode())
    os._exit(status)


def exit_process(status: int) -> NoReturn:
    """End this process at once with `status`, what it printed and logged flushed first, the interpreter's teardown
    skipped: there the driver's Ray core worker, whose raylet the same Ctrl-C to the group ended, crashed it now and
    then (exit -11 after the stop's line: 2 of 9 Ctrl-Cs 7 s into the demo ingest)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


def finish_process(status: int) -> NoReturn:
    """End this process with `status` once its command has finished: its exit hooks run, then it ends before the
    libraries' C++ teardown, where a thread of theirs still alive aborted `eidata inspect` after its whole output
    ("terminate called without an active exception", exit 134: issue 86 item 3)."""
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    exit_process(status)
