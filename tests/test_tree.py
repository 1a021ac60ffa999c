"""The tree describes itself: every shipped module has its test at the mirrored path, none grows past its line budget,
the formatter owns the layout outside literal data tables, and a name has one import path (no module re-exports names
it does not define).

The mirror of `a/b/c.py` is `tests/a/b/test_c.py`, or a folder of tests `tests/a/b/c/`. The modules that have none
are listed below with why; a new module without a test fails here until it gets one (or a reason in the list).
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ("schemas", "adapters", "ingest", "training", "jobs")

# Modules without a mirrored test, each with its reason. Keep it short: a reason is a data table, a module whose
# behaviour is only observable through its caller's test, or one tested against the S3 server (its test is named).
NO_MIRROR: dict[str, str] = {
    "training/errors.py": "one exception class: raised and matched in tests/training/test_episodes.py, "
    "test_normalize.py and test_action_mask.py",
    "schemas/dataset_qa.py": "the pooled QA row's model and Arrow schema, written and read in "
    "tests/jobs/catalog/test_dataset_qa.py",
    "training/episode_latents.py": "train's index's latents reads, through `build_index`: "
    "tests/adapters/storage/test_plan_lines.py (from the catalog, no file opened) and tests/training/test_episodes.py",
    "adapters/storage/object_tree.py": "an object store's trees, through their handle: "
    "tests/adapters/storage/test_tree.py (on a local folder) and tests/s3/test_export_multipart.py",
}


# The size budget: a shipped module holds one idea, and past 400 lines it is split (STYLE: "Past ~400 lines, split").
# These were over it when the budget came (issue 54), each with its line count then: the list only shrinks. A module
# here may not grow past its count, and one back within the budget leaves the list.
MAX_LINES = 400
OVER_BUDGET: dict[str, int] = {}


def line_counts() -> dict[str, int]:
    """Every shipped Python module (relative path) -> its number of lines."""
    return {
        p.relative_to(REPO).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
        for top in SHIPPED
        for p in sorted((REPO / top).rglob("*.py"))
    }


def test_no_shipped_module_is_over_its_line_budget() -> None:
    counts = line_counts()
    over = [f"{m}: {n} lines" for m, n in counts.items() if n > MAX_LINES and m not in OVER_BUDGET]
    grew = [f"{m}: {counts[m]} lines, {n} allowed" for m, n in OVER_BUDGET.items() if counts.get(m, 0) > n]
    assert not over, f"modules over {MAX_LINES} lines (split them by idea):\n" + "\n".join(over)
    assert not grew, "modules over the budget that grew (split them rather than add):\n" + "\n".join(grew)


def test_the_over_budget_list_only_shrinks() -> None:
    counts = line_counts()
    back = [f"{m}: {counts.get(m, 0)} lines" for m in OVER_BUDGET if counts.get(m, 0) <= MAX_LINES]
    assert not back, f"within {MAX_LINES} lines now (or gone): drop them from OVER_BUDGET:\n" + "\n".join(back)


def _modules() -> list[Path]:
    out = []
    for top in SHIPPED:
        for p in sorted((REPO / top).rglob("*.py")):
            rel = p.relative_to(REPO)
            if "descriptions" in rel.parts:
                continue
            # a package's __init__ counts only when it holds code (more than imports and a docstring)
            if p.name == "__init__.py" and not _holds_code(p):
                continue
            out.append(rel)
    return out


def _holds_code(path: Path) -> bool:
    body = ast.parse(path.read_text()).body
    return any(not isinstance(n, (ast.Import, ast.ImportFrom, ast.Expr, ast.Assign)) for n in body)


def _mirror(rel: Path) -> list[Path]:
    if rel.name == "__init__.py":
        pkg = rel.parent
        return [REPO / "tests" / pkg.parent / f"test_{pkg.name}.py", REPO / "tests" / pkg]
    return [REPO / "tests" / rel.parent / f"test_{rel.stem}.py", REPO / "tests" / rel.parent / rel.stem]


def _mirrored(rel: Path) -> bool:
    for cand in _mirror(rel):
        if cand.suffix == ".py" and cand.is_file():
            return True
        if cand.is_dir() and any(cand.glob("test_*.py")):
            return True
    return False


def unmirrored() -> list[str]:
    return [str(rel) for rel in _modules() if not _mirrored(rel)]


def test_every_module_has_its_mirrored_test() -> None:
    missing = [m for m in unmirrored() if m not in NO_MIRROR]
    assert not missing, (
        "modules without tests/<same path>/test_<module>.py (write one, or give a reason in NO_MIRROR):\n"
        + "\n".join(missing)
    )


def test_the_no_mirror_list_names_only_unmirrored_modules() -> None:
    stale = sorted(set(NO_MIRROR) - set(unmirrored()))
    assert not stale, f"these now have a mirrored test (or no longer exist): drop them from NO_MIRROR: {stale}"


def _leaves(node: ast.AST) -> int | None:
    """Number of constants in a literal container of constants (a data table), None when anything else is inside."""
    if isinstance(node, ast.Constant):
        return 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
        return 1
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        parts = [_leaves(e) for e in node.elts]
    elif isinstance(node, ast.Dict):
        parts = [_leaves(e) for e in node.values] + [None if k is None else _leaves(k) for k in node.keys]
    elif isinstance(node, ast.Call):
        parts = [_leaves(a) for a in node.args] or [None]
    else:
        return None
    return None if any(p is None for p in parts) else sum(parts)  # type: ignore[arg-type]


def test_fmt_skip_only_on_data_tables() -> None:
    hits = []
    for top in (*SHIPPED, "tests", "benchmarks"):
        for p in sorted((REPO / top).rglob("*.py")):
            src = p.read_text()
            if "# fmt: skip" not in src:
                continue
            stmts = [n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.stmt)]
            marked = [
                tok.start[0]
                for tok in tokenize.generate_tokens(io.StringIO(src).readline)
                if tok.type == tokenize.COMMENT and tok.string.strip() == "# fmt: skip"
            ]
            for i in marked:
                ending = [s for s in stmts if s.end_lineno == i]
                stmt = min(ending, key=lambda s: s.end_lineno - s.lineno) if ending else None
                value = getattr(stmt, "value", None)
                n = _leaves(value) if value is not None else None
                if n is None or n < 6:
                    hits.append(f"{p.relative_to(REPO)}:{i}")
    assert not hits, "`# fmt: skip` outside a literal data table (let ruff lay it out):\n" + "\n".join(hits)


def _defined(tree: ast.Module) -> set[str]:
    """The names a module binds itself at its top level (in an `if` or `try` there too), imports aside."""
    names: set[str] = set()
    body = list(tree.body)
    while body:
        n = body.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, (ast.Assign, ast.AnnAssign)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            names |= {x.id for t in targets for x in ast.walk(t) if isinstance(x, ast.Name)}
        elif isinstance(n, (ast.If, ast.Try)):
            body += [
                *n.body,
                *n.orelse,
                *getattr(n, "finalbody", []),
                *(s for h in getattr(n, "handlers", []) for s in h.body),
            ]
    return names


def test_no_module_re_exports_names_it_does_not_define() -> None:
    """A module's `__all__` lists only what it defines; a package `__init__` may name its own submodules' API."""
    hits = []
    for rel in _modules():
        if rel.name == "__init__.py":
            continue
        tree = ast.parse((REPO / rel).read_text())
        for n in tree.body:
            if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets):
                listed = {e.value for e in getattr(n.value, "elts", []) if isinstance(e, ast.Constant)}
                foreign = sorted(listed - _defined(tree))
                if foreign:
                    hits.append(f"{rel}: {foreign}")
    assert not hits, "re-exports (import these names from where they are defined):\n" + "\n".join(hits)


def test_names_are_imported_from_the_module_that_defines_them() -> None:
    """`from a.b import name` names a module of the tree that binds `name` itself, never one that only imports it (a
    re-export by import, which `__all__` does not show: the review found `CanonicalEpisode` taken from
    `ingest.canonical.canonicalize` by 11 tests). A package `__init__` may name its own submodules' API."""
    defined: dict[Path, set[str]] = {}
    hits = []
    for top in (*SHIPPED, "tests", "benchmarks"):
        for p in sorted((REPO / top).rglob("*.py")):
            if "data" in p.relative_to(REPO).parts[:3]:
                continue
            for n in ast.walk(ast.parse(p.read_text())):
                if not isinstance(n, ast.ImportFrom) or n.level or not n.module:
                    continue
                src = REPO / (n.module.replace(".", "/") + ".py")
                if n.module.split(".")[0] not in SHIPPED or not src.is_file():
                    continue  # a package (its __init__) or a library
                if src not in defined:
                    defined[src] = _defined(ast.parse(src.read_text()))
                foreign = [a.name for a in n.names if a.name not in defined[src]]
                hits += [f"{p.relative_to(REPO)}:{n.lineno}: {name} from {n.module}" for name in foreign]
    assert not hits, "import these names from the module that defines them:\n" + "\n".join(hits)
