"""A raw dataset given where a corpus goes gets one answer from every command that reads a corpus: it is not a
corpus, and `eidata ingest` makes one (newcomer review 7, item 8: curate said "the where clause selects no episode",
export advised running curate on the raw folder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.cli import main

COMMANDS = {
    "curate": ["curate", "{root}", "--name", "x", "--where", "TRUE"],
    "export": ["export", "{root}", "--format", "lerobot-v3", "--manifest", "x", "--out", "{out}"],
    "query": ["query", "{root}", "SELECT count(*) FROM episodes"],
    "report": ["report", "{root}", "--out", "{out}/r.html"],
}


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """A LeRobot dataset's own layout (meta/info.json, data/): a source, not a corpus."""
    root = tmp_path / "raw" / "g1"
    (root / "meta").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "meta" / "info.json").write_text(json.dumps({"codebase_version": "v2.1", "fps": 30}))
    return root


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_raw_dataset_is_named_not_a_corpus(
    command: str, raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a.format(root=raw, out=tmp_path / "out") for a in COMMANDS[command]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{raw}: not an eidata corpus" in err and "eidata ingest" in err, err
    assert "selects no episode" not in err and "`eidata curate" not in err
    assert not (raw / "catalog").exists() and not (raw / "manifests").exists() and not (tmp_path / "out").exists()
