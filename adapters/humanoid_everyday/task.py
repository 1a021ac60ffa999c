"""One Humanoid Everyday task as the maker ships it, read in place: a `<task>.zip` or the folder it extracts to.

The maker's loader (ausbxuse/Humanoid-Everyday@80e302b:humanoid_everyday/core.py:54-92) extracts the zip (skipping
`__MACOSX` members), and takes every folder holding a `data.json` as one episode, wherever it sits: the zip may hold a
root folder named like the task or the episode folders directly (core.py:64-79). Each step's `image`, `depth` and
`lidar` are paths relative to its episode folder (core.py:139-142). Here nothing is extracted: a zip is opened as a
seekable file (a local path or an object) and its members read one by one; a folder's files are opened where they
are. Member names are joined and normalised here, never taken as paths on disk; one that leaves its episode folder
(`..`, absolute) is refused, naming it.
"""

from __future__ import annotations

import posixpath
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager

from adapters.hostile import bounds
from adapters.storage.location import Location
from schemas.settings import check

DATA_JSON = "data.json"
SKIPPED = "__MACOSX"  # the maker's loader skips these members (core.py:61-63)


class MemberError(ValueError):
    """A path a step names that is not in its episode (absent, or outside the episode folder)."""


def inner(episode: str, rel: str) -> str:
    """The member (or relative file) `rel` of episode folder `episode`, normalised; MemberError when it leaves it."""
    norm = posixpath.normpath(str(rel).replace("\\", "/"))
    if posixpath.isabs(norm) or norm == ".." or norm.startswith("../") or norm == ".":
        raise MemberError(f"{rel!r} is not a file inside the episode folder")
    return posixpath.join(episode, norm) if episode else norm


def zip_episodes(names: list[str]) -> list[str]:
    """The episode folders of a task zip: the folder of every `data.json` member, `""` for one at the zip's root;
    `__MACOSX` members skipped as the maker's loader skips them."""
    out = []
    for name in names:
        if name.split("/", 1)[0] == SKIPPED or posixpath.basename(name) != DATA_JSON:
            continue
        out.append(posixpath.dirname(name))
    return out


def read_member(z: zipfile.ZipFile, name: str, bound: int | None, what: str) -> bytes:
    """The bytes of member `name`, its declared size held to `bound` (None: none) before reading (and the read
    stopped there: a member that inflates past its header's size is refused too). KeyError when it is not in the
    zip."""
    info = z.getinfo(name)
    bound = sys.maxsize if bound is None else bound
    check(f"{what} size in bytes", info.file_size, bound, "the limit")
    with z.open(info) as f:
        data = f.read(None if bound == sys.maxsize else bound + 1)
    check(f"{what} size in bytes", len(data), bound, "the limit")
    return data


@contextmanager
def opened_zip(path: Location) -> Iterator[zipfile.ZipFile]:
    """The task zip, open for reading members (its central directory read once), closed on exit."""
    with path.open_binary() as f, zipfile.ZipFile(f) as z:
        yield z


class Episode:
    """Where one episode's files are: in a zip (`zip_path` and the member folder `folder`) or on disk / in a bucket
    (`folder` a Location). `files(rels)` opens the container once for a pass over several files."""

    def __init__(self, *, zip_path: Location | None, folder: str | Location) -> None:
        self.zip_path, self.folder = zip_path, folder

    @property
    def where(self) -> str:
        """The episode as a user finds it: `<zip>!<member folder>` or the folder."""
        return f"{self.zip_path}!{self.folder or '/'}" if self.zip_path is not None else str(self.folder)

    def file_name(self, rel: str) -> str:
        """The name `rel` is read under (member name or path), for errors; MemberError when it leaves the episode."""
        if self.zip_path is not None:
            return inner(str(self.folder), rel)
        return str(self.folder / inner("", rel))  # type: ignore[operator]

    @contextmanager
    def files(self) -> Iterator[Files]:
        if self.zip_path is None:
            yield Files(self, None)
            return
        with opened_zip(self.zip_path) as z:
            yield Files(self, z)


class Files:
    """An episode's files during one pass: `read(rel, bound, what)`, `has(rel)`."""

    def __init__(self, episode: Episode, z: zipfile.ZipFile | None) -> None:
        self.episode, self.z = episode, z
        self._names = set(z.namelist()) if z is not None else None

    def has(self, rel: str) -> bool:
        name = self.episode.file_name(rel)
        return name in self._names if self._names is not None else self._path(rel).is_file()

    def read(self, rel: str, bound: int | None, what: str) -> bytes:
        """The bytes of `rel`; MemberError when it is absent or outside the episode folder (a symlink out too)."""
        name = self.episode.file_name(rel)
        if self.z is not None:
            try:
                return read_member(self.z, name, bound, what)
            except KeyError:
                raise MemberError(f"{name!r} is not in the zip") from None
        path = self._path(rel)
        if not path.is_file():
            raise MemberError(f"{path} does not exist")
        return bounds.read_bounded(path, bound, what)

    def _path(self, rel: str) -> Location:
        folder = self.episode.folder
        assert not isinstance(folder, str)
        try:
            return folder.file(inner("", rel))
        except ValueError as e:  # OutsideRoot: a symlink out of the episode folder
            raise MemberError(str(e)) from None
