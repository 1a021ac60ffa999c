"""One storage room asks "is this a bucket?": outside `adapters/storage` and `schemas/storage.py`, no test (an `if`, a
ternary, an `assert`, a `while`, a comprehension's `if`, an `isinstance`) names `is_remote`, `is_object`, `is_url`,
`protocol_of`, `immutable`, `UPath` or a `Bucket*` class, or holds a URL's `://`. Code outside asks the storage
handle what it can do (`adapters.storage.root.Root`: `replaces`, `renames`, `paths`), and the room
answers for every scheme at once: review 7 §6 counted 20 such branches (27 by this rule at 126a635), one of them
wrong (`eidata export --format lda --out gs://bucket/out` wrote the local folder `gs:/bucket/out`).

A capability asked in a test is still a branch on the storage kind: outside the room, only a refusal may ask it (one
`Root.refusal` with one message; issue 77 item 1: at most 4). The rule (`kind_branches`): a test as above that reads
`.paths`, `.renames` or `.replaces` of anything but a source ref (`ref.paths` is a ref's file list),
or calls `.why_not(`, `.refusal(` or `folder_of(`, or types a place a spec or handle holds (`isinstance(x.output,
str)`, `isinstance(tree.where, Path)`: `Path | str` told apart by hand; issue 88 item 1 found 3). 12 at 88b39e0
(census, report, the lerobot-v3 manifest folder, validate twice, the dry-run guard, latents and text-embed twice
each, the Zarr and LDA refusals); 4 after: the refusals of Zarr stores, the LDA format, and one each of latents and
text-embed that replaces a file."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ("schemas", "adapters", "ingest", "training", "jobs")
ROOM = ("adapters/storage/", "schemas/storage.py")
NAMES = {"is_remote", "is_object", "is_url", "protocol_of", "immutable", "UPath"}
URL = re.compile("://")
MAX_OUTSIDE = 2  # issue 69's bar; there are none today
CAPABILITIES = {"paths", "renames", "replaces"}
ASKS = {"why_not", "refusal", "folder_of"}  # Root's answers, called as methods (`Root.folder_of` too)
PLACES = {"where", "output", "root", "out"}  # what a spec or a handle holds as `Path | str`
PLACE_TYPES = {"str", "Path"}
MAX_KIND = 4  # issue 77 item 1: the refusals (issue 98: a re-read and a removal ask the store, `Corpus.replace_tree`)


def _asks(test: ast.AST) -> bool:
    for node in ast.walk(test):
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        if name is not None and (name in NAMES or name.startswith("Bucket")):
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and URL.search(node.value):
            return True
    return False


def _asks_kind(test: ast.AST) -> bool:
    for node in ast.walk(test):
        if isinstance(node, ast.Attribute) and node.attr in CAPABILITIES:
            owner = node.value
            if (owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)) != "ref":
                return True
        if isinstance(node, ast.Call):
            f = node.func
            if (isinstance(f, ast.Attribute) and f.attr in ASKS) or (isinstance(f, ast.Name) and f.id == "folder_of"):
                return True
            if isinstance(f, ast.Name) and f.id == "isinstance" and _types_place(node.args):
                return True
    return False


def _types_place(args: list[ast.expr]) -> bool:
    """`isinstance(x.where, str)` and the like: a held place's `Path | str` told apart, the storage kind by hand."""
    if len(args) != 2 or not isinstance(args[0], ast.Attribute) or args[0].attr not in PLACES:
        return False
    return any(isinstance(n, ast.Name) and n.id in PLACE_TYPES for n in ast.walk(args[1]))


def _tests(source: str) -> list[ast.expr]:
    out: list[ast.expr] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.If, ast.IfExp, ast.While, ast.Assert)):
            out.append(node.test)
        elif isinstance(node, ast.comprehension):
            out.extend(node.ifs)
    return out


def kind_branches(source: str, where: str) -> list[str]:
    """`where:line` of each test in `source` that asks the storage a capability (see the module's docstring)."""
    return sorted({f"{where}:{t.lineno}" for t in _tests(source) if _asks_kind(t)})


