"""Imports run one way: schemas <- adapters/storage <- adapters/hostile <- adapters <- ingest <- training <- jobs, and
no module reaches itself again through the modules it imports (no file-level circle). Every import statement of a
shipped module counts, whether it sits at module level, inside a function (an import hidden in a method is still an
upward import, and still closes a circle when the method runs) or under `if TYPE_CHECKING:` (a circle that only the
type checker walks is still two modules that cannot be read, moved or tested one without the other)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOPS = ("schemas", "adapters", "ingest", "training", "jobs")  # the shipped folders
# Each layer may import only those before it. A module belongs to the longest layer its name starts with: the storage
# room (`adapters/storage`, the house's one I/O base) is a layer of its own, below the rest of adapters, and the
# hostile-input room (`adapters/hostile`, what a source's file may cost and reach) the one above it.
LAYERS = ("schemas", "adapters.storage", "adapters.hostile", "adapters", "ingest", "training", "jobs")


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path, root: Path = REPO) -> list[tuple[int, str]]:
    """`(line, dotted name)` for every import in the file, at any depth. `from m import n` gives `m.n` (a submodule
    or a name in `m`: `_resolve` tells which); a relative import is made absolute from the file's place under root."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            source = ".".join([*base, *([node.module] if node.module else [])])
            out += [(node.lineno, f"{source}.{a.name}") for a in node.names]
    return out


def layer_of(module: str) -> int | None:
    """The rank in `LAYERS` of the layer `module` (a dotted name) belongs to; None outside the shipped tree."""
    ranks = [rank for rank, layer in enumerate(LAYERS) if module == layer or module.startswith(layer + ".")]
    return max(ranks, key=lambda r: len(LAYERS[r])) if ranks else None


def upward_imports(root: Path = REPO) -> list[str]:
    """`path:line layer -> module` for every import of a layer above the importing module's own."""
    hits = []
    for path in sorted(p for top in TOPS for p in (root / top).rglob("*.py")):
        own = layer_of(_module_name(path, root))
        for line, module in _imported(path, root):
            target = layer_of(module)
            if own is not None and target is not None and target > own:
                hits.append(f"{path.relative_to(root)}:{line} {LAYERS[own]} -> {module}")
    return hits


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module file an imported name lands in: the longest dotted prefix that is a module of the tree."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if (candidate := ".".join(parts[:end])) in modules:
            return candidate
    return None


def import_graph(root: Path, tops: tuple[str, ...]) -> tuple[dict[str, dict[str, str]], dict[str, Path]]:
    """Module -> {module it imports: `file:line` of the first such import}, over every `.py` under root/<top>;
    imports of anything outside those folders are left out."""
    modules = {_module_name(p, root): p for top in tops for p in sorted((root / top).rglob("*.py"))}
    graph: dict[str, dict[str, str]] = {}
    for module, path in modules.items():
        edges = graph.setdefault(module, {})
        for line, name in sorted(_imported(path, root)):
            target = _resolve(name, modules)
            if target is not None and target != module:
                edges.setdefault(target, f"{path.relative_to(root)}:{line}")
    return graph, modules


def circles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted, sorted by first module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def describe(component: list[str], graph: dict[str, dict[str, str]]) -> str:
    """One circle: its modules, then every import that runs between two of them, with where it is written."""
    inside = set(component)
    edges = [f"    {a} -> {b}  ({graph[a][b]})" for a in component for b in sorted(graph[a]) if b in inside]
    return " <-> ".join(component) + "\n" + "\n".join(edges)


def test_no_module_imports_a_layer_above_its_own() -> None:
    hits = upward_imports()
    assert not hits, f"imports that run up the layers ({' <- '.join(LAYERS)}):\n" + "\n".join(hits)


def test_the_storage_room_imports_only_schemas(tmp_path: Path) -> None:
    (tmp_path / "adapters" / "storage").mkdir(parents=True)
    (tmp_path / "adapters" / "storage" / "corpus.py").write_text(
        "from adapters.storage.urls import filesystem\nfrom schemas.corpus import JOB_DIR\n"
        "def f():\n    from adapters.base import SourceAdapter\n"
    )
    (tmp_path / "adapters" / "base.py").write_text("from adapters.storage.corpus import Corpus\n")
    assert upward_imports(tmp_path) == ["adapters/storage/corpus.py:4 adapters.storage -> adapters.base.SourceAdapter"]


# Canonicalization measures and cuts (validity, idle ends: `ingest.canonical.validity`, `ingest.canonical.idle`); it
# never judges, and it imports nothing of QA (issue 77: it took its idle and validity cuts from `ingest/qa`): QA imports
# what it measures with from canonicalization, never the other way. The judging step is the only caller of what
# decides a tier or a quarantine.
QA = "ingest.qa"


