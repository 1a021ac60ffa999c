"""Git LFS pointer bytes (`schemas/lfs.py`) as the Git LFS specification gives them (git-lfs/git-lfs docs/spec.md
@ db8bc37b, "The Pointer"); the files that hold them: `tests/adapters/lerobot_format/test_files.py`."""

from __future__ import annotations

import pytest

from schemas.lfs import MAX_POINTER_BYTES, LfsPointer, pointer_size, refuse_pointer

POINTER = b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 12345\n"


def test_a_pointer_is_refused_naming_its_path_and_size() -> None:
    assert pointer_size(POINTER) == 12345
    with pytest.raises(LfsPointer, match=r"info\.json: Git LFS pointer file for a 12,345-byte object") as err:
        refuse_pointer("meta/info.json", POINTER)
    assert isinstance(err.value, OSError) and isinstance(err.value, ValueError) and err.value.path == "meta/info.json"


def test_data_and_long_heads_are_not_pointers() -> None:
    refuse_pointer("data.parquet", b"PAR1\x00")
    assert pointer_size(b"PAR1") is None
    assert pointer_size(POINTER + b"x" * MAX_POINTER_BYTES) is None  # Git LFS never reads 1024 bytes or more as one
