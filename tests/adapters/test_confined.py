"""`adapters.confined`: every adapter's discovery and reads are wrapped when its class is made, so a ref naming a
path outside the root it was discovered under comes back flagged, and reading it raises that flag first, whatever
the adapter's own code does (a symlink out of the root included)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.base import AdapterError, EpisodeRef, RawEpisode
from adapters.confined import confine
from adapters.source_adapter import SourceAdapter


class Leaky(SourceAdapter):
    """An adapter whose discovery names a file outside its root, and one inside."""

    name = "leaky"

    def discover(self, root: Path):
        yield self.new_ref("inside", [str(root / "in.bin")])
        yield self.new_ref("outside", [str(root / "link.bin")])

    def read(self, ref: EpisodeRef) -> RawEpisode:
        raise AssertionError("a flagged ref is never read by the adapter's own code")


def test_a_ref_leaving_its_root_is_flagged_and_its_read_raises(tmp_path: Path) -> None:
    root, secret = tmp_path / "root", tmp_path / "secret.bin"
    root.mkdir()
    (root / "in.bin").write_bytes(b"x")
    secret.write_bytes(b"secret")
    os.symlink(secret, root / "link.bin")  # inside by name, outside by where it leads
    adapter = Leaky()
    inside, outside = list(adapter.discover(root))
    assert inside.error is None and outside.error is not None and "secret.bin" in outside.error
    assert getattr(Leaky.discover, "_confined", False) and getattr(Leaky.read, "_confined", False)
    with pytest.raises(AdapterError):
        adapter.read(outside)
    assert confine(adapter, root, outside) is outside  # flagged already: left as it is
