"""Every source's discovery and reads confined to their root, and the per-file boundary: which source file a parse
opened last (one tracker), and the one loop that refuses it.

`SourceAdapter.__init_subclass__` wraps each adapter's `discover` (`confined_discover`: a ref with a path outside its
root comes back flagged, `confine`), `read` (`flagged_first`: a flagged ref raises its discovery error first) and
`spec_problems` (`isolated_check`).

Adapters flag a bad file's episodes by catching the errors they expect of it (`OSError`, `ValueError`, ...). A parser
can raise others: `json.loads` a `RecursionError` on 10^5 nested brackets (a Zarr `.zattrs`, a LeRobot `info.json`,
a WebDataset sidecar), any allocation a `MemoryError` past the parse process's `RLIMIT_AS` (`adapters.hostile.limits`),
or the parse process dies (`adapters.hostile.sandbox.Killed`). Escaping a discovery, one of them would end it.

The tracker (`_Watch`, one audit hook) sees Python's event "open" (zarr's stores, json, numpy, tarfile and zipfile
included) and the doors' own event (`adapters.storage.declared`: the file `location.readable` hands HDF5, pyarrow or
PyAV, declared again when the library fails inside; every object opened on a store). It keeps the files opened last
under the roots given to those three, and in a parse process every source file, the last in a page its parent reads
(`parse_process`).
An error the adapter did not handle leaves a discovery or a spec check carrying the file whose parse failed
(`unparsed`: the file opened last, or for a `RecursionError` the one of the last opened that is JSON too deep to
parse, `_Watch.culprit`), as a dead parse process's `Killed` carries the file it was reading. The loop (`again`)
runs the work again with that file refused at its open (`Unparsed`, an `OSError` and a `ValueError` naming the file
and the first error, which the adapter's own per-file handling flags as it flags an unreadable file): each bad file
costs one more pass; past `MAX_REFUSED` files, when no file under the root was opened (nor declared), or when the
adapter does not handle the refusal either, the error ends the work as before. An `AdapterError` (the adapter's own
verdict on the whole source) and an error of the environment (`schemas.faults`: retried by the job) pass through
untouched. In one episode's read such an error is the adapter's error naming the file (`flagged_first`).
"""

from __future__ import annotations

import functools
import json
import logging
import mmap
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from adapters.storage.beneath import Fence
from adapters.storage.root import Root
from schemas.storage import EVENT

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_REFUSED = 16  # bad files refused in one discovery before it gives up (each costs one more pass)
RECENT = 16  # files opened last, among which the one whose parse failed is chosen
PROBE_BYTES = 64 << 20  # the largest file probed for the JSON that recursed
PAGE = 4096  # a parse process's page: the source file it opened last, for its parent to read when it dies
# what a library opens for itself, never the input: the kernel's files, the system's data, the interpreter's own
_LIBRARY = ("/proc/", "/sys/", "/dev/", "/usr/", "/etc/", f"{sys.prefix}/", f"{sys.base_prefix}/")
_WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_DIRECTORY
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
    """The files opened under `roots` while `live`, the last one kept (with a `page`: a parse process's every source
    file, the last written there too); opens of `refused` raise `Unparsed`."""

    roots: tuple[str, ...]  # absolute paths or object URLs (`_key`), without a trailing separator
    refused: dict[str, str] = field(default_factory=dict)  # absolute path -> reason
    recent: list[str] = field(default_factory=list)  # the last `RECENT` files opened, the latest last
    live: bool = False
    page: mmap.mmap | None = None

    def covers(self, path: str, raw: object) -> bool:
        if self.page is None:
            return any(path == r or path.startswith(r + os.sep) for r in self.roots)
        # a whole path or a URL (an `openat` beneath a folder raises "open" with one component: Zarr's named `.zgroup`
        # so), no library's, of the source's root while a read fence is in force (the writer's own files are not it)
        whole = isinstance(raw, str) and (raw.startswith("/") or "://" in raw) and not raw.startswith(_LIBRARY)
        return whole and not path.endswith((".py", ".pyc")) and Fence.may_read(path)

    def opened(self, path: str) -> None:
        with _lock:  # zarr opens a store's keys from several threads at once
            if path in self.recent:
                self.recent.remove(path)
            self.recent.append(path)
            del self.recent[:-RECENT]
            if self.page is not None:
                self.page.seek(0)
                self.page.write(path.encode(errors="replace")[: PAGE - 1] + b"\0")

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
    if not _watches or (event != "open" and event != EVENT) or not args or isinstance(args[0], int):
        return
    if event == "open" and len(args) > 2 and isinstance(args[2], int) and args[2] & _WRITES:
        return  # a write, or a folder opened: no parse of it
    live = [w for w in _watches if w.live]
    path = Root.boundary_name(args[0], urls=event == EVENT) if live else None
    if path is None:
        return
    covering = [w for w in live if w.covers(path, args[0])]
    failed = event == EVENT and args[1]  # the door's library failed inside: the file is named, never refused again
    for w in covering:
        reason = w.refused.get(path)
        if reason is not None and not failed:
            raise Unparsed(path, reason)
    for w in covering:
        w.opened(path)  # a probe of a file that is not there (zarr's `.zmetadata`) is left out by `culprit`


