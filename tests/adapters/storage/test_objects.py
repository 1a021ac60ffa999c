"""The object calls the commit protocol stands on, on a local output (the same promises as on S3, which
tests/s3/test_commit.py checks against a real server): one winner among racing conditional creates, whole-object puts
and copies, sorted recursive listings, and a clear refusal of a store without conditional create."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import fsspec
import pytest
from fsspec.implementations.local import LocalFileSystem

from adapters.storage.atomic import TEMP_MARK
from adapters.storage.objects import (
    copy,
    exists,
    list_keys,
    list_modified,
    list_prefixes,
    put,
    put_if_absent,
    split_key,
)

FS = LocalFileSystem()


def test_conditional_create_has_exactly_one_winner_among_racers(tmp_path: Path) -> None:
    key = str(tmp_path / ".eidata" / "commits" / "000000000001.json")
    with ThreadPoolExecutor(16) as pool:
        won = list(pool.map(lambda i: put_if_absent(FS, key, f"writer {i}".encode()), range(64)))
    assert won.count(True) == 1
    assert Path(key).read_bytes() == f"writer {won.index(True)}".encode()  # the winner's bytes, whole
    assert put_if_absent(FS, key, b"late") is False and Path(key).read_bytes() != b"late"


def test_put_and_copy_replace_whole_objects_and_leave_no_temp(tmp_path: Path) -> None:
    src, dst = str(tmp_path / "staging" / "a.bin"), str(tmp_path / "final" / "a.bin")
    put(FS, src, b"first")
    put(FS, src, b"second, longer")
    copy(FS, src, dst)
    assert Path(dst).read_bytes() == b"second, longer" and Path(src).read_bytes() == b"second, longer"
    assert exists(FS, dst) and not exists(FS, str(tmp_path / "final" / "b.bin"))
    assert not [p for p in tmp_path.rglob("*") if TEMP_MARK in p.name]


def test_listings_are_recursive_sorted_and_empty_for_a_missing_folder(tmp_path: Path) -> None:
    for rel in ["b/2.json", "a/1.json", "a/x/3.json", "c.json"]:
        put(FS, str(tmp_path / rel), b"{}")
    (tmp_path / "empty").mkdir()
    root = str(tmp_path)
    assert list_keys(FS, root + "/") == [f"{root}/{r}" for r in ["a/1.json", "a/x/3.json", "b/2.json", "c.json"]]
    assert list_keys(FS, f"{root}/missing") == [] and list_keys(FS, f"{root}/empty") == []
    assert list_prefixes(FS, root) == [f"{root}/a", f"{root}/b", f"{root}/empty"]
    assert list_prefixes(FS, f"{root}/missing") == []
    os.utime(tmp_path / "c.json", (1_700_000_000, 1_700_000_000))
    when = list_modified(FS, root)
    assert when[f"{root}/c.json"] == datetime.fromtimestamp(1_700_000_000, UTC)
    assert all(t.tzinfo is UTC for t in when.values())


def test_split_key() -> None:
    assert split_key("out/run-1/.eidata/commits/1.json") == ("out", "run-1/.eidata/commits/1.json")
    assert split_key("out") == ("out", "")


def test_a_store_without_conditional_create_is_refused_naming_its_protocol() -> None:
    with pytest.raises(NotImplementedError, match="conditional create on memory"):
        put_if_absent(fsspec.filesystem("memory"), "bucket/x", b"x")
