"""The adapters' guides people can read (issue 77 item 4): `adapters/README.md` is a short map, every folder of
`adapters/` (each source and each room) has its own README with a "Modules:" paragraph (so the checks of
`test_room_readmes.py` hold it to its folder), the map links every folder's README and names every registered source,
and no paragraph, list item or table row of these READMEs runs past a bar a reader can take in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters.registry import BUILTIN

REPO = Path(__file__).resolve().parents[1]
ADAPTERS = REPO / "adapters"
MAP = ADAPTERS / "README.md"
MAP_MAX_BYTES = 20_000  # "under 20 KB" (issue 77); the map was 192,511 bytes at 72e30583
PARAGRAPH_MAX = 1_200  # characters of a prose paragraph or one list item (the old map had one of 4,907)
TABLE_ROW_MAX = 1_600  # characters of one table row: rows moved whole with their evidence (longest 1,544)
READMES_MAX_BYTES = 190_000  # "the adapter READMEs total at most 190 KB" (issue 88 item 6); 257,155 at e6e540de
FOLDERS = sorted(p for p in ADAPTERS.iterdir() if (p / "__init__.py").is_file())
READMES = [MAP] + [p / "README.md" for p in FOLDERS if (p / "README.md").is_file()]


def _ids(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def blocks(text: str) -> list[tuple[str, str]]:
    """("row" | "prose", text) of a markdown text outside code fences: each table row, and each paragraph or list
    item (a list item ends where the next begins, or at a blank line)."""
    out: list[tuple[str, str]] = []
    for block in re.split(r"\n\s*\n", re.sub(r"```.*?```", "", text, flags=re.S)):
        lines = [line for line in block.split("\n") if line.strip()]
        out += [("row", line) for line in lines if line.lstrip().startswith("|")]
        prose = "\n".join(line for line in lines if not line.lstrip().startswith("|"))
        out += [("prose", item) for item in re.split(r"\n(?=\s*(?:[-*] |\d+\. ))", prose) if item.strip()]
    return out


def test_the_adapters_readme_is_a_short_map() -> None:
    size = len(MAP.read_bytes())
    assert size < MAP_MAX_BYTES, f"adapters/README.md is {size:,} bytes: conventions belong in the folder's README"


def test_the_adapter_readmes_do_not_grow() -> None:
    sizes = {_ids(p): len(p.read_bytes()) for p in READMES}
    largest = ", ".join(f"{name} {size:,}" for name, size in sorted(sizes.items(), key=lambda kv: -kv[1])[:3])
    assert sum(sizes.values()) <= READMES_MAX_BYTES, (
        f"the adapter READMEs total {sum(sizes.values()):,} bytes, past {READMES_MAX_BYTES:,} (largest: {largest}): "
        "say a convention once (the map) and point to the docstrings and data files that hold the rest"
    )


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_every_adapter_folder_has_its_readme(folder: Path) -> None:
    readme = folder / "README.md"
    assert readme.is_file(), f"adapters/{folder.name}/ has no README.md (its conventions and evidence go there)"
    assert "Modules:" in readme.read_text(encoding="utf-8"), f"adapters/{folder.name}/README.md has no Modules: line"


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_the_map_links_every_folders_readme(folder: Path) -> None:
    assert f"({folder.name}/README.md)" in MAP.read_text(encoding="utf-8"), (
        f"the map never links {folder.name}/README.md"
    )


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_registered_source_is_a_row_of_the_map(name: str) -> None:
    folder = BUILTIN[name].split(":")[0].split(".")[1]  # adapters.<folder>.adapter:Class
    row = f"[`{name}`]({folder}/README.md)"
    text = MAP.read_text(encoding="utf-8")
    alias = f"]({folder}/README.md) (`{name}`)"  # a second name of one adapter, `arrays` (`zarr`)
    assert row in text or alias in text, f"the map has no row for the source `{name}` linking {folder}/"


@pytest.mark.parametrize("readme", READMES, ids=_ids)
def test_no_paragraph_runs_past_the_bar(readme: Path) -> None:
    long = [
        f"{kind} of {len(text):,} characters: {text[:80]!r}"
        for kind, text in blocks(readme.read_text(encoding="utf-8"))
        if len(text) > (TABLE_ROW_MAX if kind == "row" else PARAGRAPH_MAX)
    ]
    assert not long, f"{_ids(readme)} (split it into short paragraphs or bullets):\n" + "\n".join(long)


def test_the_block_reader() -> None:
    text = "a\nb\n\n- one\n  two\n- three\n\n| x |\n| y |\n\n```\n- not\n```\n1. four"
    assert blocks(text) == [
        ("prose", "a\nb"),
        ("prose", "- one\n  two"),
        ("prose", "- three"),
        ("row", "| x |"),
        ("row", "| y |"),
        ("prose", "1. four"),
    ]
