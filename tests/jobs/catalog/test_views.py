"""The catalog's views and their reference: every column of every view has a meaning, every number a unit, the
reference lists exactly the columns the view's parquet parts hold, `jobs/catalog/VIEWS.md` is current, `eidata query
--describe` prints it without a corpus, and the demo's queries print no column name a view does not have (it printed
`reason` for `message`, and the next query a newcomer wrote failed on it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.catalog.query import run_query
from jobs.catalog.views import REFERENCE_MD, VIEWS, columns, describe, reference_markdown, unit_of
from jobs.cli import main
from jobs.demo.pipeline import QUERIES

# what the demo's queries compute and name themselves (counts and sums), never a view's column
DEMO_AGGREGATES = {"episodes", "hours", "with_action"}


def test_every_column_has_a_meaning_and_every_number_a_unit() -> None:
    for view in VIEWS:
        cols = columns(view)
        assert [c.name for c in cols] == VIEWS[view].schema.names  # the parquet parts' columns, in order
        assert [c.name for c in cols if len(c.meaning) < 8] == [], view
        numbers = [c for c in cols if c.type.split(" of ")[-1] in ("integer", "float")]
        assert [c.name for c in numbers if not c.unit] == [], view


def test_units_from_descriptions_and_names() -> None:
    assert unit_of("qa_acc_p95", "95th percentile wrist acceleration (m/s^2)") == "m/s^2"
    assert unit_of("qa_stream_frozen_s", "longest stretch ... (s; `ingest.qa.plateau.frozen_stream`); None") == "s"
    assert unit_of("qa_cam_dark_fraction", "near-black frames, worst camera") == "share 0..1"
    assert unit_of("qa_idle_start_s", "seconds before the first motion") == "s"
    assert unit_of("qa_glitch_frame", "frame farthest from the trend") == "frame index (10 Hz)"
    assert unit_of("task", "the task text the source gives") == ""
    by_name = {c.name: c for c in columns("episodes")}
    assert by_name["duration_s"].unit == "s" and by_name["raw_fps"].unit == "Hz"
    assert by_name["tier"].type == "text: high | low | actionless | rejected"
    assert by_name["cameras"].type == "list of text" and by_name["ingested_at"].type == "timestamp (UTC)"


def test_the_document_is_current() -> None:
    assert REFERENCE_MD.read_text(encoding="utf-8") == reference_markdown(), "run: python -m jobs.catalog.views"


def test_describe_needs_no_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--describe", "quarantine"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("quarantine: one row per raw episode")
    assert "  message " in out and "reason " not in out and "episodes:" not in out
    assert main(["query", "--describe"]) == 0
    out = capsys.readouterr().out
    assert out == describe() and all(f"\n{v}: one row per" in f"\n{out}" for v in VIEWS)
    assert main(["query"]) == 2
    assert "--describe" in capsys.readouterr().err


def test_the_demo_queries_print_only_columns_the_views_have(tmp_path: Path) -> None:
    known = {c.name for view in VIEWS for c in columns(view)} | DEMO_AGGREGATES
    for title, sql in QUERIES.items():
        printed = run_query(tmp_path, sql).column_names  # no catalog yet: the views bind, empty
        assert set(printed) <= known, (title, set(printed) - known)
