"""File digests: sums reused while a file's size and mtime are unchanged, every byte hashed again otherwise (the
records' digests, `RecordDigests`, are tested against the S3 server: tests/s3/test_catalog.py)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from adapters.storage.digests import FileDigests
from schemas.storage import CatalogError


def test_unchanged_files_are_not_hashed_again_and_changed_ones_are(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"x" * 1000)
    first = FileDigests()
    assert first.digest(tmp_path, "a.bin") == (1000, hashlib.sha256(b"x" * 1000).hexdigest())
    first.save(tmp_path / "digests.parquet")
    again = FileDigests.load(tmp_path / "digests.parquet")
    again.digest(tmp_path, "a.bin")
    assert again.hashed_bytes == 0  # reused
    st = (tmp_path / "a.bin").stat()
    (tmp_path / "a.bin").write_bytes(b"y" * 1000)  # same size
    os.utime(tmp_path / "a.bin", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    changed = FileDigests.load(tmp_path / "digests.parquet")
    assert changed.digest(tmp_path, "a.bin")[1] == hashlib.sha256(b"y" * 1000).hexdigest()
    assert changed.hashed_bytes == 1000


def test_a_listed_file_that_is_missing_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="missing on disk"):
        FileDigests().digest(tmp_path, "data/gone.parquet")
    assert FileDigests.load(tmp_path / "no-such.parquet").known == {}