def _watching(roots: tuple[str, ...], page: mmap.mmap | None = None) -> _Watch:
    global _hooked
    with _lock:
        if not _hooked:  # once per process: an audit hook cannot be removed; it returns at once when nothing watches
            sys.addaudithook(_hook)
            _hooked = True
        w = _Watch(roots, page=page)
        w.refused.update({f: why for f, why in (_REFUSING.get() or {}).items() if page is None and w.covers(f, f)})
        _watches.append(w)
    return w


def _unwatch(w: _Watch) -> None:
    with _lock:
        _watches.remove(w)


def parse_process(page: mmap.mmap) -> None:
    """In a parse process, first thing: every source file it opens kept, the last one in `page` (its parent names it
    when the process dies, `adapters.hostile.sandbox`)."""
    _watching((), page).live = True


def last_opened() -> str | None:
    """In a parse process, the source file it opened last (the one whose parse failed), else None."""
    return next((w.last for w in _watches if w.page is not None), None)


def failure(e: BaseException) -> bool:
    """Whether `e` is the work's failure, said or quarantined as any `Exception` is: an `Exception`, or a Rust
    library's panic. pyo3's `PanicException` derives from `BaseException` so that `except Exception` lets it through
    (pyo3's guide, "Panics"; one such class per extension module, so it is known by name). `KeyboardInterrupt` (a
    stop: `jobs.runtime.stops`), `SystemExit` and `GeneratorExit` are not."""
    return isinstance(e, Exception) or any(c.__name__ == "PanicException" for c in type(e).__mro__)


def reason(e: BaseException, file: str | None) -> str:
    """Why `file` failed: `Class: message` (no errno, so an ENOMEM is never read back as the environment's from the
    text); an allocation refused by the parse process's memory limit (`hostile.limits`: `RLIMIT_AS`) says so."""
    text = re.sub(r"\[Errno \d+\] ?", "", " ".join(str(e).split()))[:300]
    said = f"{type(e).__name__}: {text}" if text else type(e).__name__
    return f"memory limit reached reading {file}: {said}" if isinstance(e, MemoryError) else said


def again(attempt: Callable[[], T], what: str) -> T:
    """`attempt()`, run again with the file each failure names (`unparsed`: a file's failed parse, or a dead parse
    process's `Killed`) refused at its open, up to `MAX_REFUSED` files: a bad file costs that file (its episodes
    flagged naming it, or a spec check that reads past it), never its neighbours. A failure that names no file, or
    one already refused, is raised. The one loop: every discovery and spec check goes through it."""
    refused: dict[str, str] = {}
    while True:
        token = _REFUSING.set(dict(refused))  # every watch made in the attempt, in a process forked there too
        try:
            return attempt()
        except Exception as e:
            file, why = getattr(e, "unparsed", None) or (None, "")
            if file is None or file in refused or len(refused) >= MAX_REFUSED:
                raise
            refused[file] = why
            log.warning("%s again, %s refused: %s", what, file, why)
        finally:
            _REFUSING.reset(token)


@contextmanager
def _watched(roots: tuple[str, ...], own: type[Exception]) -> Iterator[_Watch]:
    """A watch over `roots` for the block; an error the adapter did not handle (not its own `own`, `AdapterError`,
    passed in by `adapters.base`, which imports this module; not the environment's; not a refused file's `Unparsed`)
    leaves it carrying the file whose parse failed (`unparsed`, for `again`)."""
    from schemas.faults import environment_fault

    watch = _watching(roots)
    try:
        yield watch
    except Exception as e:
        file = None if isinstance(e, (own, Unparsed)) or environment_fault(e) is not None else watch.culprit(e)
        if file is not None and getattr(e, "unparsed", None) is None:  # an inner watch's, nearer the parse, kept
            e.unparsed = (file, reason(e, file))  # type: ignore[attr-defined]
        raise
    finally:
        _unwatch(watch)


