"""`Root` is the only door to storage (issue 77 item 1): outside `adapters/storage` nothing makes a Location from a
path or URL itself (`locate(`: 52 calls at 88b39e0, adapters reading `self.locate(ref.paths[i])`); an adapter reaches
a file through its source's Root (`SourceAdapter.file` -> `Root.file`, one resolver that refuses a path outside the
root). And every method of `Root` has a caller in shipped code (`open` and `local_path` had none): a method nothing
calls is a door nobody uses, and what the commit protocol needs of the store is a Root method it calls instead of
reaching for `fs`.

The room's face is what the rest of the house imports of it: 71 names from 22 modules at 00f20645 (review 9 §1.1).
Issue 88 item 1 wants at most 10 (a `Root` and what it returns); `MAX_FACE` holds the count where it stands, and
only goes down."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from tests.test_storage_room import REPO, ROOM, SHIPPED

ROOT_MODULE = "adapters/storage/root.py"
STORAGE = "adapters.storage"
MAX_FACE = 10  # names: issue 88 item 1's bar


@cache
def _modules(root: Path) -> dict[str, ast.Module]:
    return {
        path.relative_to(root).as_posix(): ast.parse(path.read_text(encoding="utf-8"))
        for top in SHIPPED
        for path in sorted((root / top).rglob("*.py"))
    }


def _called(func: ast.expr) -> str | None:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def locate_calls(root: Path = REPO) -> list[str]:
    """`where:line` of each call of a `locate` (the function, or a method of that name) outside the storage room."""
    return [
        f"{rel}:{node.lineno}"
        for rel, tree in _modules(root).items()
        if not rel.startswith(ROOM)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _called(node.func) == "locate"
    ]


def face(root: Path = REPO) -> dict[str, set[str]]:
    """Each name shipped modules outside the room import from it (`from adapters.storage.x import name`, or the
    module itself: `from adapters.storage import x`, `import adapters.storage.x`) -> the modules importing it."""
    names: dict[str, set[str]] = {}
    for rel, tree in _modules(root).items():
        if rel.startswith(ROOM):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(STORAGE):
                for alias in node.names:
                    names.setdefault(alias.name, set()).add(rel)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(STORAGE + "."):
                        names.setdefault(alias.name.rsplit(".", 1)[-1], set()).add(rel)
    return names


def _mentions_root(annotation: ast.expr | None) -> bool:
    return annotation is not None and any(isinstance(n, ast.Name) and n.id == "Root" for n in ast.walk(annotation))


def _root_names(tree: ast.Module) -> set[str]:
    """The names (a variable, a parameter, an attribute's last part) a module gives a `Root`: annotated `Root`, or
    assigned a `Root(...)` or one of those names (`self.root, self.output = root, root.path`)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and _mentions_root(node.annotation):
            names.add(node.arg)
        elif isinstance(node, ast.AnnAssign) and _mentions_root(node.annotation):
            names.add(_called(node.target) or "")
    for _ in range(2):  # a name assigned from a name found in the first pass
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    pairs = (
                        zip(target.elts, node.value.elts, strict=False)
                        if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                        else [(target, node.value)]
                    )
                    for t, v in pairs:
                        is_root = isinstance(v, ast.Call) and _called(v.func) == "Root"
                        is_root |= isinstance(v, ast.IfExp) and any(_called(x) in names for x in (v.body, v.orelse))
                        if is_root or (_called(v) in names and isinstance(v, ast.Name | ast.Attribute)):
                            names.add(_called(t) or "")
    return names - {""}


def root_methods(root: Path = REPO) -> set[str]:
    """The public methods of `Root` (properties and dunders are not doors)."""
    tree = ast.parse((root / ROOT_MODULE).read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Root")
    return {
        f.name
        for f in cls.body
        if isinstance(f, ast.FunctionDef)
        and not f.name.startswith("_")
        and not any(_called(d) == "property" for d in f.decorator_list)
    }


def uncalled_root_methods(root: Path = REPO) -> list[str]:
    """The `Root` methods no shipped module calls on a Root (a name that module gives one, `Root(...)` itself, or
    `self` within root.py: one method of Root calling another) or on the class (`Root.folder_of`)."""
    called: set[str] = set()
    for rel, tree in _modules(root).items():
        names = _root_names(tree) | ({"self"} if rel == ROOT_MODULE else set())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                on = node.func.value
                if (isinstance(on, ast.Call) and _called(on.func) == "Root") or _called(on) in names | {"Root"}:
                    called.add(node.func.attr)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Root":
                called.add(node.attr)  # `Root.folder_problem` handed to a validator
    return sorted(root_methods(root) - called)


def test_nothing_outside_the_storage_room_locates_a_path_itself() -> None:
    hits = locate_calls()
    assert hits == [], (
        f"{len(hits)} `locate(` calls outside adapters/storage: reach a file through its source's Root "
        "(SourceAdapter.file, Root.file / Root.location):\n" + "\n".join(hits)
    )


def test_the_rest_of_the_house_imports_few_names_of_the_storage_room() -> None:
    names = face()
    assert len(names) <= MAX_FACE, (
        f"{len(names)} names imported from adapters.storage outside the room (at most {MAX_FACE}; issue 88: 10): "
        "reach storage through a Root and what it returns:\n"
        + "\n".join(f"{n}: {len(m)} modules" for n, m in sorted(names.items()))
    )


def test_every_root_method_has_a_caller() -> None:
    assert uncalled_root_methods() == [], "Root methods nothing in shipped code calls on a Root: call or remove them"


def test_the_rules_see_what_they_count() -> None:
    """Each rule counts a planted instance of what it forbids, and not what it allows."""
    tree = ast.parse(
        "def f(root: Root, where):\n"
        "    store = Root(where)\n"
        "    loc = locate(where)\n"
        "    self.locate(where)\n"
        "    root.read('a'); store.keys(); Root(where).location(); where.open()\n"
        "    self.root, self.n = root, 1\n"
        "    self.root.remove('a')\n"
    )
    assert {"root", "store"} <= _root_names(tree) and "where" not in _root_names(tree)
    assert sum(isinstance(n, ast.Call) and _called(n.func) == "locate" for n in ast.walk(tree)) == 2


def test_a_planted_tree_breaks_both_rules(tmp_path: Path) -> None:
    """A Root method only a Path calls (`open`), one nobody calls (`gone`), and a `locate(` in an adapter."""
    (tmp_path / "adapters/storage").mkdir(parents=True)
    (tmp_path / ROOT_MODULE).write_text(
        "class Root:\n"
        "    @property\n    def fs(self): ...\n"
        "    def read(self, rel): return self.key(rel)\n"
        "    def key(self, rel): ...\n    def open(self, rel): ...\n    def gone(self): ...\n"
    )
    (tmp_path / "adapters/x.py").write_text(
        "def f(root: Root, path: Path):\n    path.open()\n    locate(path)\n    return root.read('a')\n"
    )
    assert uncalled_root_methods(tmp_path) == ["gone", "open"]
    assert locate_calls(tmp_path) == ["adapters/x.py:3"]


def test_the_face_counts_each_name_once_and_leaves_the_room_out(tmp_path: Path) -> None:
    _modules.cache_clear()
    for rel, text in {
        "adapters/storage/corpus.py": "from adapters.storage.root import Root, folder_of\n",
        "jobs/a.py": "from adapters.storage.root import Root\nfrom adapters.storage import atomic\n",
        "ingest/b.py": "import adapters.storage.tree\nfrom adapters.storage.root import Root\nimport adapters.x\n",
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert face(tmp_path) == {"Root": {"jobs/a.py", "ingest/b.py"}, "atomic": {"jobs/a.py"}, "tree": {"ingest/b.py"}}
