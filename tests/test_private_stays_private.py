"""Private stays private (issue 88 item 5): no module imports another room's `_name` (a room is a folder: at
00f20645 `ingest/qa` took `_in_use` and `_finite_span` from `ingest/canonical/limits.py`), and no adapter imports
another adapter (`agibot` and `agibot_genie` imported each other, `arctic` took `unpickle_npy` from `vitra`,
`aria_mps` and `vitra` read Aria files through `hot3d`, `ego4d_goalstep` its videos through `ego4d`): what two
rooms share lives where both may import it (`adapters/agibot_g1.py`, `adapters/aria.py`, `adapters/pickles.py`)."""

from __future__ import annotations

import ast
from pathlib import Path

from adapters.registry import BUILTIN

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ("schemas", "adapters", "ingest", "training", "jobs")
# the folders under adapters/ that are sources
ADAPTERS = {path.split(":")[0].split(".")[1] for path in BUILTIN.values()}


def _imports(root: Path) -> list[tuple[str, int, str, list[str]]]:
    """(module path, line, imported module, names) of each absolute `from` import of a shipped module."""
    out = []
    for top in SHIPPED:
        for path in sorted((root / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.ImportFrom)
                    and node.level == 0
                    and (node.module or "").split(".")[0] in SHIPPED
                ):
                    names = [a.name for a in node.names]
                    out.append((path.relative_to(root).as_posix(), node.lineno, str(node.module), names))
    return out


def _room(root: Path, module: str) -> str:
    """The folder a dotted module lives in (a package is its own folder)."""
    parts = module.split(".")
    return "/".join(parts) if (root / Path(*parts)).is_dir() else "/".join(parts[:-1])


def private_imports(root: Path = REPO) -> list[str]:
    """`where:line module.name` of each `_name` imported from another folder."""
    return [
        f"{rel}:{line} {module}.{name}"
        for rel, line, module, names in _imports(root)
        for name in names
        if name.startswith("_") and not name.startswith("__") and _room(root, module) != rel.rsplit("/", 1)[0]
    ]


def adapter_imports(root: Path = REPO) -> list[str]:
    """`where:line module` of each import of one source adapter's folder by another's."""
    out = []
    for rel, line, module, _ in _imports(root):
        here, there = rel.split("/"), module.split(".")
        crossing = len(here) > 2 and len(there) > 2 and here[1] != there[1]
        if crossing and here[0] == there[0] == "adapters" and here[1] in ADAPTERS and there[1] in ADAPTERS:
            out.append(f"{rel}:{line} {module}")
    return out


def test_no_private_name_crosses_a_room() -> None:
    assert private_imports() == []


def test_no_adapter_imports_another() -> None:
    assert len(ADAPTERS) >= 20  # the rule reads BUILTIN: a registry read wrong would pass it vacuously
    assert adapter_imports() == []


def test_the_rules_see_a_crossing(tmp_path: Path) -> None:
    """Both scans find the imports they forbid (the old tree's `ingest/qa` and `agibot` lines, planted)."""
    for rel, text in {
        "ingest/canonical/limits.py": "def _in_use(): ...\n",
        "ingest/qa/state.py": "from ingest.canonical.limits import DimLimits, _in_use\n",
        "ingest/canonical/idle.py": "from ingest.canonical.limits import _in_use\n",
        "adapters/agibot/adapter.py": "from adapters.agibot_genie.files import WORLD_DIRS\n",
        "adapters/agibot/proprio.py": "from adapters.storage.location import Location\n",
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    assert private_imports(tmp_path) == ["ingest/qa/state.py:1 ingest.canonical.limits._in_use"]
    assert adapter_imports(tmp_path) == ["adapters/agibot/adapter.py:1 adapters.agibot_genie.files"]
