"""A LeRobot dataset cloned without `git lfs`: its parquet and mp4 files are Git LFS pointer files (the spec's v1 text,
as `git lfs pointer` writes it). Every reader names the cause and the fix instead of "Parquet magic bytes not found"."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from adapters.base import AdapterError
from adapters.lerobot.adapter import LeRobotSource
from adapters.lerobot_format.files import lfs_pointer_message, lfs_pointer_size, load_info
from jobs.validate import validate_dataset
from tests.fixtures.episodes import write_canonical_dataset


def _as_pointer(path: Path) -> int:
    """Replace `path` by the pointer `git lfs` leaves in a clone without the objects; returns the real size."""
    data = path.read_bytes()
    oid = hashlib.sha256(data).hexdigest()
    path.write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n")
    return len(data)


@pytest.fixture
def cloned(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    write_canonical_dataset(root, [12, 7])
    info = load_info(root / "meta/info.json")
    _as_pointer(root / info.data_file(1))
    for key in info.video_keys:
        _as_pointer(root / info.video_file(0, key))
    return root


def test_pointer_files_are_told_from_data(tmp_path: Path) -> None:
    real = tmp_path / "real.bin"
    real.write_bytes(b"PAR1" + bytes(5000))
    size = _as_pointer(real)
    assert lfs_pointer_size(real) == size == 5004
    assert "git lfs pull" in lfs_pointer_message(real) and "5,004-byte" in lfs_pointer_message(real)
    plain = tmp_path / "plain.txt"
    plain.write_text("version 2\n")
    assert lfs_pointer_size(plain) is None and lfs_pointer_size(tmp_path / "missing") is None
    big = tmp_path / "big.txt"
    big.write_bytes(b"version https://git-lfs.github.com/spec/v1\n" + b"x" * 2000)  # no pointer is 1 KiB or more
    assert lfs_pointer_size(big) is None


def test_the_adapter_names_git_lfs_for_parquet_and_mp4(cloned: Path) -> None:
    adapter = LeRobotSource()
    refs = {r.raw_id: r for r in adapter.discover(cloned)}
    bad = [r for r in refs.values() if r.error]
    assert bad and all("Git LFS pointer file" in r.error and "git lfs pull" in r.error for r in bad)
    for ref in refs.values():
        with pytest.raises(AdapterError, match="Git LFS pointer file") as e:
            adapter.read(ref)
        assert e.value.field in ("data_path", *load_info(cloned / "meta/info.json").video_keys)


def test_validate_names_git_lfs(cloned: Path) -> None:
    report = validate_dataset(cloned)
    text = " | ".join(f"{q.code}: {q.message}" for q in report.quirks)
    assert "unreadable_parquet" in text and "unreadable_video" in text
    assert text.count("git lfs pull") >= 2, text
