"""`eidata query`: DuckDB views over catalog parquet parts written by `jobs.catalog.parts`, and the three output
formats."""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from jobs.catalog.guard import ReadOnlyError
from jobs.catalog.parts import write_quarantine_part
from jobs.catalog.query import cli_query, connect, format_table, run_query
from schemas.catalog import CATALOG_SCHEMA, CatalogRow
from schemas.corpus import QuarantineRow
from tests.fixtures.corpus import write_catalog_part

T0 = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)


def row(source: str, subset: str, i: int, *, tier: str = "high", frames: int = 100, **kw: object) -> CatalogRow:
    fields: dict[str, object] = {
        "episode_uid": f"{source}/{subset}/{i:04d}",
        "source": source,
        "subset": subset,
        "dataset": f"datasets/{source}/{subset}",
        "episode_index": i,
        "embodiment": "human" if source == "egodex" else "franka",
        "tier": tier,
        "tier_reasons": [] if tier == "high" else ["idle ratio 0.61 > 0.5"],
        "task": "pick the cube",
        "num_frames": frames,
        "duration_s": frames / 10,
        "has_action": tier != "actionless",
        "has_hands": source == "egodex",
        "cameras": ["head", "wrist_right"],
        "raw_path": f"/raw/{source}/{i}",
        "raw_fps": 30.0,
        "content_hash": f"{i:064x}",
        "pipeline_version": "eidata-canon-1",
        "ingested_at": T0,
    }
    fields.update(kw)
    return CatalogRow.model_validate(fields)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    write_catalog_part(root, [row("oxe", "bridge", i, frames=36_000) for i in range(3)], "oxe")
    write_catalog_part(
        root,
        [row("egodex", "basic", 0, frames=18_000), row("egodex", "basic", 1, tier="low", frames=72_000, caption=None)],
        "egodex",
    )
    write_quarantine_part(
        root,
        [
            QuarantineRow(
                source="oxe",
                subset="bridge",
                adapter="oxe",
                raw_path="/raw/oxe/9",
                stage="read",
                error_class="CorruptRecordError",
                message="CRC mismatch",
                quarantined_at=T0,
            ),
            QuarantineRow(
                source="egodex",
                adapter="egodex",
                raw_path="/raw/egodex/x.hdf5",
                stage="discover",
                error_class="MissingGroupError",
                message="no /transforms group",
                field="transforms",
                quarantined_at=T0,
            ),
        ],
        "job",
    )
    return root


def test_views_span_every_part(corpus: Path) -> None:
    got = run_query(
        corpus,
        "SELECT source, tier, sum(duration_s)/3600 AS hours, count(*) AS n FROM episodes GROUP BY ALL ORDER BY ALL",
    )
    assert got.to_pylist() == [
        {"source": "egodex", "tier": "high", "hours": 0.5, "n": 1},
        {"source": "egodex", "tier": "low", "hours": 2.0, "n": 1},
        {"source": "oxe", "tier": "high", "hours": 3.0, "n": 3},
    ]
    lists = run_query(corpus, "SELECT list_contains(cameras, 'head') AS h, ingested_at FROM episodes LIMIT 1")
    assert lists.to_pylist() == [{"h": True, "ingested_at": T0}]
    assert lists.schema.field("ingested_at").type.tz in ("UTC", "Etc/UTC")


def test_quarantine_view(corpus: Path) -> None:
    got = run_query(corpus, "SELECT stage, error_class, field FROM quarantine ORDER BY stage").to_pylist()
    assert got == [
        {"stage": "discover", "error_class": "MissingGroupError", "field": "transforms"},
        {"stage": "read", "error_class": "CorruptRecordError", "field": None},
    ]


