"""Every parse of a source's files inside its file's boundary, whatever the adapter catches.

Adapters flag a bad file's episodes by catching the errors they expect of it (`OSError`, `ValueError`, ...). A parser
can raise others: `json.loads` a `RecursionError` on 10^5 nested brackets (a Zarr `.zattrs`, a LeRobot `info.json`,
a WebDataset sidecar), any allocation a `MemoryError` past the parse process's `RLIMIT_AS` (`jobs.runtime.limits`).
Escaping a discovery, one of them would end the whole source's discovery.

`isolated_discover` (applied to every adapter's `discover` by `SourceAdapter.__init_subclass__`) watches which files
under the root the discovery opens: Python's audit hook, event "open" (every file opened through Python, zarr's
stores, json, numpy, tarfile and zipfile included), and the doors' own event (`adapters.storage.declared`: the file
`location.readable` hands a library that opens it itself, HDF5, pyarrow, PyAV, declared again when the library fails
inside; every object opened on a store, so a root on an object store has the same boundary). When an error the
adapter did not handle escapes, the file opened last (or, for a `RecursionError`, the one of the last opened that is
JSON too deep to parse: `_Watch.culprit`) is taken for the one whose parse failed: discovery starts again with that
file refused at its open (`Unparsed`, an `OSError` and a `ValueError` naming the file and the first error, which the
adapter's own per-file handling flags as it flags an unreadable file), and the refs it already gave are not given
twice (discovery is deterministic, `SourceAdapter.discover`). Each bad file costs one more pass over the discovery;
past `MAX_REFUSED` files, or when no file under the root was opened (nor declared), or when the adapter does not
handle the refusal either, the error ends the source's discovery as before. An `AdapterError` (the adapter's own
verdict on the whole source) and an error of the environment (`schemas.faults`: retried by the job) pass
through untouched. `isolated_read` does the same for one episode's read, `isolated_check` for a spec check's reads
of meta files.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from adapters.storage.root import Root
from schemas.storage import EVENT

log = logging.getLogger(__name__)

MAX_REFUSED = 16  # bad files refused in one discovery before it gives up (each costs one more pass)
RECENT = 16  # files opened last, among which the one whose parse failed is chosen
PROBE_BYTES = 64 << 20  # the largest file probed for the JSON that recursed
_lock = threading.Lock()
_REFUSING: ContextVar[dict[str, str] | None] = ContextVar("eidata_refusing", default=None)
_watches: list[_Watch] = []
_hooked = False


class Unparsed(OSError, ValueError):
    """A file refused at its open because its parse failed earlier in the same discovery (no errno: the data's). Both
    an OSError and a ValueError (as `io.UnsupportedOperation`): whichever an adapter catches around a file, it flags
    this one."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        named = reason if path in reason else f"{path}: {reason}"
        super().__init__(f"{named} (its parse failed: not read again)")


@dataclass
class _Watch:
    """The files opened under `roots` while `live`, the last one kept; opens of `refused` raise `Unparsed`."""

    roots: tuple[str, ...]  # absolute paths or object URLs (`_key`), without a trailing separator
    refused: dict[str, str] = field(default_factory=dict)  # absolute path -> reason
    recent: list[str] = field(default_factory=list)  # the last `RECENT` files opened, the latest last
    live: bool = False

    def covers(self, path: str) -> bool:
        return any(path == r or path.startswith(r + os.sep) for r in self.roots)

    def opened(self, path: str) -> None:
        with _lock:  # zarr opens a store's keys from several threads at once
            if path in self.recent:
                self.recent.remove(path)
            self.recent.append(path)
            del self.recent[:-RECENT]

    @property
    def last(self) -> str | None:
        return self.recent[-1] if self.recent else None

    def culprit(self, e: BaseException) -> str | None:
        """The file whose parse most likely failed: the latest opened that exists and is not refused yet, unless
        the error is a `RecursionError` and an earlier one is the JSON document (or JSON line) that recurses (zarr
        opens a node's `.zarray`, `.zattrs` and `.zgroup` together, then parses them)."""
        live = [p for p in reversed(self.recent) if p not in self.refused and Root.present(p)]
        if isinstance(e, RecursionError):
            deep = next((p for p in live if os.path.isfile(p) and _recurses(p)), None)  # objects: not fetched again
            if deep is not None:
                return deep
        return live[0] if live else None


def _recurses(path: str) -> bool:
    """Whether `path` (up to `PROBE_BYTES`) is JSON, or JSON lines, that the parser cannot nest."""
    from adapters.hostile.bounds import read_bounded
    from adapters.storage.root import Root

    try:
        text = read_bounded(Root(path).location(), PROBE_BYTES, "a file probed for deep JSON")
    except (OSError, ValueError):  # unreadable, too large, a Git LFS pointer: not the one
        return False
    for doc in (text, *text.splitlines()):
        try:
            json.loads(doc)
        except RecursionError:
            return True
        except ValueError:
            continue
    return False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _watches or (event != "open" and event != EVENT):
        return
    live = [w for w in _watches if w.live]
    path = Root.boundary_name(args[0], urls=event == EVENT) if live and args and not isinstance(args[0], int) else None
    if path is None:
        return
    failed = event == EVENT and args[1]  # the door's library failed inside: the file is named, never refused again
    for w in live:
        if w.covers(path):
            reason = w.refused.get(path)
            if reason is not None and not failed:
                raise Unparsed(path, reason)
            w.opened(path)  # a probe of a file that is not there (zarr's `.zmetadata`) is left out by `culprit`


def _watching(roots: tuple[str, ...]) -> _Watch:
    global _hooked
    with _lock:
        if not _hooked:  # once per process: an audit hook cannot be removed; it returns at once when nothing watches
            sys.addaudithook(_hook)
            _hooked = True
        w = _Watch(roots)
        _watches.append(w)
    return w


def _unwatch(w: _Watch) -> None:
    with _lock:
        _watches.remove(w)


def _unhandled(e: BaseException, own: type[Exception]) -> bool:
    """An error the adapter left to escape that is one file's: not its own (`own`: `AdapterError`, passed in by
    `adapters.base`, which imports this module), not the environment's."""
    from schemas.faults import environment_fault

    return isinstance(e, Exception) and not isinstance(e, own) and environment_fault(e) is None


def failure(e: BaseException) -> bool:
    """Whether `e` is the work's failure, said or quarantined as any `Exception` is: an `Exception`, or a Rust
    library's panic. pyo3's `PanicException` derives from `BaseException` so that `except Exception` lets it through
    (pyo3's guide, "Panics"; one such class per extension module, so it is known by name). `KeyboardInterrupt` (a
    stop: `jobs.runtime.stops`), `SystemExit` and `GeneratorExit` are not."""
    return isinstance(e, Exception) or any(c.__name__ == "PanicException" for c in type(e).__mro__)


def reason(e: BaseException, file: str | None) -> str:
    """Why `file` failed: `Class: message` (no errno, so an ENOMEM is never read back as the environment's from the
    text); an allocation refused by the parse process's memory limit (`jobs.runtime.limits`: `RLIMIT_AS`) says so."""
    text = re.sub(r"\[Errno \d+\] ?", "", " ".join(str(e).split()))[:300]
    said = f"{type(e).__name__}: {text}" if text else type(e).__name__
    return f"memory limit reached reading {file}: {said}" if isinstance(e, MemoryError) else said


@contextmanager
def refusing(files: dict[str, str]) -> Iterator[None]:
    """The block's discoveries refuse each of `files` (path -> why) at its open, as a file whose parse failed in an
    earlier pass (a discovery task rerun after the file killed its worker: `jobs.ingest.discovery`)."""
    token = _REFUSING.set({Root.boundary_name(f) or f: why for f, why in files.items()})
    try:
        yield
    finally:
        _REFUSING.reset(token)


def isolated_discover(discover: Any, own: type[Exception]) -> Any:
    """`discover` whose unhandled error in one file's parse flags that file's episodes, never its neighbours'."""

    def wrapper(self: Any, root: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        local = Root.boundary_name(root)
        if local is None:
            yield from discover(self, root, *args, **kwargs)
            return
        watch = _watching((local,))
        watch.refused.update({f: why for f, why in (_REFUSING.get() or {}).items() if watch.covers(f)})
        # the refs given by earlier passes, by hash (not held: a source may have millions); a pass's own repeats are
        # the adapter's to flag (a sequence name under two TACO triplets), so they go through
        given: set[int] = set()
        try:
            while True:
                refs = discover(self, root, *args, **kwargs)
                this: set[int] = set()
                try:
                    while True:
                        watch.live = True
                        try:
                            ref = next(refs)
                        finally:
                            watch.live = False
                        key = hash((ref.subset, ref.raw_id))
                        if key not in given:
                            this.add(key)
                            yield ref
                except StopIteration:
                    return
                except Exception as e:
                    given |= this
                    if not _refused(watch, e, own, local, f"{self.name}: discovery"):
                        raise
        finally:
            _unwatch(watch)

    return wrapper


def isolated_check(check: Any, own: type[Exception]) -> Any:
    """`check` (an adapter's `spec_problems(root)`, which reads meta files at a glance) whose unhandled error in one
    file's parse refuses that file and checks again without it, as a discovery does (issue 97 item 1: a 10^5-deep
    `features.json` ended the spec check, and with it the job, before any work). The file is not read again here:
    discovery meets it and flags its episodes naming it."""

    def wrapper(self: Any, root: Any, *args: Any, **kwargs: Any) -> Any:
        local = Root.boundary_name(root)
        if local is None:
            return check(self, root, *args, **kwargs)
        watch = _watching((local,))
        watch.refused.update({f: why for f, why in (_REFUSING.get() or {}).items() if watch.covers(f)})
        try:
            while True:
                watch.live = True
                try:
                    return check(self, root, *args, **kwargs)
                except Exception as e:
                    if not _refused(watch, e, own, local, f"{self.name}: spec check"):
                        raise
                finally:
                    watch.live = False
        finally:
            _unwatch(watch)

    wrapper._confined = True  # type: ignore[attr-defined]
    return wrapper


def _refused(watch: _Watch, e: Exception, own: type[Exception], local: str, what: str) -> bool:
    """Whether `e` is one file's failed parse, that file now refused at its open for the next pass (`what` says it);
    False when `e` is no file's (the adapter's own, the environment's, a refused file's `Unparsed`, nothing opened)."""
    culprit = watch.culprit(e)
    if not _unhandled(e, own) or isinstance(e, Unparsed) or culprit is None:
        return False
    if len(watch.refused) >= MAX_REFUSED:
        raise RuntimeError(f"{len(watch.refused)} files of {local} failed their parse") from e
    watch.refused[culprit] = reason(e, culprit)
    log.warning("%s again, %s refused: %s", what, culprit, watch.refused[culprit])
    return True


def isolated_read(read: Any, own: type[Exception]) -> Any:
    """`read` whose `RecursionError`/`MemoryError` is the adapter's error naming the file last opened (or declared)
    under the ref's paths (else its first path)."""

    def wrapper(self: Any, ref: Any, *args: Any, **kwargs: Any) -> Any:
        roots = tuple(p for p in (Root.boundary_name(x) for x in ref.paths) if p is not None)
        watch = _watching(roots) if roots else None
        if watch is not None:
            watch.live = True
        try:
            return read(self, ref, *args, **kwargs)
        except (RecursionError, MemoryError) as e:
            file = (watch.last if watch else None) or (ref.paths[0] if ref.paths else None)
            err = self.error(reason(e, file), file=file, episode=ref.raw_id)
        finally:
            if watch is not None:
                watch.live = False
                _unwatch(watch)
        # raised outside the handler: an ENOMEM left in the chain would be read as the environment's
        raise err

    return wrapper
