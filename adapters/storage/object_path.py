"""rosbags' path protocol over an object-store Location (`Location.path_like`)."""

from __future__ import annotations

from contextlib import ExitStack
from typing import IO, Any

_ANSWERED = frozenset({"name", "stem", "suffix", "exists", "is_dir"})


class ObjectPath:
    """rosbags' path protocol over an object-store Location: every open is a ranged, metered read."""

    def __init__(self, loc: Any) -> None:  # an object-store Location
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
        with self.loc.open_binary() as f:
            return f.read().decode(encoding or "utf-8")

    def open(self, mode: str = "rb", *args: Any, **kwargs: Any) -> _Held:
        if "r" not in mode or "+" in mode:
            raise PermissionError(f"{self.loc}: bags on an object store are read only")
        stack = ExitStack()
        return _Held(stack.enter_context(self.loc.open_binary()), stack)


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