def test_empty_corpus_has_queryable_empty_views(tmp_path: Path) -> None:
    for view in ("episodes", "quarantine"):
        assert run_query(tmp_path, f"SELECT count(*) AS n FROM {view}").to_pylist() == [{"n": 0}]
    assert run_query(tmp_path, "SELECT source, sum(duration_s) FROM episodes GROUP BY ALL").num_rows == 0
    con = connect(tmp_path)
    try:
        empty = con.sql("SELECT * FROM episodes").to_arrow_table()
        described = {name: typ for name, typ, *_ in con.sql("DESCRIBE quarantine").fetchall()}
    finally:
        con.close()
    assert empty.schema.names == CATALOG_SCHEMA.names
    assert empty.schema.field("cameras").type == pa.list_(pa.string())
    assert described["quarantined_at"] == "TIMESTAMP WITH TIME ZONE" and described["stage"] == "VARCHAR"


def test_quarantine_view_is_empty_when_only_episodes_exist(tmp_path: Path) -> None:
    write_catalog_part(tmp_path, [row("oxe", "bridge", 0)], "p")
    assert run_query(tmp_path, "SELECT count(*) AS n FROM quarantine").to_pylist() == [{"n": 0}]
    assert run_query(tmp_path, "SELECT count(*) AS n FROM episodes").to_pylist() == [{"n": 1}]


def test_paths_with_glob_and_quote_characters(tmp_path: Path) -> None:
    root = tmp_path / "it's [a] corpus*"
    write_catalog_part(root, [row("oxe", "bridge", 0)], "p")
    assert run_query(root, "SELECT episode_uid FROM episodes").to_pylist() == [{"episode_uid": "oxe/bridge/0000"}]


