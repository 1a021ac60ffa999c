"""The language of one LeRobot episode (`adapters.lerobot.episode`): which columns hold instructions, descriptions and
annotation labels (`adapters.lerobot.columns`' vocabularies) and the spans their runs cover."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from adapters.base import Language
from adapters.lerobot.columns import BOOKKEEPING, INSTRUCTION_ANNOTATION, LABEL_ANNOTATION, runs, span_s
from adapters.lerobot_format.layout import column_to_numpy, is_numeric
from schemas.quirks import Severity


def episode_language(
    table: pa.Table,
    ts: np.ndarray,
    tasks: Mapping[int, str],
    fallback: Sequence[str],
    note: Callable[[str, Severity, str], None],
) -> tuple[list[Language], dict[str, list[dict[str, Any]]]]:
    """The instructions and descriptions of one episode's rows with their spans: `task_index` and numeric
    `annotation.*` columns (indices into the dataset's `tasks`; a label column's runs go to the annotations), per-frame
    string columns (ports that store the instruction itself), else the episode meta's `fallback` tasks. An index not
    in `tasks` is `note`d (`task_index_unknown`) and skipped; the same text over the same span is kept once."""
    out: list[Language] = []
    annotations: dict[str, list[dict[str, Any]]] = {}
    for col in ["task_index", *sorted(c for c in table.column_names if c.startswith("annotation."))]:
        if col not in table.column_names or not is_numeric(table.schema.field(col).type):
            continue
        kind_words, label_words = col.lower(), col.lower().split(".")[-1]
        instruction = col == "task_index" or any(w in kind_words for w in INSTRUCTION_ANNOTATION)
        kind = "instruction" if instruction else "description"
        is_label = col != "task_index" and any(w in label_words for w in LABEL_ANNOTATION)
        for start, end, value in runs(column_to_numpy(table[col]).reshape(-1)):
            text = tasks.get(int(value))
            if text is None:
                note("task_index_unknown", "warning", f"{col} value {value} is not a task index")
                continue
            s, e = span_s(ts, start, end)
            if is_label:
                annotations.setdefault(col, []).append({"text": text, "start_s": s, "end_s": e})
            else:
                out.append(Language(text, kind, s, e))
    for col in table.column_names:  # per-frame strings (some ports store the instruction itself)
        t = table.schema.field(col).type
        if col not in BOOKKEEPING and (pa.types.is_string(t) or pa.types.is_large_string(t)):
            for start, end, value in runs(np.asarray(table[col].to_pylist(), dtype=object)):
                if value:
                    out.append(Language(str(value), "instruction", *span_s(ts, start, end)))
    if not out and "task_index" not in table.column_names:
        out = [Language(t) for t in fallback]
    return list(dict.fromkeys(out)), annotations  # the same text over the same span once
