"""The record of what each info.json held by its stat (`jobs.catalog.info_seen`): used while the stat is the same,
not recorded while the stat is young enough to hide a write in the same timestamp tick."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobs.catalog import info_seen
from jobs.catalog.info_seen import SEEN_JSON, Seen


def test_counts_are_taken_only_under_the_stat_they_were_read_under(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(info_seen, "RACY_NS", 0)
    info = tmp_path / "info.json"
    info.write_text("{}")
    first = Seen()
    first.saw("a", os.stat(info), 3, 40)
    assert first.save(tmp_path / "corpus") and (tmp_path / "corpus/catalog" / SEEN_JSON).is_file()
    again = Seen.load(tmp_path / "corpus")
    assert again.counts("a", os.stat(info)) == (3, 40) and again.now == first.now
    assert not again.save(tmp_path / "corpus")  # the same record: not written
    assert again.counts("b", os.stat(info)) is None
    info.write_text("{}")  # rewritten, the same size
    assert Seen.load(tmp_path / "corpus").counts("a", os.stat(info)) is None


def test_a_young_stat_is_not_recorded(tmp_path: Path) -> None:
    """A write within `RACY_NS` of the read could keep the stat the read saw (racy-git.txt): not trusted."""
    info = tmp_path / "info.json"
    info.write_text("{}")
    seen = Seen()
    seen.saw("a", os.stat(info), 3, 40)
    assert seen.now == {} and not seen.save(tmp_path)


def test_an_unreadable_or_older_record_is_none(tmp_path: Path) -> None:
    (tmp_path / "catalog").mkdir()
    for text in ("{", '{"seen_version": 0, "datasets": {"a": [1, 2, 3, 4, 5, 6]}}', "[]"):
        (tmp_path / "catalog" / SEEN_JSON).write_text(text)
        assert Seen.load(tmp_path).known == {}
