"""`schemas.episode_lines` through the shared readers (`read_jsonl`, `CorpusFiles.jsonl`): a line of an episode not
asked for is passed over unparsed where it opens with its `episode_index`; any other line is parsed to learn it, so
what is kept is exactly what a full read then filtered keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.lerobot_format.files import read_jsonl
from adapters.storage.corpus_files import CorpusFiles
from schemas.episode_lines import head_index, kept_fields
from schemas.lerobot import MetaFileError


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = json.loads

    def counting(s: str | bytes, *a: object, **k: object) -> object:
        calls.append(1)
        return real(s, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(json, "loads", counting)
    return calls


def _lines(path: Path, n: int) -> Path:
    lines = [
        json.dumps({"episode_index": i, "length": 10 + i, "eidata": {"episode_uid": f"s/x/e{i}"}}) for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_one_episode_of_many_parses_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _lines(tmp_path / "episodes.jsonl", 200)
    calls = _count_parses(monkeypatch)
    got = [obj for _, obj in read_jsonl(path, {137})]
    assert [o["episode_index"] for o in got] == [137] and len(calls) == 1
    calls.clear()
    files = CorpusFiles(str(tmp_path))  # train's reader
    assert [o["length"] for _, o in files.jsonl(files.join("episodes.jsonl"), {5, 6})] == [15, 16] and len(calls) == 2


def test_a_line_in_another_order_is_parsed_and_filtered_as_a_full_read(tmp_path: Path) -> None:
    path = tmp_path / "episodes.jsonl"
    rows = [
        '{"length": 3, "episode_index": 1}',  # another tool's order: parsed to learn its index
        '{"episode_index": 2, "x": {"episode_index": 9}}',  # the key twice: parsed
        '{"episode_index": 3, "task": "caf\\u00e9"}',  # an escape that could spell the key: parsed
        '{"episode_index": 4}',
        '{"episode_index": "5"}',  # not an integer: kept for the caller to refuse, naming it
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    full = [o for _, o in read_jsonl(path)]
    for wanted in ({1}, {2}, {9}, {3, 4}, set()):
        expect = [o for o in full if not isinstance(o["episode_index"], int) or o["episode_index"] in wanted]
        assert [o for _, o in read_jsonl(path, wanted)] == expect
    assert [head_index(r.encode()) for r in rows] == [None, None, None, 4, None]


def test_a_bad_line_of_an_episode_asked_for_is_still_named(tmp_path: Path) -> None:
    path = tmp_path / "episodes.jsonl"
    path.write_text('{"episode_index": 0}\n{"episode_index": 1, "tasks": [\n', encoding="utf-8")
    with pytest.raises(MetaFileError, match=r"episodes.jsonl:2: not valid JSON"):
        list(read_jsonl(path, {1}))


def test_kept_fields_keeps_the_named_keys_of_the_line_and_its_lineage() -> None:
    line = {"episode_index": 3, "length": 7, "big": [0] * 9, "eidata": {"episode_uid": "u", "qa": {"x": 1}}}
    assert kept_fields(line, ("episode_index", "length"), {"eidata": ("episode_uid", "mask")}) == {
        "episode_index": 3,
        "length": 7,
        "eidata": {"episode_uid": "u"},
    }
    assert kept_fields({"eidata": "odd"}, (), {"eidata": ("x",)}) == {"eidata": "odd"}
