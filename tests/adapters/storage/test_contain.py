"""`adapters.storage.contain`: a path is under its root after `..`, absolute paths and symlinks are resolved, on disk
and on an object store; and every adapter's discovery and read pass through it (`SourceAdapter`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from adapters.base import AdapterError, EpisodeRef, RawEpisode
from adapters.source_adapter import SourceAdapter
from adapters.storage.location import contained, locate
from schemas.containment import OutsideRoot


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """root/ with data/, a link to a sibling folder, a link to a file outside, a link that stays inside."""
    (tmp_path / "root/data").mkdir(parents=True)
    (tmp_path / "root/data/ok.parquet").write_bytes(b"x")
    (tmp_path / "outside/sub").mkdir(parents=True)
    (tmp_path / "outside/secret").write_text("s")
    os.symlink(tmp_path / "outside", tmp_path / "root/out_dir")
    os.symlink(tmp_path / "outside/secret", tmp_path / "root/data/out_file")
    os.symlink(tmp_path / "outside/sub", tmp_path / "root/sub_link")
    os.symlink("data", tmp_path / "root/in_link")
    return tmp_path


@pytest.mark.parametrize("rel", ["data/ok.parquet", "data/missing.parquet", "in_link/ok.parquet", "data/../data/x"])
def test_paths_under_the_root_pass(tree: Path, rel: str) -> None:
    assert contained(tree / "root", rel) == tree / "root" / rel  # as given, not resolved
    assert contained(tree / "root", str(tree / "root" / rel)) == tree / "root" / rel


@pytest.mark.parametrize(
    ("rel", "resolves"),
    [
        ("../outside/secret", "outside/secret"),
        ("out_dir/secret", "outside/secret"),
        ("data/out_file", "outside/secret"),
        ("sub_link/../secret", "outside/secret"),  # `..` after a link goes up from where the link points
        ("/etc/passwd", None),
    ],
)
def test_paths_leaving_the_root_are_named(tree: Path, rel: str, resolves: str | None) -> None:
    with pytest.raises(OutsideRoot) as err:
        contained(tree / "root", rel)
    assert err.value.resolved == (str(tree / resolves) if resolves else "/etc/passwd")
    assert "lies outside the source root" in str(err.value) and str(tree / "root") in str(err.value)
    assert locate(tree / "root").outside(["data/ok.parquet", rel]) is not None


def test_a_root_reached_through_a_link_contains_its_own_files(tree: Path) -> None:
    os.symlink(tree / "root", tree / "root_link")
    assert contained(tree / "root_link", "data/ok.parquet") == tree / "root_link/data/ok.parquet"
    assert contained(tree / "root_link", str(tree / "root/data/ok.parquet")) == tree / "root/data/ok.parquet"
    with pytest.raises(OutsideRoot):
        contained(tree / "root_link", "out_dir/secret")


@pytest.mark.parametrize(
    ("path", "inside"),
    [
        ("s3://b/root/a/x.parquet", True),
        ("a/x.parquet", True),
        ("s3://b/root/../other/x", False),
        ("s3://b/rootx/y", False),
        ("gs://b/root/x", False),
        ("/etc/passwd", False),
    ],
)
def test_object_keys_stay_under_the_prefix(path: str, inside: bool) -> None:
    if inside:
        assert str(contained("s3://b/root", path)).startswith("s3://b/root/")
    else:
        with pytest.raises(OutsideRoot):
            contained("s3://b/root", path)


class _Source(SourceAdapter):
    """An adapter outside this package that knows nothing of containment: its refs name what it was told."""

    name: ClassVar[str] = "test_contain"
    files: ClassVar[dict[str, tuple[str, ...]]] = {}
    opened: ClassVar[list[str]] = []

    def discover(self, root: Path) -> Iterator[EpisodeRef]:
        for raw_id, paths in self.files.items():
            yield EpisodeRef(adapter=self.name, source=self.name, subset="s", raw_id=raw_id, paths=paths)

    def read(self, ref: EpisodeRef) -> RawEpisode:
        self.opened.extend(ref.paths)
        raise self.error("read", episode=ref.raw_id)


def test_every_adapter_is_contained_without_asking(tree: Path) -> None:
    root = tree / "root"
    _Source.files = {
        "in": (str(root / "data/ok.parquet"),),
        "link": (str(root / "data/ok.parquet"), str(root / "out_dir/secret")),
        "up": (str(root / "../outside/secret"),),
    }
    adapter = _Source()
    refs = {r.raw_id: r for r in adapter.discover(root)}
    assert refs["in"].error is None
    for raw_id in ("link", "up"):
        assert f"(resolves to {tree / 'outside/secret'})" in refs[raw_id].error
        with pytest.raises(AdapterError) as err:
            adapter.read(refs[raw_id])  # flagged: the adapter's own read never runs
        assert err.value.file == refs[raw_id].paths[-1] and err.value.episode == raw_id
    assert _Source.opened == []
    with pytest.raises(AdapterError, match="read"):
        adapter.read(refs["in"])
    assert _Source.opened == [str(root / "data/ok.parquet")]


def test_an_object_location_is_checked_by_its_url() -> None:
    from upath import UPath

    root = UPath("s3://b/root", anon=True)
    assert str(contained(root, root / "a/x.parquet")) == "s3://b/root/a/x.parquet"
    with pytest.raises(OutsideRoot, match="resolves to s3://b/other"):
        contained(root, UPath("s3://b/root/../other", anon=True))


def test_a_relative_root_and_paths_already_joined_to_it(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 50 item 1: with a relative root, a path the caller joined to it (`root / rel`, relative to the cwd) is not
    joined again ('root/root/data/...'), a path relative to the root still is, and a link out is still refused."""
    monkeypatch.chdir(tree)
    assert contained("root", "root/data/ok.parquet") == Path("root/data/ok.parquet")
    assert contained(Path("root"), Path("root/data/ok.parquet")) == Path("root/data/ok.parquet")
    assert contained("root", "data/ok.parquet") == Path("root/data/ok.parquet")
    with pytest.raises(OutsideRoot):
        contained("root", "root/data/out_file")
    # a root named like the first folder of its own files (a dataset folder called `data`): the file that exists wins
    monkeypatch.chdir(tree / "root")
    (tree / "root/data/data").mkdir()
    (tree / "root/data/data/x.parquet").write_bytes(b"x")
    assert contained("data", "data/x.parquet") == Path("data/data/x.parquet")
    assert contained("data", "data/ok.parquet") == Path("data/ok.parquet")
