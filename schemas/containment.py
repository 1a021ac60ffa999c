"""The error a path outside its source's root raises (`adapters.storage.contain.contained` decides it).

A type of its own so every layer that reports a file it could not read (`schemas.lfs.unreadable`, the dataset
checks) knows this one was never opened, and says so rather than looking into it.
"""

from __future__ import annotations


class OutsideRoot(ValueError):
    """A path an adapter would read that leaves its source's root (a data error: the episode is quarantined)."""

    def __init__(self, path: str, resolved: str, root: str) -> None:
        self.path, self.resolved, self.root = path, resolved, root
        via = "" if resolved == path else f" (resolves to {resolved})"
        super().__init__(f"{path}{via} lies outside the source root {root}: not read")
