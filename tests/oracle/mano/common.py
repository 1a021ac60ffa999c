"""What the makers' oracles share (run in `.venv-oracle-mano`, `run.py`): a maker's definitions taken from its own
file, and a CPU stand-in for `.cuda()`."""

from __future__ import annotations

import ast
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def their(path: Path | str, *names: str, **namespace: Any) -> dict[str, Any]:
    """The top-level functions, classes and assignments called `names` of the maker's file `path`, compiled from its
    own text (its file name and line numbers kept, so a traceback points into it) and run in `namespace`, which gives
    the module-level names they use. For a file whose other imports cannot be met here (a renderer, a viewer): the
    definitions run are the maker's, unchanged. A name missing from the file is an error."""
    path = Path(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    picked, found = [], set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in names:
            picked.append(node)
            found.add(node.name)
        elif isinstance(node, ast.Assign):
            targets = {t.id for t in node.targets if isinstance(t, ast.Name)}
            if targets & set(names):
                picked.append(node)
                found |= targets & set(names)
    missing = set(names) - found
    if missing:
        raise LookupError(f"{path}: no top-level {sorted(missing)}")
    scope: dict[str, Any] = {"__name__": f"maker:{path.name}", "__file__": str(path), **namespace}
    exec(compile(ast.Module(body=picked, type_ignores=[]), str(path), "exec"), scope)
    return {n: scope[n] for n in names}


@contextlib.contextmanager
def on_cpu() -> Iterator[None]:
    """`Tensor.cuda()` and `Module.cuda()` return the tensor or module as it is (on the CPU): for maker code that moves
    its tensors to a GPU where this machine has none (the CPU build of torch raises). The arithmetic is unchanged."""
    import torch

    saved = torch.Tensor.cuda, torch.nn.Module.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    torch.nn.Module.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.cuda, torch.nn.Module.cuda = saved  # type: ignore[method-assign]


@contextlib.contextmanager
def on_path(*folders: Path | str) -> Iterator[None]:
    """`folders` first on `sys.path` while the block runs."""
    sys.path[:0] = [str(f) for f in folders]
    try:
        yield
    finally:
        del sys.path[: len(folders)]