def confine(adapter: Any, root: Any, ref: Any) -> Any:
    """`ref` with its `root`, flagged (`error`, and the `AdapterError.locator` form `raise_discovered` raises) when one
    of its paths leaves `root`; not flagged when they all stay under it or discovery flagged it already."""
    if ref.root is None:  # its reads resolve beneath it (`SourceAdapter.file`)
        ref = ref.model_copy(update={"root": str(root)})
    if ref.error is not None:
        return ref
    bad = root.outside(ref.paths)
    if bad is None:
        return ref
    err = adapter.error(str(bad), file=bad.path, episode=ref.raw_id)
    return ref.model_copy(update={"error": str(err), "locator": {**ref.locator, **err.locator()}})


def confined_discover(discover: Any, own: type[Exception]) -> Any:
    """`discover` confined to the root it was given, whatever the adapter's own code does: every open beneath the root
    at the moment it is made (`adapters.storage.beneath`), every ref `confine`d, and an unhandled error in one file's
    parse naming that file for `again`, which discovers again without it (discovery is deterministic,
    `SourceAdapter.discover`: a pass gives the same refs). The wrappers know adapters and refs by their methods only,
    so this module imports nothing of `adapters.base` (`own`: its `AdapterError`)."""

    @functools.wraps(discover)
    def wrapper(self: Any, root: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        root = self.source_root(root)  # resolved once, for every adapter (`SourceAdapter.source_root`)
        local = Root.boundary_name(root)
        with Fence.rooted(root) as fence, _watched((local,) if local else (), own) as watch:
            refs = discover(self, root, *args, **kwargs)
            while True:
                with Fence.active(fence):  # in force while discovery works, not while its caller holds a ref
                    watch.live = True
                    try:
                        ref = next(refs, None)
                    finally:
                        watch.live = False
                    if ref is None:
                        return
                    ref = confine(self, root, ref)
                yield ref

    wrapper._confined = True  # type: ignore[attr-defined]
    return wrapper


def isolated_check(check: Any, own: type[Exception]) -> Any:
    """`check` (an adapter's `spec_problems(root)`, which reads meta files at a glance) whose unhandled error in one
    file's parse names that file for `again`, which checks again without it (issue 97 item 1: a 10^5-deep
    `features.json` ended the spec check, and with it the job, before any work). The file is not read again here:
    discovery meets it and flags its episodes naming it."""

    def wrapper(self: Any, root: Any, *args: Any, **kwargs: Any) -> Any:
        if (local := Root.boundary_name(root)) is None:
            return check(self, root, *args, **kwargs)
        with _watched((local,), own) as watch:
            watch.live = True
            return check(self, root, *args, **kwargs)

    wrapper._confined = True  # type: ignore[attr-defined]
    return wrapper


def flagged_first(read: Any, own: type[Exception]) -> Any:
    """`read` that first raises the error discovery flagged its ref with (`SourceAdapter.raise_discovered`), and
    whose data found absent (`AbsentData`: HDF5 or Zarr chunks never written, wherever the adapter read them) comes
    out as the adapter's error naming the file, the episode and the dataset; a parse's `RecursionError`/`MemoryError`
    too, naming the file last opened (or declared) under the ref's paths (else its first path)."""
    from adapters.hostile.absent import AbsentData

    @functools.wraps(read)
    def wrapper(self: Any, ref: Any, *args: Any, **kwargs: Any) -> Any:
        self.raise_discovered(ref)
        self.read_under(ref)
        watch = _watching(tuple(p for p in map(Root.boundary_name, ref.paths) if p is not None))
        watch.live = True
        first = ref.paths[0] if ref.paths else None
        try:
            return read(self, ref, *args, **kwargs)
        except AbsentData as e:
            raise self.error(str(e), file=e.file or first, episode=ref.raw_id, field=e.dataset) from e
        except (RecursionError, MemoryError) as e:
            err = self.error(reason(e, watch.last or first), file=watch.last or first, episode=ref.raw_id)
        finally:
            watch.live = False
            _unwatch(watch)
        # raised outside the handler: an ENOMEM left in the chain would be read as the environment's
        raise err

    wrapper._confined = True  # type: ignore[attr-defined]
    return wrapper
