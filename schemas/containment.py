"""The error a path outside its source's root raises (`adapters.storage.location.contained` decides it).

A type of its own so every layer that reports a file it could not read (`adapters.lerobot_format.files.unreadable`, the
dataset checks) knows this one was never opened, and says so rather than looking into it.
"""

from __future__ import annotations


class OutsideRoot(ValueError):
    """A path an adapter would read that leaves its source's root (a data error: the episode is quarantined)."""

    def __init__(self, path: str, resolved: str, root: str) -> None:
        self.path, self.resolved, self.root = path, resolved, root
        via = "" if resolved == path else f" (resolves to {resolved})"
        super().__init__(f"{path}{via} lies outside the source root {root}: not read")


class ReachesOutside(OutsideRoot, OSError):
    """A store (a Zarr folder, an HDF5 file) whose own references lead outside it: a symlink under the folder, an
    HDF5 external link, external raw storage or a virtual dataset's source file (`adapters.hostile.sealed`). Both an
    OutsideRoot (a ValueError) and an OSError, whichever an adapter catches around a store it opens, so it flags the
    store's episodes as it flags an unreadable file."""

    def __init__(self, store: str, inner: str, target: str) -> None:
        OutsideRoot.__init__(self, f"{store}: {inner}", target, store)
        self.store, self.inner, self.target = store, inner, target
        self.args = (f"{store}: {inner} leads to {target}, outside the store: the store is not read",)

    def __str__(self) -> str:
        return self.args[0]


class HardLinked(OutsideRoot):
    """A regular file under a source's root with more than one name: a hard link, whose other names may lie anywhere
    on the same file system (an outside file's bytes under an inside name), so it is not read."""

    def __init__(self, path: str, links: int, root: str) -> None:
        OutsideRoot.__init__(self, path, path, root)
        self.links = links
        self.args = (
            f"{path} is a hard link ({links} names; its other names may lie outside the source root {root}): not "
            "read; copy the file to read it",
        )

    def __str__(self) -> str:
        return self.args[0]
