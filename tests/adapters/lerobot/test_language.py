"""Which columns of a LeRobot episode hold its language, and the spans their runs cover
(`adapters/lerobot/language.py`)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from adapters.base import Language
from adapters.lerobot.language import episode_language

TS = np.arange(6) / 10.0
TASKS = {0: "pick the cube", 1: "place it in the bowl", 2: "valid"}


def _read(table: pa.Table, fallback: tuple[str, ...] = ()) -> tuple[list[Language], dict, list[tuple[str, str]]]:
    notes: list[tuple[str, str]] = []
    out, ann = episode_language(table, TS, TASKS, fallback, lambda code, sev, msg: notes.append((code, msg)))
    return out, ann, notes


def test_task_index_runs_are_instructions_over_their_spans() -> None:
    out, ann, notes = _read(pa.table({"task_index": [0, 0, 0, 1, 1, 1]}))
    assert out == [
        Language("pick the cube", "instruction", 0.0, 0.2),
        Language("place it in the bowl", "instruction", 0.3, 0.5),
    ]
    assert ann == {} and notes == []


def test_one_task_over_the_whole_episode_has_no_span() -> None:
    out, _, _ = _read(pa.table({"task_index": [1] * 6}))
    assert out == [Language("place it in the bowl", "instruction", None, None)]


def test_a_validity_annotation_is_a_label_and_a_description_column_a_description() -> None:
    table = pa.table({"annotation.human.validity": [2] * 6, "annotation.human.scene": [0, 0, 0, 0, 0, 0]})
    out, ann, _ = _read(table)
    assert ann == {"annotation.human.validity": [{"text": "valid", "start_s": None, "end_s": None}]}
    assert out == [Language("pick the cube", "description", None, None)]


def test_an_unknown_index_is_noted_and_skipped() -> None:
    out, _, notes = _read(pa.table({"task_index": [0, 0, 0, 7, 7, 7]}))
    assert out == [Language("pick the cube", "instruction", 0.0, 0.2)]
    assert [code for code, _ in notes] == ["task_index_unknown"] and "7" in notes[0][1]


def test_per_frame_strings_are_instructions_and_the_meta_tasks_the_fallback() -> None:
    out, _, _ = _read(pa.table({"instruction": ["open the drawer"] * 3 + [""] * 3}))
    assert out == [Language("open the drawer", "instruction", 0.0, 0.2)]
    fallback, _, _ = _read(pa.table({"frame_index": list(range(6))}), fallback=("wipe the table",))
    assert fallback == [Language("wipe the table")]


def test_the_same_text_over_the_same_span_is_kept_once() -> None:
    table = pa.table({"task_index": [0] * 6, "prompt": ["pick the cube"] * 6})
    out, _, _ = _read(table)
    assert out == [Language("pick the cube", "instruction", None, None)]