def bucket_branches(source: str, where: str) -> list[str]:
    """`where:line` of each test in `source` that asks whether something is a bucket or a URL."""
    hits = set()
    for node in ast.walk(ast.parse(source)):
        tests: list[ast.expr] = []
        if isinstance(node, (ast.If, ast.IfExp, ast.While, ast.Assert)):
            tests = [node.test]
        elif isinstance(node, ast.comprehension):
            tests = list(node.ifs)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance":
            tests = [node]
        hits.update(f"{where}:{t.lineno}" for t in tests if _asks(t))
    return sorted(hits)


def branches_outside(root: Path = REPO, rule: Callable[[str, str], list[str]] = bucket_branches) -> list[str]:
    return [
        hit
        for top in SHIPPED
        for path in sorted((root / top).rglob("*.py"))
        if not (rel := path.relative_to(root).as_posix()).startswith(ROOM)
        for hit in rule(path.read_text(encoding="utf-8"), rel)
    ]


def test_only_the_storage_room_asks_whether_a_storage_is_a_bucket() -> None:
    hits = branches_outside()
    assert len(hits) <= MAX_OUTSIDE, (
        f"{len(hits)} 'is this a bucket?' tests outside adapters/storage (at most {MAX_OUTSIDE}): ask the storage "
        "handle what it can do (adapters.storage.root.Root: replaces, renames, paths):\n" + "\n".join(hits)
    )


def test_the_rule_sees_each_kind_of_branch() -> None:
    source = "\n".join(
        [
            "root = root if is_object(root) else root.resolve()",  # 1: the root-resolve copies
            "if job.overwrite and corpus.immutable:",  # 2: a refusal by flag
            "    pass",
            "assert not is_remote(str(out))",  # 4
            "xs = [p for p in ps if not str(p).startswith('s3://')]",  # 5: a URL prefix written by hand
            "ok = isinstance(v, (str, UPath))",  # 6: a type dispatch
            "while isinstance(c, BucketCorpus):",  # 7
            "    break",
            "if corpus.storage.replaces:",  # a capability asked of the handle: not a branch
            "    pass",
            "url = 's3://bucket'",  # a URL that is not tested
        ]
    )
    assert bucket_branches(source, "m.py") == [f"m.py:{n}" for n in (1, 2, 4, 5, 6, 7)]


def test_the_room_itself_is_left_out(tmp_path: Path) -> None:
    for rel in ("adapters/storage/corpus.py", "schemas/storage.py", "jobs/export/lda/job.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("if is_remote(str(out)):\n    pass\n")
    assert branches_outside(tmp_path) == ["jobs/export/lda/job.py:1"]


def test_outside_the_room_only_a_refusal_asks_what_a_storage_can_do() -> None:
    hits = branches_outside(rule=kind_branches)
    assert len(hits) <= MAX_KIND, (
        f"{len(hits)} tests of a storage capability outside adapters/storage (at most {MAX_KIND}, the refusals): "
        "give the corpus or tree handle a method that does the right thing for every storage (adapters/storage/"
        "stores.py: FolderStore, ObjectStore), or refuse with Root.refusal:\n" + "\n".join(hits)
    )


def test_the_kind_rule_sees_each_capability_asked() -> None:
    source = "\n".join(
        [
            "if out or corpus.storage.paths:",  # 1: "is it a folder?"
            "    pass",
            "if job.force and (refused := corpus.storage.refusal('replaces', '--force')):",  # 3: a refusal
            "    pass",
            "redo = a if (why := corpus.storage.why_not('replaces')) else b",  # 5
            "xs = [v for v in vs if folder_of(v) is not None]",  # 6
            "assert Root(p).renames",  # 7
            "file = task.ref.paths[0] if task.ref.paths else None",  # a ref's file list: not a capability
            "if ref.paths:",
            "    pass",
            "n = corpus.storage.replaces",  # read, not tested
            "where = f'{t.where}/x' if isinstance(t.where, str) else str(t.where / 'x')",  # 12: Path | str by hand
            "if out is None or not isinstance(src.root, (Path, int)):",  # 13
            "    pass",
            "if isinstance(root, str):",  # a name given as text made a Path: no place held
            "    pass",
            "if isinstance(spec.output, dict):",  # not a Path | str test
            "    pass",
        ]
    )
    assert kind_branches(source, "m.py") == sorted(f"m.py:{n}" for n in (1, 3, 5, 6, 7, 12, 13))