def qa_imports(root: Path = REPO) -> list[str]:
    """`path:line -> module` for every import of a QA module (or of the steps that compose them) by
    `ingest/canonical`."""
    hits = []
    for path in sorted((root / "ingest" / "canonical").rglob("*.py")):
        for line, module in _imported(path, root):
            if module == QA or module.startswith((QA + ".", "ingest.steps")):
                hits.append(f"{path.relative_to(root)}:{line} -> {module}")
    return hits


def test_canonicalization_imports_nothing_of_qa() -> None:
    hits = qa_imports()
    assert not hits, "ingest/canonical imports QA (only ingest.qa.judge decides tiers):\n" + "\n".join(hits)


def test_the_qa_rule_sees_a_planted_import(tmp_path: Path) -> None:
    planted = tmp_path / "ingest" / "canonical" / "span.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("def f():\n    from ingest.qa.phase import assess_arrays\nfrom ingest.qa.idle import idle_cut\n")
    assert sorted(qa_imports(tmp_path)) == [
        "ingest/canonical/span.py:2 -> ingest.qa.phase.assess_arrays",
        "ingest/canonical/span.py:3 -> ingest.qa.idle.idle_cut",
    ]


# The record the steps pass is built of schemas and the adapter's types only: it imports no step's room (QA's types
# it carries live in `schemas.qa`), so no folder of ingest circles back through it.
RECORDS = ("ingest/episode.py",)


def record_imports(root: Path = REPO) -> list[str]:
    """`path:line -> module` for every import of an `ingest` module by a record module (`RECORDS`)."""
    return [
        f"{rel}:{line} -> {module}"
        for rel in RECORDS
        if (root / rel).exists()
        for line, module in _imported(root / rel, root)
        if module.startswith("ingest.")
    ]


def test_the_steps_record_imports_no_ingest_room() -> None:
    hits = record_imports()
    assert not hits, "the steps' record imports a room of ingest (move the type it needs to schemas/):\n" + "\n".join(
        hits
    )


def test_the_record_rule_sees_a_planted_import(tmp_path: Path) -> None:
    planted = tmp_path / "ingest" / "episode.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("from ingest.qa.idle import IdleCut\n")
    assert record_imports(tmp_path) == ["ingest/episode.py:1 -> ingest.qa.idle.IdleCut"]


def test_no_import_circle_between_modules() -> None:
    graph, _ = import_graph(REPO, TOPS)
    found = circles(graph)
    assert not found, (
        f"{len(found)} file-level import circle(s) (module-level, function-level and TYPE_CHECKING imports counted); "
        "break each by moving what both sides need into a third module, or by passing values instead of the object:\n"
        + "\n".join(describe(c, graph) for c in found)
    )


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    hidden = tmp_path / "m.py"
    hidden.write_text(
        "import numpy\n\n\nclass A:\n    def f(self):\n        from ingest.canonical.hands import ManoHand\n"
    )
    assert (6, "ingest.canonical.hands.ManoHand") in _imported(hidden, tmp_path)


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_the_check_finds_circles_through_functions_type_checking_and_relative_imports(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            # a <-> b: a module-level import one way, a TYPE_CHECKING import back
            "pkg/a.py": "from pkg.b import B\n",
            "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import A\nclass B: ...\n",
            # c -> d -> e -> c: a function-level relative import, a submodule named in `from pkg import e`, a plain one
            "pkg/c.py": "def f():\n    from . import d\n",
            "pkg/d.py": "from pkg import e\n",
            "pkg/e.py": "import pkg.c\n",
            # no circle: f imports a (inside a circle) and numpy (outside the tree); g imports the package's __init__
            "pkg/f.py": "import numpy\nfrom pkg.a import thing\n",
            "pkg/g.py": "from pkg import f_name\n",
            "other/__init__.py": "from pkg.a import x\n",
        },
    )
    graph, _ = import_graph(tmp_path, ("pkg", "other"))
    found = circles(graph)
    assert found == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.d", "pkg.e"]]
    assert graph["pkg.b"] == {"pkg.a": "pkg/b.py:3"}
    assert graph["pkg.c"] == {"pkg.d": "pkg/c.py:2"}
    assert graph["pkg.g"] == {"pkg": "pkg/g.py:1"}
    text = describe(found[1], graph)
    assert "pkg.c -> pkg.d  (pkg/c.py:2)" in text and "pkg.e -> pkg.c  (pkg/e.py:1)" in text


def test_the_repository_check_reads_every_shipped_module() -> None:
    graph, modules = import_graph(REPO, TOPS)
    assert set(graph) == set(modules)
    assert len(modules) > 200 and {"schemas.corpus", "jobs.cli", "adapters.registry"} <= set(modules)
    assert sum(len(e) for e in graph.values()) > 500  # the graph is not empty by a resolution slip