def test_statement_without_result_gives_an_empty_table(corpus: Path) -> None:
    assert run_query(corpus, "SET threads = 1", unrestricted=True).num_rows == 0


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file beside the corpus that no catalog query may read."""
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("word\nTOP-SECRET-OUTSIDE-ROOT\n")
    return secret


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('{secret}')",
        "SELECT content FROM read_text('{secret}')",
        "SELECT * FROM glob('{folder}/*')",
        "SELECT * FROM episodes, read_csv('{secret}')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_parquet('{corpus}/../outside/*.parquet')",
    ],
)
def test_a_query_reads_no_file_but_the_catalog(corpus: Path, outside: Path, sql: str) -> None:
    sql = sql.format(secret=outside, folder=outside.parent, corpus=corpus)
    with pytest.raises(duckdb.PermissionException, match="disabled by configuration") as err:
        run_query(corpus, sql)
    assert "TOP-SECRET" not in str(err.value)


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("COPY (SELECT episode_uid FROM episodes) TO '{out}/q_copy.csv'", "COPY"),
        ("ATTACH '{out}/new.duckdb' AS x", "ATTACH"),
        ("SELECT 1; ATTACH '{out}/new.duckdb' AS x; CREATE TABLE x.t AS SELECT 1", "ATTACH"),
        ("CREATE TEMP VIEW forged AS SELECT * REPLACE ('high' AS tier) FROM episodes", "CREATE"),
        ("SET enable_external_access = true", "SET"),
        ("INSTALL httpfs", "LOAD"),
        ("EXPORT DATABASE '{out}'", "EXPORT"),
        ("PRAGMA version", "PRAGMA"),
    ],
)
def test_a_query_is_read_only(corpus: Path, tmp_path: Path, sql: str, kind: str) -> None:
    out = tmp_path / "written"
    out.mkdir()
    with pytest.raises(ReadOnlyError, match=f"{kind} statement refused"):
        run_query(corpus, sql.format(out=out))
    assert list(out.iterdir()) == []


def test_the_lock_holds_without_the_statement_check(corpus: Path, outside: Path, tmp_path: Path) -> None:
    """The connection alone refuses files and settings: the statement check is not the only wall."""
    con = connect(corpus)
    try:
        for sql in (
            f"COPY (SELECT 1) TO '{tmp_path}/x.csv'",
            f"ATTACH '{tmp_path}/x.duckdb' AS x",
            f"SELECT * FROM read_text('{outside}')",
        ):
            with pytest.raises(duckdb.PermissionException):
                con.execute(sql)
        for sql in ("SET enable_external_access = true", "RESET enable_external_access", "SET allowed_paths = []"):
            with pytest.raises(duckdb.Error, match="locked"):
                con.execute(sql)
        with pytest.raises(duckdb.Error):
            con.execute("LOAD httpfs")
        assert con.execute("SELECT count(*) FROM episodes").fetchone() == (5,)
    finally:
        con.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "outside"]


def test_unrestricted_is_duckdbs_own_rights(corpus: Path, outside: Path, tmp_path: Path) -> None:
    got = run_query(corpus, f"SELECT * FROM read_csv('{outside}')", unrestricted=True)
    assert got.to_pylist() == [{"word": "TOP-SECRET-OUTSIDE-ROOT"}]
    run_query(corpus, f"COPY (SELECT episode_uid FROM episodes) TO '{tmp_path}/all.csv'", unrestricted=True)
    assert (tmp_path / "all.csv").read_text().count("\n") == 6


def test_cli_refusals_exit_2_and_name_the_flag(corpus: Path, outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ns = argparse.Namespace(root=str(corpus), sql=f"SELECT * FROM read_csv('{outside}')", format="csv")
    assert cli_query(ns) == 2
    err = capsys.readouterr().err
    assert "disabled by configuration" in err and "--unrestricted" in err and "TOP-SECRET" not in err
    ns.sql = f"COPY (SELECT 1) TO '{outside.parent}/x.csv'"
    assert cli_query(ns) == 2
    assert "COPY statement refused" in capsys.readouterr().err and not (outside.parent / "x.csv").exists()
    ns.sql, ns.unrestricted = f"SELECT * FROM read_csv('{outside}')", True
    assert cli_query(ns) == 0
    assert "TOP-SECRET-OUTSIDE-ROOT" in capsys.readouterr().out


def test_csv_round_trips(corpus: Path) -> None:
    table = run_query(corpus, "SELECT episode_uid, duration_s, cameras, caption, has_hands FROM episodes ORDER BY 1")
    rows = list(csv.DictReader(io.StringIO(format_table(table, "csv"))))
    assert len(rows) == 5
    assert rows[0] == {
        "episode_uid": "egodex/basic/0000",
        "duration_s": "1800.0",
        "cameras": '["head", "wrist_right"]',
        "caption": "",
        "has_hands": "true",
    }


def test_json_round_trips(corpus: Path) -> None:
    table = run_query(corpus, "SELECT episode_uid, tier_reasons, ingested_at, success FROM episodes ORDER BY 1")
    got = json.loads(format_table(table, "json"))
    assert got[1] == {
        "episode_uid": "egodex/basic/0001",
        "tier_reasons": ["idle ratio 0.61 > 0.5"],
        "ingested_at": "2024-05-01T12:30:00+00:00",
        "success": None,
    }
    assert json.loads(format_table(table.slice(0, 0), "json")) == []


def test_human_table_is_aligned(corpus: Path) -> None:
    table = run_query(
        corpus,
        "SELECT source, count(*) AS episodes, sum(duration_s)/3600 AS hours FROM episodes GROUP BY ALL ORDER BY source",
    )
    lines = format_table(table, "table").splitlines()
    assert lines[0].split() == ["source", "episodes", "hours"]
    assert set(lines[1]) == {"-", " "}
    assert lines[2].split() == ["egodex", "2", "2.5"] and lines[3].split() == ["oxe", "3", "3"]
    assert len(lines[2]) == len(lines[3]) == len(lines[1])  # numbers right-aligned to the column's edge
    assert lines[-1] == "(2 rows)"
    nulls = format_table(run_query(corpus, "SELECT NULL AS caption, repeat('x', 100) AS long"), "table")
    assert "NULL" in nulls and "x" * 59 + "…" in nulls and "x" * 60 not in nulls


def test_human_table_caps_rows() -> None:
    out = format_table(pa.table({"i": list(range(10))}), "table", max_rows=3).splitlines()
    assert [s.strip() for s in out[2:5]] == ["0", "1", "2"]
    assert out[-1] == "(10 rows, 7 not shown; use --format csv or json for all)"


def test_a_sum_of_integers_is_printed_as_an_integer(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 86 item 6: `sum(num_frames)` (DuckDB's HUGEINT, decimal(38, 0) in Arrow) printed `26600.0`; a decimal
    with a scale keeps its fraction."""
    sql = "SELECT sum(num_frames) AS frames, count(*) AS n, CAST(1.50 AS DECIMAL(4, 2)) AS d FROM episodes"
    frames = 3 * 36_000 + 18_000 + 72_000  # the fixture's
    for fmt, want in [("csv", f"frames,n,d\n{frames},"), ("json", f'[\n{{"frames": {frames}, "n": ')]:
        assert cli_query(argparse.Namespace(root=str(corpus), sql=sql, format=fmt)) == 0
        out = capsys.readouterr().out
        assert out.startswith(want) and ".0" not in out.split("1.5")[0], out
    assert cli_query(argparse.Namespace(root=str(corpus), sql=sql, format="table")) == 0
    assert capsys.readouterr().out.splitlines()[2].split()[0] == str(frames)


