"""A dataset's root is passed down through the LeRobot reader, never climbed back up from (issue 100 item 1: the
walk from a source's root through `adapters/lerobot` went up 9 times, between it and the readers then in
`schemas`), and the format's stats are checked by one `check_stats` (there were two: `schemas/dataset_meta.py` and
`adapters/lerobot/checks.py`)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
READER = ("adapters/lerobot", "adapters/lerobot_format")
SHIPPED = ("schemas", "adapters", "ingest", "training", "jobs")
# The one look above a dataset: its card kept in the repository folder that holds it (the real bimanual SO-101 dataset
# sits under `dataset/` with its README.md beside; tests/adapters/lerobot/test_bimanual_so101.py). A README only,
# never the dataset's files.
CARD_ABOVE = "adapters/lerobot/embodiment.py sides_from_card"


def _functions(tree: ast.AST) -> dict[ast.AST, str]:
    """Every node inside a function -> that function's name."""
    return {n: fn.name for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef) for n in ast.walk(fn)}


def climbs(root: Path = REPO) -> list[str]:
    """`path function` of each `.parent` / `.parents` in the reader's modules."""
    hits = []
    for room in READER:
        for path in sorted((root / room).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            where = _functions(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and node.attr in ("parent", "parents"):
                    hits.append(f"{path.relative_to(root).as_posix()} {where.get(node, '<module>')}")
    return hits


def definitions(name: str, root: Path = REPO) -> list[str]:
    """The shipped modules that define a function `name`."""
    return [
        path.relative_to(root).as_posix()
        for top in SHIPPED
        for path in sorted((root / top).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name
    ]


def test_the_reader_passes_the_root_down() -> None:
    assert climbs() == [CARD_ABOVE]


def test_a_climb_is_found(tmp_path: Path) -> None:
    (tmp_path / "adapters/lerobot").mkdir(parents=True)
    (tmp_path / "adapters/lerobot/adapter.py").write_text("def roots(p):\n    return {p.parent.parent}\n")
    assert climbs(tmp_path) == ["adapters/lerobot/adapter.py roots"] * 2


def test_one_check_stats_in_the_tree() -> None:
    assert definitions("check_stats") == ["adapters/lerobot_format/checks.py"]
