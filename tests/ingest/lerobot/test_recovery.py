"""Opening after a crash, step by step: meta lines and episode files past info.json's totals go, a torn file that
holds fewer lines than info.json counts is an error, and a journal left behind is finished."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from ingest.lerobot.errors import DatasetError
from ingest.lerobot.journal import build_meta_journal
from ingest.lerobot.recovery import recover
from ingest.lerobot.writer_dir import JOURNAL
from schemas.lerobot import EPISODES_PATH, EPISODES_STATS_PATH, TASKS_PATH
from tests.fixtures.episodes import write_canonical_dataset


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("recovery") / "base"
    write_canonical_dataset(root, [4, 4])
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_lines_and_files_past_the_totals_are_removed(base: Path, tmp_path: Path) -> None:
    """What a writer killed before its journal could leave: lines appended by hand, a third episode's files."""
    root = tmp_path / "ds"
    shutil.copytree(base, root)
    before = _tree(root)
    for rel in (EPISODES_PATH, EPISODES_STATS_PATH, TASKS_PATH):
        with open(root / rel, "a") as f:
            f.write('{"episode_index": 2}\n{"torn": ')
    orphans = [root / "data/chunk-000/episode_000002.parquet"]
    orphans += [p.with_name("episode_000002.mp4") for p in root.glob("videos/chunk-000/*/episode_000000.mp4")]
    for p in orphans:
        p.write_bytes(b"left behind")
    recover(root, durable=False)
    assert _tree(root) == before


def test_fewer_lines_than_info_counts_is_an_error(base: Path, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(base, root)
    text = (root / EPISODES_PATH).read_text()
    (root / EPISODES_PATH).write_text(text[: len(text) - 5])  # the second line lost its end
    with pytest.raises(DatasetError, match=r"fewer complete lines than info\.json counts \(2\)"):
        recover(root, durable=False)


def test_a_journal_left_behind_is_finished_and_logged(
    base: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "ds"
    shutil.copytree(base, root)
    line = json.loads((root / EPISODES_PATH).read_text().split("\n")[0])
    journal = build_meta_journal(
        root, appends={}, lines={EPISODES_PATH: {0: json.dumps({**line, "x": 1}) + "\n"}}, info=None
    )
    (root / JOURNAL).write_text(json.dumps(journal))
    with caplog.at_level(logging.WARNING, logger="ingest.lerobot.recovery"):
        recover(root, durable=False)
    assert "finishing the interrupted meta update of 1 lines" in caplog.text
    assert json.loads((root / EPISODES_PATH).read_text().split("\n")[0])["x"] == 1
    assert not (root / JOURNAL).exists()
