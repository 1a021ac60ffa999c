"""`relative_posix` names a path as `Path.relative_to` does, by its string where it can."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.storage.relative import relative_posix

CASES = [
    ("/c/datasets/a/b", "/c"),
    ("/c/datasets/a/b", Path("/c")),
    (Path("/c/datasets/.hidden/x.y"), "/c"),
    ("/c//datasets/./a/", "/c"),
    ("/c/datasets/../a", "/c"),
    ("c/datasets/a", "c"),
    ("datasets/a", "."),
    ("datasets/a", ""),
    ("/c/datasets/a", "/"),
    ("/c/x/../datasets/a", "/c/x/.."),
    ("/cd/datasets/a", "/cd"),
]


@pytest.mark.parametrize(("path", "folder"), CASES)
def test_as_relative_to_names_it(path: str | Path, folder: str | Path) -> None:
    assert relative_posix(path, folder) == Path(path).relative_to(folder).as_posix()


@pytest.mark.parametrize(("path", "folder"), [("/cd/datasets/a", "/c"), ("/c", "/c/d"), ("c/a", "/c")])
def test_a_path_outside_the_folder_is_a_value_error(path: str, folder: str) -> None:
    with pytest.raises(ValueError):
        Path(path).relative_to(folder)
    with pytest.raises(ValueError):
        relative_posix(path, folder)
