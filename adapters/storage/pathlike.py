"""A read-only pathlib view of an object, for libraries that open files by path (rosbags' readers call `open`, `stat`,
`exists`, `read_text` and `/` on what they are given): every read goes through `open_binary`, by ranges with bounded
read-ahead and counted by `metering()`. A local path is handed over as it is."""

from __future__ import annotations

from contextlib import ExitStack
from typing import IO, Any

from adapters.storage.location import Location, is_object, open_binary


def path_like(loc: Location) -> Any:
    """What a library that opens by path is given: a local path as it is, an object as an `ObjectPath`."""
    return ObjectPath(loc) if is_object(loc) else loc


_ANSWERED = frozenset({"name", "stem", "suffix", "exists", "is_dir"})


class ObjectPath:
    """rosbags' path protocol over an object-store Location: every open is a ranged, metered read."""

    def __init__(self, loc: Location) -> None:
        self.loc = loc

    def __str__(self) -> str:
        return str(self.loc)

    def __repr__(self) -> str:
        return f"ObjectPath({self.loc})"

    def __truediv__(self, key: Any) -> ObjectPath:
        return ObjectPath(self.loc / str(key))

    def __getattr__(self, attr: str) -> Any:
        if attr in _ANSWERED:  # name, stem, suffix, exists, is_dir: the Location's own
            return getattr(self.loc, attr)
        raise AttributeError(attr)

    def stat(self, *, follow_symlinks: bool = True) -> Any:
        return self.loc.stat()

    def read_text(self, encoding: str | None = None) -> str:
        with open_binary(self.loc) as f:
            return f.read().decode(encoding or "utf-8")

    def open(self, mode: str = "rb", *args: Any, **kwargs: Any) -> _Held:
        if "r" not in mode or "+" in mode:
            raise PermissionError(f"{self.loc}: bags on an object store are read only")
        stack = ExitStack()
        return _Held(stack.enter_context(open_binary(self.loc)), stack)


class _Held:
    """A file object whose `close` also leaves the context it was opened in (so the read meter counts it)."""

    def __init__(self, f: IO[bytes], stack: ExitStack) -> None:
        self._f, self._stack = f, stack

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __enter__(self) -> _Held:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()
