"""`schemas.containment.OutsideRoot`: a data error (a ValueError, so the episode is quarantined) whose message names
the path, what it resolves to when that differs, and the root. Where it is raised: tests/adapters/storage."""

from __future__ import annotations

from schemas.containment import OutsideRoot, ReachesOutside


def test_message_names_path_resolution_and_root() -> None:
    e = OutsideRoot("/r/data/x.parquet", "/etc/passwd", "/r")
    assert isinstance(e, ValueError) and (e.path, e.resolved, e.root) == ("/r/data/x.parquet", "/etc/passwd", "/r")
    assert str(e) == "/r/data/x.parquet (resolves to /etc/passwd) lies outside the source root /r: not read"
    assert str(OutsideRoot("/x", "/x", "/r")) == "/x lies outside the source root /r: not read"


def test_a_store_reaching_outside_is_both_errors_and_names_the_reference() -> None:
    e = ReachesOutside("/r/a.zarr", "data/x/0.0 (a symlink)", "/etc/key")
    assert isinstance(e, OutsideRoot) and isinstance(e, OSError)  # an adapter catching either flags the store
    assert str(e) == "/r/a.zarr: data/x/0.0 (a symlink) leads to /etc/key, outside the store: the store is not read"
    assert (e.store, e.inner, e.target, e.resolved) == ("/r/a.zarr", "data/x/0.0 (a symlink)", "/etc/key", "/etc/key")
