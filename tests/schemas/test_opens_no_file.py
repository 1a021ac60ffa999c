"""`schemas` holds contracts and opens no file (issue 100 item 1: its LeRobot modules read a source's meta and
parquet, `dataset_meta`, `dataset_rows`, `lerobot`, `lfs`; the format's readers are `adapters/lerobot_format` now).

Nor a file of a corpus or a command (issue 100 item 1): a manifest folder is read by `jobs.catalog.manifest_read`,
the catalog's parts found by `jobs.catalog.parts.parquet_files`, the --settings file by `jobs.cli`. What is left reads
the package's own data, or appends to the voice file; each is listed with why, and a new one fails here."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# a call of one of these names touches the file system
FILE_CALLS = {
    *("open", "read_text", "read_bytes", "write_text", "write_bytes", "exists", "is_file", "is_dir", "iterdir"),
    *("glob", "rglob", "scandir", "walk", "stat", "mkdir", "unlink", "ParquetFile", "read_table", "read_metadata"),
    "read_schema",
}
# The package's own data is read where schemas builds its models at import (the robots' tables, the fault causes,
# the QA thresholds): a loader in a room above would be an upward import (tests/test_imports.py).
LEFT = {
    "schemas/data_file.py read_yaml read_text": "the package's YAML tables, read at import by `schemas.robots` too",
    "schemas/faults.py <module> read_text": "faults.toml beside it, read at import: `ENVIRONMENT_ERRNOS` and the rest",
    "schemas/thresholds.py threshold_model read_text": "its TOML tables, read at import by the QA config models",
    # the voice file the command made (`jobs.runtime.voice`): `say` is called by `adapters.storage.stalls`, which
    # imports only schemas, and by `jobs.runtime.retry`; in the storage room it would be an 11th name of its door
    # (tests/test_storage_door.py: at most 10)
    "schemas/faults.py say open": "appends a line to the voice file `EIDATA_STORE_VOICE` names",
}


def file_calls(root: Path = REPO) -> set[str]:
    """`path function call` of every file-system call in the schemas modules."""
    hits = set()
    for path in sorted((root / "schemas").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        inside = {n: fn.name for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef) for n in ast.walk(fn)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                if name in FILE_CALLS:
                    hits.add(f"{path.relative_to(root).as_posix()} {inside.get(node, '<module>')} {name}")
    return hits


def test_schemas_reads_no_source_file() -> None:
    assert file_calls() == set(LEFT)


def test_a_read_is_found(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas/lerobot.py").write_text("def load_info(p):\n    return p.read_bytes()\n")
    assert file_calls(tmp_path) == {"schemas/lerobot.py load_info read_bytes"}
