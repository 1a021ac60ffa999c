"""The writer is the only owner of a dataset's meta: no shipped module outside `ingest/lerobot/` writes `info.json`,
`tasks.jsonl`, `episodes.jsonl` or `episodes_stats.jsonl` of a dataset.

Read from the source (AST): a call that writes (a function whose name says it writes, `open` in a writing mode, a
rename or copy) and names one of the meta paths in its arguments. The exports are the one exception: each writes
the meta of the new dataset it creates under its own output folder, never a corpus dataset's.
The behavioural half is `test_writer.py` and the caption store's crash test: a caption run killed inside the
writer's journal is rolled forward, which a direct write would not be.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SHIPPED = ("adapters", "ingest", "jobs", "training", "schemas")
OWNER = "ingest/lerobot/"
EXPORTS = "jobs/export/"  # write the meta of the dataset they create, not of the one they read
META_NAMES = {"INFO_PATH", "TASKS_PATH", "EPISODES_PATH", "EPISODES_STATS_PATH"}
META_FILES = {"info.json", "tasks.jsonl", "episodes.jsonl", "episodes_stats.jsonl"}
MOVES = {"replace", "rename", "copy", "copy2", "copyfile", "move"}


def _callee(call: ast.Call) -> str:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _writes(call: ast.Call) -> bool:
    name = _callee(call)
    if name == "open":
        modes = [a.value for a in call.args[1:2] if isinstance(a, ast.Constant)]
        modes += [k.value.value for k in call.keywords if k.arg == "mode" and isinstance(k.value, ast.Constant)]
        return any(isinstance(m, str) and set(m) & set("wax+") for m in modes)
    return "write" in name.lower() or name in MOVES


def _names_meta(call: ast.Call) -> bool:
    for arg in [*call.args, *(k.value for k in call.keywords)]:
        for node in ast.walk(arg):
            if isinstance(node, ast.Name) and node.id in META_NAMES:
                return True
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and Path(node.value).name in META_FILES:
                return True
    return False


def meta_writers(repo: Path = REPO, tops: tuple[str, ...] = SHIPPED) -> list[str]:
    found = []
    for top in tops:
        for path in sorted((repo / top).rglob("*.py")):
            rel = path.relative_to(repo).as_posix()
            if rel.startswith((OWNER, EXPORTS)):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and _writes(node) and _names_meta(node):
                    found.append(f"{rel}:{node.lineno}")
    return found


def test_only_the_writer_writes_a_datasets_meta() -> None:
    assert meta_writers() == []


def test_the_check_sees_a_second_writer(tmp_path: Path) -> None:
    """The check itself: the caption store's former direct writes are found."""
    former = tmp_path / "jobs" / "caption_store.py"
    former.parent.mkdir()
    former.write_text(
        "atomic_write(root / TASKS_PATH, text)\n"
        "atomic_write(root / INFO_PATH, dump_info(info))\n"
        "with open(root / 'meta/episodes.jsonl', 'a') as f: pass\n"
        "print(root / EPISODES_PATH)\n"  # naming a path is not writing it
        "open(root / EPISODES_PATH)\n"
    )
    assert meta_writers(tmp_path, ("jobs",)) == [f"jobs/caption_store.py:{n}" for n in (1, 2, 3)]