def test_cli_query(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ns = argparse.Namespace(root=str(corpus), sql="SELECT count(*) AS n FROM episodes WHERE has_hands", format="csv")
    assert cli_query(ns) == 0
    assert capsys.readouterr().out == "n\n2\n"


@pytest.mark.parametrize(
    ("sql", "message"),
    [("SELEC 1", "Parser Error"), ("SELECT nope FROM episodes", 'Referenced column "nope" not found')],
)
def test_bad_sql_exits_2_with_duckdbs_message(
    corpus: Path, sql: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_query(argparse.Namespace(root=str(corpus), sql=sql, format="table")) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
    with pytest.raises(duckdb.Error):
        run_query(corpus, sql)


def test_missing_root_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_query(argparse.Namespace(root=str(tmp_path / "nope"), sql="SELECT 1", format="table")) == 2
    assert "no such corpus folder" in capsys.readouterr().err


def _files(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# reliability review 5, 3a-3c: (payload, what refuses it); {part} is a part of the catalog, {out} a folder beside it
REVIEW_5 = [
    (
        "EXPLAIN ANALYZE CREATE TABLE t AS SELECT * REPLACE ('high' AS tier) FROM episodes; "
        "EXPLAIN ANALYZE COPY t TO '{part}' (FORMAT parquet, USE_TMP_FILE false)",
        "EXPLAIN of a statement that is not a SELECT",
    ),
    ("EXPLAIN ANALYZE COPY episodes TO '{part}' (FORMAT parquet, USE_TMP_FILE false)", "not a SELECT"),
    ("EXPLAIN (ANALYZE) COPY episodes TO '{part}' (FORMAT parquet, USE_TMP_FILE false)", "not a SELECT"),
    ("explain /* x */ analyse INSERT INTO episodes SELECT * FROM episodes", "not a SELECT"),
    ("EXPLAIN ANALYZE COPY (SELECT 1) TO '{out}/x.csv'", "not a SELECT"),
    ("SELECT * FROM read_csv('/etc/passwd')", "disabled by configuration"),
    ("SELECT * FROM read_text('/etc/hostname')", "disabled by configuration"),
    ("SELECT * FROM glob('/etc/*')", "disabled by configuration"),
    ("SELECT * FROM read_blob('{part}')", "disabled by configuration"),  # the catalog's own parts too
    ("SELECT current_setting('allowed_paths')", r"current_setting\(\) is refused"),
    ("SELECT name, value FROM duckdb_settings()", r"duckdb_settings\(\) is refused"),
    ("SELECT (SELECT value FROM duckdb_settings() LIMIT 1) AS v FROM episodes", r"duckdb_settings\(\) is refused"),
    ("SHOW memory_limit", "SHOW memory_limit is refused"),
    ("SELECT * FROM query('SELECT current_setting(''threads'')')", r"query\(\) is refused"),
]


@pytest.mark.parametrize(("sql", "refusal"), REVIEW_5, ids=[f"3a-c:{i}" for i in range(len(REVIEW_5))])
def test_review_5_payloads_are_refused_and_change_nothing(
    corpus: Path, tmp_path: Path, sql: str, refusal: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each payload of reliability review 5 (3a-3c) through `eidata query`: exit 2 naming why, nothing written, every
    file of the corpus byte-identical."""
    out = tmp_path / "out"
    out.mkdir()
    part = next((corpus / "catalog/episodes").glob("*.parquet"))
    before = _files(corpus)
    assert cli_query(argparse.Namespace(root=str(corpus), sql=sql.format(part=part, out=out), format="csv")) == 2
    assert re.search(refusal, capsys.readouterr().err)
    assert _files(corpus) == before and list(out.iterdir()) == []
    assert run_query(corpus, "SELECT tier, count(*) AS n FROM episodes GROUP BY ALL ORDER BY ALL").to_pylist() == [
        {"tier": "high", "n": 4},
        {"tier": "low", "n": 1},
    ]


def test_no_path_is_writable_even_past_the_statement_check(corpus: Path, tmp_path: Path) -> None:
    """The engine alone refuses writing the catalog's own parts (what review 5's 3a did through EXPLAIN ANALYZE):
    DuckDB opens no file, the views are Arrow's scans."""
    part = next((corpus / "catalog/episodes").glob("*.parquet"))
    before = _files(corpus)
    with connect(corpus) as con:
        for sql in (
            f"COPY episodes TO '{part}' (FORMAT parquet, USE_TMP_FILE false)",
            f"EXPLAIN ANALYZE COPY (SELECT * REPLACE ('high' AS tier) FROM episodes) TO '{part}' (FORMAT parquet)",
            f"ATTACH '{part}' AS p",
            f"SELECT * FROM read_parquet('{part}')",
        ):
            with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
                con.execute(sql)
        assert con.execute("SELECT current_setting('allowed_paths')").fetchall() == [([],)]
    assert _files(corpus) == before


def test_one_reading_connects_once_and_runs_each_statement_once(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue 99: the corpus report ran ~50 statements, each on a connection of its own, 8 of them twice or more
    import jobs.catalog.query as query

    connected, ran = [], []
    real_connect, real_table = query.connect, query._table
    monkeypatch.setattr(query, "connect", lambda *a, **k: connected.append(a[0]) or real_connect(*a, **k))
    monkeypatch.setattr(query, "_table", lambda sql, con: ran.append(sql) or real_table(sql, con))
    count = "SELECT count(*) AS n FROM episodes"
    alone = run_query(corpus, count).to_pylist()
    assert (len(connected), ran) == (1, [count])
    connected.clear(), ran.clear()
    with query.one_reading(corpus):
        with query.one_reading(corpus):  # within one already: the same connection
            assert run_query(corpus, count).to_pylist() == alone
        tiers = "SELECT tier, count(*) AS n FROM episodes GROUP BY tier ORDER BY tier"
        assert run_query(corpus, tiers).to_pylist() == [{"tier": "high", "n": 4}, {"tier": "low", "n": 1}]
        assert run_query(corpus, count).to_pylist() == alone  # its rows kept: not run again
        with pytest.raises(ReadOnlyError):  # each statement checked as run_query checks it
            run_query(corpus, "DELETE FROM episodes")
        other = tmp_path / "other"  # another corpus, and a bounded or unrestricted statement: as without the block
        write_catalog_part(other, [row("oxe", "bridge", 0)], "oxe")
        assert run_query(other, count).to_pylist() == [{"n": 1}]
        assert run_query(corpus, count, unrestricted=True).to_pylist() == alone
    assert connected == [corpus, other, corpus] and ran == [count, tiers, count, count]
    assert run_query(corpus, count).to_pylist() == alone and len(connected) == 4  # after the block: its own
