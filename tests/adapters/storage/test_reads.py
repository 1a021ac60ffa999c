"""The local cache's folders (`object_cache.LocalCache`): named by their process, so a later process removes the copies
of one that was killed (its `close` never ran) and leaves live ones alone. Reads against a real S3 server:
tests/s3/test_reads.py."""

from __future__ import annotations

import os
import subprocess
from contextlib import closing
from pathlib import Path

from adapters.storage.object_cache import CACHE_PREFIX, LocalCache, remove_stale_caches


def test_a_killed_process_s_cache_is_removed_and_live_ones_kept(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid names no process now
    stale = tmp_path / f"{CACHE_PREFIX}{gone.pid}-abc"
    (stale / "sub").mkdir(parents=True)
    (stale / "1-recording.vrs").write_bytes(b"x" * 10)
    other = tmp_path / f"{CACHE_PREFIX}notapid-abc"
    other.mkdir()
    with closing(LocalCache(1 << 20, root=tmp_path)) as live:
        assert live.dir.name.startswith(f"{CACHE_PREFIX}{os.getpid()}-")
        assert remove_stale_caches(tmp_path) == [stale]
        assert not stale.exists() and live.dir.is_dir() and other.is_dir()
    assert not live.dir.exists()
