"""`adapters.storage.declared`: the doors declare the file they hand a library (issue 58 item 2).

The event carries the file and whether the library failed inside; the original error goes on unchanged; a door's
declaration reaches an audit hook as Python's own open does, through `location.readable` for a local file. The
boundary's use of it (a failure inside pyarrow or FFmpeg named by its file): tests/adapters/hostile/test_isolated.py; on
an object store: tests/s3/test_isolated_bucket.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.storage.declared import declare, declared
from adapters.storage.location import locate
from schemas.storage import EVENT

_SEEN: list[tuple[Any, ...]] = []
_LISTENING: list[bool] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _LISTENING and event == EVENT:
        _SEEN.append(args)


sys.addaudithook(_hook)  # once per process (a hook cannot be removed): it does nothing unless a test listens


@pytest.fixture
def seen() -> Iterator[list[tuple[Any, ...]]]:
    _SEEN.clear()
    _LISTENING.append(True)
    try:
        yield _SEEN
    finally:
        _LISTENING.clear()


def test_a_door_declares_its_file_and_again_when_the_library_fails_inside(seen: list[tuple[Any, ...]]) -> None:
    with declared("/data/a.parquet"):
        pass
    assert seen == [("/data/a.parquet", False)]
    seen.clear()
    error = MemoryError("inside the parse")
    with pytest.raises(MemoryError) as got, declared("s3://raw/b.mp4"):
        raise error
    assert got.value is error  # unchanged
    assert seen == [("s3://raw/b.mp4", False), ("s3://raw/b.mp4", True)]


def test_readable_and_local_path_declare_the_file_they_hand_a_library(
    tmp_path: Path, seen: list[tuple[Any, ...]]
) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1")
    with locate(path).readable() as src:
        assert src == str(path)
    assert seen == [(str(path), False)]
    seen.clear()
    with pytest.raises(ValueError), locate(path).readable():
        raise ValueError("pyarrow's parse")
    assert seen == [(str(path), False), (str(path), True)]
    seen.clear()
    assert (
        locate(path).local_path() == path
    )  # a path for a library that opens only paths (projectaria_tools' VRS reader)
    assert seen == [(str(path), False)]


def test_a_hook_that_refuses_the_file_refuses_it_at_the_door(seen: list[tuple[Any, ...]]) -> None:
    def refusing(event: str, args: tuple[Any, ...]) -> None:
        if _LISTENING and event == EVENT and args[0] == "/refused" and not args[1]:
            raise OSError("refused")

    sys.addaudithook(refusing)
    with pytest.raises(OSError, match="refused"):
        declare("/refused")
    declare("/other")
