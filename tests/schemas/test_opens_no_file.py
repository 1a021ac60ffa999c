"""`schemas` holds contracts and opens no file (issue 100 item 1: its LeRobot modules read a source's meta and
parquet, `dataset_meta`, `dataset_rows`, `lerobot`, `lfs`; the format's readers are `adapters/lerobot_format` now).

What is left reads the package's own data, or a file a command names for itself, not a source's; each is listed with
why, and a new one fails here."""

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
LEFT = {
    "schemas/data_file.py read_yaml read_text": "the package's YAML tables (robots, layouts, presets), shipped data",
    "schemas/faults.py <module> read_text": "faults.toml beside it, the package's data",
    "schemas/thresholds.py threshold_model read_text": "its TOML tables through importlib.resources, package data",
    "schemas/faults.py say open": "appends a line to the voice file the command made (`jobs.runtime.voice`)",
    "schemas/settings.py load read_text": "the --settings file a command is given",
    "schemas/manifest.py load read_text": "a manifest's own manifest.json, written by `eidata curate`",
    "schemas/manifest.py entries_file is_file": "the same manifest folder",
    "schemas/corpus.py parquet_files is_dir": "a corpus's catalog parts (eidata's own files, not a source's)",
    "schemas/corpus.py parquet_files iterdir": "the same",
    "schemas/corpus.py parquet_files is_file": "the same",
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
