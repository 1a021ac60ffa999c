"""Imports run one way: schemas <- adapters <- ingest <- training <- jobs. Every import statement of a shipped module,
function-level ones included (an import hidden in a method is still an upward import), names only its own layer or
the layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYERS = ("schemas", "adapters", "ingest", "training", "jobs")  # each may import only those before it


def _imported(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def upward_imports() -> list[str]:
    """`path:line layer -> module` for every import of a layer above the importing module's own."""
    hits = []
    for rank, layer in enumerate(LAYERS):
        above = set(LAYERS[rank + 1 :])
        for path in sorted((REPO / layer).rglob("*.py")):
            for line, module in _imported(path):
                if module.split(".")[0] in above:
                    hits.append(f"{path.relative_to(REPO)}:{line} {layer} -> {module}")
    return hits


def test_no_module_imports_a_layer_above_its_own() -> None:
    hits = upward_imports()
    assert not hits, (
        "imports that run up the layers (schemas <- adapters <- ingest <- training <- jobs):\n" + "\n".join(hits)
    )


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    hidden = tmp_path / "m.py"
    hidden.write_text(
        "import numpy\n\n\nclass A:\n    def f(self):\n        from ingest.canonical.hands import ManoHand\n"
    )
    assert (6, "ingest.canonical.hands") in _imported(hidden)
