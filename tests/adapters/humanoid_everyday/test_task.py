"""A task's files read in place (`adapters/humanoid_everyday/task.py`): member names normalised and held inside
their episode folder, `__MACOSX` skipped as the maker's loader skips it, a member's declared size bounded before it
is read, a folder's symlink out of its episode refused, and nothing extracted."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from adapters.humanoid_everyday.task import Episode, MemberError, inner, read_member, zip_episodes
from adapters.storage.location import locate
from schemas.settings import TooLarge


def test_inner_joins_and_refuses_what_leaves_the_episode() -> None:
    assert inner("t/episode_0", "color/frame_000001.png") == "t/episode_0/color/frame_000001.png"
    assert inner("t/episode_0", "./color//a.png") == "t/episode_0/color/a.png"
    assert inner("", "data.json") == "data.json"
    for bad in ("../episode_1/data.json", "/etc/passwd", "color/../../x", ".", ".."):
        with pytest.raises(MemberError, match="not a file inside the episode folder"):
            inner("t/episode_0", bad)


def test_episode_folders_of_a_zip() -> None:
    names = [
        "t/",
        "t/episode_0/data.json",
        "t/episode_0/color/frame_000000.png",
        "__MACOSX/t/episode_0/._data.json",
        "__MACOSX/t/episode_1/data.json",
        "t/episode_1/data.json",
        "data.json",
    ]
    assert zip_episodes(names) == ["t/episode_0", "t/episode_1", ""]


def test_a_member_is_bounded_by_its_declared_size(tmp_path: Path) -> None:
    path = tmp_path / "t.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("t/episode_0/data.json", b"[" + b" " * 5000 + b"]")
    with zipfile.ZipFile(path) as z:
        assert read_member(z, "t/episode_0/data.json", 10_000, "data.json").startswith(b"[")
        with pytest.raises(TooLarge, match=r"data\.json size in bytes: 5,002 declared"):
            read_member(z, "t/episode_0/data.json", 1000, "data.json")
        with pytest.raises(KeyError):
            read_member(z, "t/episode_0/nope", 1000, "x")


def test_zip_files_are_read_in_place(tmp_path: Path) -> None:
    path = tmp_path / "t.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("t/episode_0/data.json", b"[]")
        z.writestr("t/episode_0/color/a.png", b"png")
    ep = Episode(zip_path=locate(path), folder="t/episode_0")
    with ep.files() as f:
        assert f.has("color/a.png") and not f.has("color/b.png")
        assert f.read("color/a.png", 100, "image") == b"png"
        with pytest.raises(MemberError, match="is not in the zip"):
            f.read("color/b.png", 100, "image")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.zip"] and ep.where == f"{path}!t/episode_0"


def test_a_symlink_out_of_a_folder_episode_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(b"x")
    folder = tmp_path / "t" / "episode_0"
    (folder / "color").mkdir(parents=True)
    (folder / "color" / "ok.png").write_bytes(b"ok")
    os.symlink(tmp_path / "secret.png", folder / "color" / "out.png")
    with Episode(zip_path=None, folder=locate(folder)).files() as f:
        assert f.read("color/ok.png", 100, "image") == b"ok"
        with pytest.raises(MemberError):
            f.read("color/out.png", 100, "image")
        with pytest.raises(MemberError, match="does not exist"):
            f.read("color/none.png", 100, "image")
