"""An Ego4D annotation file is read whole only within the JSON_BYTES limit, checked before a byte is read
(reliability review 1k: a sparse 2 GiB narration.json took discovery to 3.9 GB before failing to parse)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from adapters.base import AdapterError
from adapters.ego4d.adapter import Ego4DAdapter
from tests.fixtures.memory_cap import run_capped

CAP = 3 << 30
BUDGET = 700 << 20


def _sparse_narration(root: Path, size: int) -> Path:
    path = root / "narration.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    head = json.dumps({"v0": {"narration_pass_1": {"narrations": []}}})[:-1]  # a valid prefix, then holes
    path.write_text(head)
    os.truncate(path, size)
    return path


def test_a_sparse_2gib_narration_file_is_refused_within_a_memory_budget(tmp_path: Path) -> None:
    path = _sparse_narration(tmp_path / "root", 2 << 30)
    assert path.stat().st_blocks * 512 < 1 << 20  # sparse: the disk holds almost nothing
    run = run_capped(
        f"""
        from adapters.base import AdapterError
        from adapters.ego4d.adapter import Ego4DAdapter
        try:
            list(Ego4DAdapter().discover({str(tmp_path / "root")!r}))
            result = None
        except AdapterError as e:
            result = [e.file, e.field, e.reason]
        """,
        CAP,
    )
    assert run.returncode == 0, run.stderr
    assert run.result == [
        str(path),
        "narration.json",
        "unreadable narration.json: narration.json size in bytes: 2,147,483,648 declared, more than the limit "
        "(1,073,741,824), the setting max_json_bytes (--settings FILE); not read",
    ]
    assert run.peak_rss < BUDGET


def test_the_limit_is_configured(tmp_path: Path, settings: Any) -> None:
    _sparse_narration(tmp_path, 5000)
    settings(max_json_bytes=4096)
    with pytest.raises(AdapterError, match="5,000 declared, more than the limit"):
        list(Ego4DAdapter().discover(tmp_path))
    settings(max_json_bytes=8192)
    with pytest.raises(AdapterError, match=r"unreadable narration\.json: Expecting .,. delimiter"):
        list(Ego4DAdapter().discover(tmp_path))  # read (and refused for what it holds, not its size)
