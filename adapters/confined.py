"""Every source's discovery and reads confined to the root they were given, whatever the adapter's own code does:
`SourceAdapter.__init_subclass__` wraps each adapter's `discover` (a ref with a path outside its root comes back
flagged, `confine`) and `read` (a flagged ref raises its discovery error first). The wrappers know adapters and refs
by their methods only, so this module imports nothing of `adapters.base`."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from adapters.isolated import isolated_discover, isolated_read


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
    """`discover` whose every ref is `confine`d to the root it was given, each file's parse inside its own boundary
    (`adapters.isolated`; `own`: the adapters' own error class, which is no file's failure)."""
    isolated = isolated_discover(discover, own)

    @functools.wraps(discover)
    def wrapper(self: Any, root: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        from adapters.storage.beneath import Fence

        root = self.source_root(root)  # resolved once, for every adapter (`SourceAdapter.source_root`)
        with Fence.rooted(root) as fence:  # every open beneath the root at the moment it is made (storage.beneath)
            refs = iter(isolated(self, root, *args, **kwargs))
            while True:
                with Fence.active(fence):  # in force while discovery works, not while its caller holds a ref
                    ref = next(refs, None)
                    if ref is None:
                        return
                    ref = confine(self, root, ref)
                yield ref

    wrapper._confined = True  # type: ignore[attr-defined]
    return wrapper


def flagged_first(read: Any, own: type[Exception]) -> Any:
    """`read` that first raises the error discovery flagged its ref with (`SourceAdapter.raise_discovered`), and
    whose data found absent (`AbsentData`: HDF5 or Zarr chunks never written, wherever the adapter read them) comes
    out as the adapter's error naming the file, the episode and the dataset; a parse's `RecursionError`/`MemoryError`
    or a failure past the task's memory limit too (`adapters.isolated`; `own`: the adapters' own error class)."""
    from adapters.hostile.absent import AbsentData

    inner = isolated_read(read, own)

    @functools.wraps(read)
    def wrapper(self: Any, ref: Any, *args: Any, **kwargs: Any) -> Any:
        self.raise_discovered(ref)
        self.read_under(ref)
        try:
            return inner(self, ref, *args, **kwargs)
        except AbsentData as e:
            file = e.file or (ref.paths[0] if ref.paths else None)
            raise self.error(str(e), file=file, episode=ref.raw_id, field=e.dataset) from e

    wrapper._confined = True  # type: ignore[attr-defined]
    return wrapper
