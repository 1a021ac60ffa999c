"""Atomic files: a write that fails at any point leaves the old file whole and no temp file; temp names are hidden
from suffix globs and recognised exactly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.storage.atomic import TEMP_MARK, atomic_write, is_temp_path, remove_temp_files, temp_path, undo_on_error


def test_write_replaces_the_file_and_creates_its_folder(tmp_path: Path) -> None:
    target = tmp_path / "meta" / "info.json"
    assert atomic_write(target, "old") == target
    atomic_write(target, "new é")
    assert target.read_text(encoding="utf-8") == "new é"
    assert sorted(p.name for p in target.parent.iterdir()) == ["info.json"]


def test_a_writer_that_fails_half_way_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = atomic_write(tmp_path / "episodes.jsonl", "line 1\n")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("line 1\nline 2 cut sh")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "line 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["episodes.jsonl"]


def test_a_failed_rename_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = atomic_write(tmp_path / "stats.json", "{}")

    def refuse(src: object, dst: object) -> None:
        raise PermissionError(f"cannot rename {src} -> {dst}")

    monkeypatch.setattr(os, "replace", refuse)  # the failure comes after the temp file is whole and fsynced
    with pytest.raises(PermissionError):
        atomic_write(target, '{"a": 1}')
    monkeypatch.undo()
    assert target.read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["stats.json"]


def test_temp_names_are_hidden_from_suffix_globs_and_recognised_exactly(tmp_path: Path) -> None:
    tmp = temp_path(tmp_path / "part-00000.parquet")
    assert tmp.parent == tmp_path and tmp.name.startswith(".part-00000.parquet" + TEMP_MARK)
    tmp.write_bytes(b"x")
    assert list(tmp_path.glob("*.parquet")) == []
    assert is_temp_path(tmp) and not is_temp_path(tmp_path / "part-00000.parquet")
    assert not is_temp_path(tmp_path / f".a{TEMP_MARK}notahexid")  # a user's file named alike is not ours
    assert temp_path(tmp_path / "a") != temp_path(tmp_path / "a")  # unique per write: concurrent writers never share


def test_remove_temp_files_removes_only_temp_files(tmp_path: Path) -> None:
    keep = [tmp_path / "a.parquet", tmp_path / f".a{TEMP_MARK}user", tmp_path / ".hidden"]
    for p in keep:
        p.write_text("keep")
    temps = [temp_path(tmp_path / "a.parquet"), temp_path(tmp_path / "b.json")]
    for p in temps:
        p.write_text("left by a killed writer")
    folder_alike = temp_path(tmp_path / "dir")
    folder_alike.mkdir()
    assert remove_temp_files(tmp_path) == sorted(temps)
    assert sorted(tmp_path.iterdir()) == sorted([*keep, folder_alike])
    assert remove_temp_files(tmp_path / "missing") == []


def test_undo_on_error_undoes_only_a_block_that_raises_and_reraises_it() -> None:
    undone: list[str] = []
    with undo_on_error(lambda: undone.append("clean")):
        pass
    assert undone == []
    with pytest.raises(KeyboardInterrupt), undo_on_error(lambda: undone.append("interrupted")):
        raise KeyboardInterrupt  # not an Exception: undone all the same
    assert undone == ["interrupted"]
