"""Every lock a command may wait on: an exclusive flock on a lock file (or on a folder itself), the file holding its
holder's record (`Holder`: pid, command, when it took the lock), written by whoever takes it.

`take` is the one way in: at once, or waited for (as long as it takes, or up to a bound), or not taken and its holder
returned; a wait that lasts past `SAY_AFTER_S` is said once, naming the lock and its holder (issue 97 item 5: a command
that waited on another's lock printed nothing). `flocked` holds a lock for a block (a catalog rebuild's, a manifest
folder's, the object cache's bookkeeping); `Root.lock` takes one held as long as its descriptor is open (a dataset
writer's, `ingest.lerobot.writer_dir`). The job locks are never waited for: a second job is refused at once, naming
the pid its lock file holds (`jobs.runtime.job_lock`). The kernel releases a flock when its process dies, so a killed
holder never leaves a stale lock; its record stays until the next taker writes its own.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from schemas.faults import say

log = logging.getLogger(__name__)

# a wait shorter than this is not said: the object cache's bookkeeping holds its lock for milliseconds, and its
# workers meet there all the time
SAY_AFTER_S = 1.0
POLL_S = 0.2  # flock has no timeout: a waiter tries again at most this long after the last try
RECORD_BYTES = 4096  # a record is one line of JSON: a pid, a command cut to `COMMAND_CHARS`, a time
COMMAND_CHARS = 200


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as its record says: its pid ("unknown" when nothing says), its command line, and when it
    took the lock (UTC)."""

    pid: str
    command: str = ""
    since: str = ""

    def __str__(self) -> str:
        said = ", ".join(x for x in (self.command, f"since {self.since}" if self.since else "") if x)
        return f"pid {self.pid}" + (f" ({said})" if said else "")

    @classmethod
    def me(cls) -> Holder:
        """This process, taking a lock now."""
        since = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return cls(str(os.getpid()), _command(), since)

    def record(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        """The record in a lock file; a bare pid (a lock file written before records had more) is a holder known
        by its pid alone; None when the file is empty (nobody holds it, or a holder that ended cleanly)."""
        text = text.strip()
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return cls(text[:64])
        if isinstance(data, int):
            return cls(str(data))
        if not isinstance(data, dict) or "pid" not in data:
            return cls("unknown")
        return cls(str(data["pid"]), str(data.get("command", "")), str(data.get("since", "")))


def _command() -> str:
    """This process's command line as its user typed it: `python -m jobs.cli ...` for a module run with -m, `python
    -c ...` for a command, else the script's name, each with its arguments; cut to `COMMAND_CHARS`."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    first = sys.argv[0] if sys.argv else ""
    head = f"python -m {spec.name}" if spec is not None else "python -c" if first == "-c" else Path(first).name
    line = " ".join([head, *sys.argv[1:]])
    return line if len(line) <= COMMAND_CHARS else line[: COMMAND_CHARS - 3] + "..."


def read_holder(fd: int) -> Holder | None:
    """The record in the lock file open at `fd` (None: empty, or `fd` is a folder)."""
    try:
        return Holder.parse(os.pread(fd, RECORD_BYTES, 0).decode(errors="replace"))
    except OSError:  # a folder: no record
        return None


def _kernel_pid(path: Path) -> str | None:
    """The pid the kernel's lock table names as holding a flock on `path` (/proc/locks: its FLOCK rows by device and
    inode); None where the table does not say (not Linux, or nobody holds it now)."""
    try:
        st = os.stat(path)
        rows = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    where = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for row in rows:
        fields = row.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[5] == where:  # a waiter's try leaves no row
            return fields[4]
    return None


def holder_of(fd: int, path: Path) -> Holder:
    """Who holds the lock on `path` (open at `fd`): its record, when the kernel's lock table names the same pid or
    names none; else the pid the table names, with its command line (a folder holds no record, and a holder that
    just took the lock may not have written its own yet over an earlier one's)."""
    record, pid = read_holder(fd), _kernel_pid(path)
    if record is not None and pid in (None, record.pid):
        return record
    if pid is None:
        return Holder("unknown")
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return Holder(pid)
    return Holder(pid, b" ".join(a for a in argv if a).decode(errors="replace")[:COMMAND_CHARS])


def take(fd: int, path: Path, wait_s: float | None = None) -> Holder | None:
    """Lock `fd` (open on `path`) exclusively and write this process's record into it (a folder holds none); None
    once taken. `wait_s`: None waits as long as it is held, else up to that many seconds (0: no wait), after which
    the holder is returned and nothing is taken. A wait past `SAY_AFTER_S` is said once: the lock and its holder."""
    start = time.monotonic()
    pause, said = 0.001, False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            waited = time.monotonic() - start
            if wait_s is not None and waited >= wait_s:
                return holder_of(fd, path)
            if not said and waited >= SAY_AFTER_S:
                bound = "" if wait_s is None else f" (at most {wait_s:g} s)"
                say(f"waiting for {path}{bound}, held by {holder_of(fd, path)}", log)
                said = True
            left = POLL_S if wait_s is None else max(wait_s - waited, 0.0)
            time.sleep(min(pause, POLL_S, left))
            pause *= 2
    if not path.is_dir():
        os.ftruncate(fd, 0)
        os.pwrite(fd, Holder.me().record(), 0)
    return None


@contextmanager
def flocked(path: Path, busy: Callable[[], Exception] | None = None) -> Iterator[None]:
    """An exclusive flock on `path` (a folder itself: no lock file to leave behind; else a lock file, created) for the
    block: waited for (`take`: a long wait is said), or with `busy` refused at once by raising `busy()`."""
    fd = os.open(path, os.O_RDONLY) if path.is_dir() else os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if take(fd, path, None if busy is None else 0) is not None:
            raise busy() if busy is not None else AssertionError("a lock waited for is taken")
        yield
    finally:
        os.close(fd)  # closing releases the flock
