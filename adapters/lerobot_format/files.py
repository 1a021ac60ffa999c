"""The LeRobot format's file doors: a meta file's JSON (`read_json`, `load_info`, `load_modality`), a jsonl meta file
line by line (`read_jsonl`), and why a data file cannot be read (`unreadable`: the Git LFS pointer it is, `schemas.lfs`,
else the library's error). Every read of a dataset's meta goes through them, so an error names the file (and the line).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from adapters.storage.root import Root
from schemas.containment import OutsideRoot
from schemas.episode_lines import skipped, wanted
from schemas.lerobot import InfoJson, MetaFileError
from schemas.lfs import MAX_POINTER_BYTES, LfsPointer, pointer_message, refuse_pointer
from schemas.modality import ModalityJson
from schemas.settings import TooLarge, limit, read_within

_M = TypeVar("_M", bound=BaseModel)


def _whole(path: Path) -> bytes:
    """A meta file's bytes, read whole within the JSON_BYTES limit (`schemas.settings.read_within`, as every door
    reads a whole file); MetaFileError naming the file past it, or for a Git LFS pointer."""
    try:
        with path.open("rb") as f:  # a Path or a UPath
            raw = read_within(f, path.stat().st_size, limit("JSON_BYTES"), str(path))
        refuse_pointer(path, raw[:MAX_POINTER_BYTES])
    except (LfsPointer, TooLarge) as e:
        raise MetaFileError(path, str(e)) from e
    return raw


def read_json(path: Path) -> Any:
    """A meta file's JSON; MetaFileError (a ValueError) naming the file when it cannot be read or parsed."""
    try:
        return json.loads(_whole(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise MetaFileError(path, f"{path}: cannot read ({e})") from e
    except json.JSONDecodeError as e:
        raise MetaFileError(path, f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from e


def load_modality(path: Path) -> ModalityJson:
    """GR00T's `meta/modality.json` at `path`, validated (`schemas.modality`)."""
    return ModalityJson.parse(read_json(Path(path)), path)


def read_jsonl(path: Path, episodes: Collection[int] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-empty line (with `episodes`, those of its episodes only, the others
    unparsed: `schemas.episode_lines`); a torn or non-UTF-8 line read raises MetaFileError with its position."""
    with (Path(path) if isinstance(path, str) else path).open("rb") as f:  # a Path or a UPath
        try:
            refuse_pointer(path, f.read(MAX_POINTER_BYTES))
        except LfsPointer as e:
            raise MetaFileError(path, str(e)) from e
        f.seek(0)
        for lineno, raw in enumerate(f, start=1):
            if skipped(raw, episodes):
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                where = f"byte 0x{raw[e.start]:02x} at column {e.start + 1}"
                raise MetaFileError(path, f"{path}:{lineno}: not UTF-8 ({where})") from e
            if line.strip():
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise MetaFileError(path, f"{path}:{lineno}: not valid JSON ({e.msg})") from e
                if wanted(obj, episodes):
                    yield lineno, obj


def load_info(path: Path, *, shared: bool = False) -> InfoJson:
    """`meta/info.json`; `shared`: one model for every file of the same bytes (the last `SHARED_INFOS` kept), to be
    read only: a dry run over a corpus of copies validated 30,000 alike, one per dataset (issue 99)."""
    raw = _whole(Path(path))
    # parsed by Python's json, not pydantic's Rust parser: under a task's memory limit an allocation the limit refuses
    # is a MemoryError there, where Rust aborts the process (pydantic-core panicked, then hung, on a 36 MB info.json)
    try:
        return _shared_info(raw) if shared else _info(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:  # the file named, as every meta file's error names it
        raise MetaFileError(path, f"{path}: not valid JSON ({e})") from e


def _info(raw: bytes) -> InfoJson:
    return InfoJson.model_validate(json.loads(raw))


SHARED_INFOS = 64  # distinct info.json kept by `load_info(shared=True)`: ~17 KB of text and its model each
_shared_info = functools.lru_cache(maxsize=SHARED_INFOS)(_info)


def load_entries(path: Path, model: type[_M]) -> list[_M]:
    return [model.model_validate(obj) for _, obj in read_jsonl(path)]


def lfs_pointer_size(path: Path | str) -> int | None:
    """The size of the object `path` stands for when it is a Git LFS pointer file (-1: size unstated), else None."""
    try:
        with Root(path).location().readable():  # the door reads a small file's first bytes, refuses a pointer
            return None
    except LfsPointer as e:
        return e.size
    except (OSError, OutsideRoot):
        return None


def lfs_pointer_message(path: Path | str) -> str | None:
    """What to tell a user whose file is a Git LFS pointer (None when it is not one)."""
    size = lfs_pointer_size(path)
    return None if size is None else pointer_message(size)


def unreadable(kind: str, path: Path | str, err: BaseException) -> str:
    """The reason a file cannot be read: the Git LFS pointer it is, else `unreadable <kind> (<error>)`; a file
    outside its source's root is named as such and never opened to look."""
    if isinstance(err, OutsideRoot):
        return str(err)
    return lfs_pointer_message(path) or f"unreadable {kind} ({err})"
