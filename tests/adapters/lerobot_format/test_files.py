"""Git LFS pointer files named by the format's file doors (`adapters/lerobot_format/files.py`; the pointer format:
`schemas/lfs.py`), written as the Git LFS specification gives them (git-lfs/git-lfs
docs/spec.md @ db8bc37b, "The Pointer": the v1 example, the pre-release `hawser` version, sorted keys, unknown keys
kept) and as `git lfs pointer` would for a real file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from adapters.lerobot_format.files import lfs_pointer_message, lfs_pointer_size, unreadable
from schemas.lfs import MAX_POINTER_BYTES

OID = "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("version https://git-lfs.github.com/spec/v1\n" + OID + "size 12345\n", 12345),  # the spec's example
        ("version https://hawser.github.com/spec/v1\n" + OID + "size 12345\n", 12345),  # pre-release clients
        ("version https://git-lfs.github.com/spec/v1\next-0-foo sha256:ab\n" + OID + "size 7\n", 7),  # an extension
        ("version https://git-lfs.github.com/spec/v1\n" + OID, -1),  # size missing: a pointer of unknown size
    ],
    ids=["spec_v1", "hawser", "extension_key", "no_size"],
)
def test_pointers_and_their_sizes(tmp_path: Path, text: str, size: int) -> None:
    path = tmp_path / "episode_000000.parquet"
    path.write_text(text, encoding="utf-8")
    assert lfs_pointer_size(path) == size
    message = lfs_pointer_message(path)
    assert message is not None and "git lfs pull" in message
    assert (f"{size:,}-byte" in message) is (size >= 0)
    assert unreadable("parquet", path, OSError("magic bytes not found")) == message  # the cause, not the symptom


def test_a_pointer_for_a_real_file(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    pointer = tmp_path / "file-000.mp4"
    pointer.write_text(
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{hashlib.sha256(data).hexdigest()}\nsize {len(data)}\n"
    )
    assert lfs_pointer_size(pointer) == len(data) == 10240
    assert "10,240-byte" in (lfs_pointer_message(pointer) or "")


def test_what_is_not_a_pointer(tmp_path: Path) -> None:
    real = tmp_path / "real.parquet"
    real.write_bytes(b"PAR1" + bytes(100))
    empty = tmp_path / "empty"
    empty.write_bytes(b"")  # the spec: an empty file is the pointer of an empty file, i.e. no LFS at all
    big = tmp_path / "big"  # Git LFS never reads 1024 bytes or more as a pointer
    big.write_text("version https://git-lfs.github.com/spec/v1\n" + OID + "size 5\n" + "x" * MAX_POINTER_BYTES)
    for path in (real, empty, big, tmp_path / "missing", tmp_path):
        assert lfs_pointer_size(path) is None, path
        assert lfs_pointer_message(path) is None
    assert unreadable("parquet", real, ValueError("bad magic")) == "unreadable parquet (bad magic)"


@pytest.mark.parametrize("reader", ["read_json", "load_info"])
def test_a_meta_file_past_the_json_limit_is_refused_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    """A source's meta JSON read whole (a LeRobot `info.json`, `modality.json`: the spec check's and discovery's reads)
    is bounded by the setting max_json_bytes, as every door's whole-file read is (`schemas.settings.read_within`): at
    e7043c41 it was read whatever its size (a sparse file of gigabytes allocated before its parse)."""
    import adapters.lerobot_format.files as files
    from schemas.settings import ENV

    monkeypatch.setenv(ENV, '{"max_json_bytes": 64}')
    info = tmp_path / "meta/info.json"
    info.parent.mkdir()
    info.write_text('{"codebase_version": "v2.1", "fps": 30, "features": {}, "pad": "' + "x" * 64 + '"}')
    read = getattr(files, reader)
    with pytest.raises(ValueError, match=r"info\.json size in bytes: \d+ declared, more than .*max_json_bytes") as err:
        read(info)
    assert str(info) in str(err.value)
    monkeypatch.setenv(ENV, "{}")
    assert read(info) is not None  # within the default
