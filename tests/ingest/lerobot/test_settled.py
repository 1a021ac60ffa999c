"""`settled_datasets`: a corpus's datasets with any half-applied write finished before a reader sees them, and the
one way `jobs/` and `training/` list datasets."""

from __future__ import annotations

import ast
import json
import shutil
import signal
from pathlib import Path

import pytest

from adapters.lerobot_format.files import load_info
from ingest.lerobot.settled import settled_datasets
from ingest.lerobot.writer import LeRobotWriter
from ingest.lerobot.writer_dir import JOURNAL
from tests.fixtures.episodes import write_canonical_dataset
from tests.ingest.lerobot import _crash_writer as child
from tests.ingest.lerobot.crash_child import reap, start, wait_for

REPO = Path(__file__).resolve().parents[3]


def _tasks(ds: Path) -> list[str]:
    return [json.loads(x)["task"] for x in (ds / "meta/tasks.jsonl").read_text().splitlines() if x.strip()]


@pytest.mark.parametrize("point", ["episodes", "info"])
def test_a_meta_update_killed_midway_is_finished_before_the_dataset_is_listed(tmp_path: Path, point: str) -> None:
    """Review 6, N46: `caption` killed inside a meta update left tasks.jsonl holding a task info.json does not count
    and a pending journal; the rerun read the meta, called the episodes done and never opened a writer. Listed
    through `settled_datasets`, the dataset is the uninterrupted update's, its journal gone; a clean one untouched."""
    corpus = tmp_path / "corpus"
    killed, clean = corpus / "datasets/src/killed", corpus / "datasets/src/clean"
    write_canonical_dataset(killed, [6, 6, 6])
    shutil.copytree(killed, clean)
    proc = start(f"meta-{point}", killed, tmp_path / "child.err")
    assert wait_for(proc, "KILLED-AT", tmp_path / "child.err") == f"KILLED-AT {point}"
    assert reap(proc) == -signal.SIGKILL
    assert (killed / JOURNAL).exists()
    assert load_info(killed / "meta/info.json").total_tasks == 2  # the half-applied state a reader saw
    clean_files = {p: p.read_bytes() for p in clean.rglob("*") if p.is_file()}

    assert settled_datasets(corpus) == [clean, killed]
    assert not (killed / JOURNAL).exists()
    assert load_info(killed / "meta/info.json").total_tasks == len(_tasks(killed)) == 3
    assert {p: p.read_bytes() for p in clean.rglob("*") if p.is_file()} == clean_files

    reference = tmp_path / "reference"  # the uninterrupted update gives the same meta, byte for byte
    write_canonical_dataset(reference, [6, 6, 6])
    with LeRobotWriter.open(reference) as w:
        child.update_meta(w)
    for name in ("info.json", "tasks.jsonl", "episodes.jsonl"):
        assert (killed / "meta" / name).read_bytes() == (reference / "meta" / name).read_bytes(), name


def _calls_find_datasets(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (getattr(node.func, "id", None) or getattr(node.func, "attr", None)) == "find_datasets"
    ]


def test_jobs_and_training_list_datasets_only_through_settled_datasets() -> None:
    hits = [
        f"{path.relative_to(REPO)}:{line}"
        for top in ("jobs", "training")
        for path in sorted((REPO / top).rglob("*.py"))
        for line in _calls_find_datasets(path)
    ]
    assert not hits, "list a corpus's datasets with ingest.lerobot.settled.settled_datasets:\n" + "\n".join(hits)


def test_the_rule_sees_a_planted_call(tmp_path: Path) -> None:
    planted = tmp_path / "reader.py"
    planted.write_text("from schemas import corpus\n\nfor ds in corpus.find_datasets(root):\n    pass\n")
    assert _calls_find_datasets(planted) == [3]
