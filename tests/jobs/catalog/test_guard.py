"""`jobs.catalog.guard`: a curation expression is one safe expression over the catalog's columns, by DuckDB's own
parser (the injections of the reliability review refused, useful expressions kept), and a read-only query is
SELECT / EXPLAIN only."""

from __future__ import annotations

import re

import duckdb
import pytest

from jobs.catalog.guard import ExpressionError, ReadOnlyError, check_expression, check_read_only
from schemas.catalog import CATALOG_SCHEMA

COLUMNS = CATALOG_SCHEMA.names


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(":memory:")


@pytest.mark.parametrize(
    ("where", "rendered"),
    [
        ("tier = 'high' AND duration_s > 3 -- a comment", "((tier = 'high') AND (duration_s > 3))"),
        ("has_hands OR (source = 'oxe' AND duration_s > 30)", None),
        ("list_contains(cameras, 'head') /* block */", "list_contains(cameras, 'head')"),
        ("list_has_any(cameras, ['head', 'wrist_left'])", None),
        ("len(list_filter(tier_reasons, lambda r: r ILIKE '%idle%')) = 0", None),
        ("task ~~ 'pick%' OR task SIMILAR TO 'open.*' OR regexp_matches(task, 'cube')", None),
        ("episode_index BETWEEN 2 AND 9 AND source IN ('oxe', 'egodex') AND caption IS NOT NULL", None),
        ("CASE WHEN has_action THEN duration_s ELSE 0 END > 1.5 AND CAST(num_frames AS DOUBLE) / 30 > 1", None),
        ("date_part('year', ingested_at) >= 2024 AND ingested_at > now() - INTERVAL 7 DAY", None),
        ("episodes.tier <> 'low' AND \"Tier\" <> 'actionless' AND coalesce(success, true)", None),
        ("task = '''); DROP TABLE episodes;--'", "(task = '''); DROP TABLE episodes;--')"),
    ],
)
def test_safe_expressions_are_kept(con: duckdb.DuckDBPyConnection, where: str, rendered: str | None) -> None:
    got = check_expression(con, where, COLUMNS)
    if rendered is not None:
        assert got == rendered
    assert "--" not in got.replace("'''); DROP TABLE episodes;--'", "") and "/*" not in got
    check_expression(con, got, COLUMNS)  # the rendering is itself a safe expression


SECRET = "/tmp/outside/secret.txt"

# (where, what the refusal says): the reliability review's payloads (1q) first, then the other doors
INJECTIONS = [
    (
        f"CAST((SELECT string_agg(content,'') FROM read_text('{SECRET}')) AS INTEGER) = 1",
        "subquery is not allowed",
    ),
    (
        "true)) AS e LIMIT 0; COPY (SELECT content FROM read_text('/etc/hostname')) TO '/tmp/c4_written.csv'; "
        "SELECT e.episode_uid FROM (SELECT * FROM episodes WHERE (true",
        "not one SQL expression",
    ),
    (
        "true)) AS e LIMIT 0; CREATE TEMP VIEW forged AS SELECT * REPLACE ('high' AS tier) FROM episodes; "
        "SELECT e.episode_uid FROM (SELECT * FROM forged WHERE (true",
        "not one SQL expression",
    ),
    ("true; ATTACH '/tmp/new.duckdb' AS x", "not one SQL expression"),
    ("true; SELECT 1", "2 statements"),
    ("true) OR (true", "not one SQL expression"),
    ("true --\n) OR (1 = 1", "not one SQL expression"),
    ("tier = 'high' /*", "not one SQL expression"),
    ("read_csv('/etc/passwd') IS NOT NULL", "function read_csv() is not on the list"),
    ("length(read_text('/etc/passwd')) > 0", "function read_text() is not on the list"),
    ("getenv('HOME') <> ''", "function getenv() is not on the list"),
    ("current_setting('enable_external_access') = 'true'", "function current_setting() is not on the list"),
    ("main.lower(task) = 'x'", "qualified function names"),
    ("episode_uid IN (SELECT episode_uid FROM quarantine)", "subquery is not allowed"),
    ("EXISTS (SELECT 1 FROM read_csv('/etc/passwd'))", "subquery is not allowed"),
    ("1 FROM read_csv('/etc/passwd')", "also holds FROM"),
    ("true UNION SELECT 1", "set operation node"),
    ("true ORDER BY 1", "ORDER BY"),
    ("tier AS high", "has no alias"),
    ("true, false", "2 separated by commas"),
    ("row_number() OVER () < 10", "window function is not allowed"),
    ("count(*) > 0", "function count_star() is not on the list"),
    ("random() < 0.5", "function random() is not on the list"),
    ("secret_column = 1", "'secret_column' is not a column"),
    ("forged.tier = 'high'", "'forged.tier' is not a column"),
    ("$1", "parameter"),
    ("*", "* is not allowed"),
    ("list_filter(cameras, lambda x: y = x) = []", "'y' is not a column"),
    ("", "empty"),
]


@pytest.mark.parametrize(("where", "message"), INJECTIONS)
def test_injections_are_refused(con: duckdb.DuckDBPyConnection, where: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        check_expression(con, where, COLUMNS)


def test_an_expression_nested_beyond_reason_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises((ExpressionError, duckdb.Error)):
        check_expression(con, "(" * 5000 + "true" + ")" * 5000, COLUMNS)
    with pytest.raises(ExpressionError, match="characters long"):
        check_expression(con, "true AND " * 20_000 + "true", COLUMNS)


@pytest.mark.parametrize(
    "sql",
    [
        *("SELECT 1", "FROM episodes", "DESCRIBE episodes", "EXPLAIN SELECT 1", "SELECT 1; SELECT 2"),
        *("SUMMARIZE episodes", "SELECT * FROM main.episodes JOIN memory.main.quarantine USING (source)"),
        "WITH a AS (SELECT 1 x), b AS (SELECT * FROM a) SELECT * FROM b, episodes",
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT * FROM t",
        "WITH pg_settings AS (SELECT 1) SELECT * FROM pg_settings",  # the CTE, not the settings view
        "SELECT table_name FROM information_schema.columns",
    ],
)
def test_read_statements_pass(sql: str) -> None:
    check_read_only(sql, ["episodes", "quarantine"])


@pytest.mark.parametrize(
    ("sql", "name"),
    [
        ("SELECT name, setting FROM pg_settings", "pg_settings"),
        ("SELECT * FROM pg_catalog.pg_settings", "pg_catalog.pg_settings"),
        ("SELECT * FROM episodes, (SELECT * FROM information_schema.schemata)", "information_schema.schemata"),
        # a CTE's own name inside a non-recursive CTE is the outer relation, and a CTE is not in scope before it
        ("WITH pg_settings AS (SELECT * FROM pg_settings) SELECT 1", "pg_settings"),
        ("WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", "b"),
        ("SELECT * FROM pg_settings UNION ALL (WITH pg_settings AS (SELECT 1) SELECT * FROM pg_settings)", "pg_sett"),
        ("SELECT * FROM other.main.episodes", "other.main.episodes"),
        ("SELECT * FROM 'catalog/episodes/part-0.parquet'", "catalog/episodes/part-0.parquet"),
        ("EXPLAIN SELECT * FROM pg_type", "pg_type"),
    ],
)
def test_relations_other_than_the_views_are_refused_by_what_they_are(sql: str, name: str) -> None:
    """Review 6, N33: `pg_settings` is a view over the settings that no refused function name covered; any relation
    a name resolves to is refused unless it is a view of the catalog, an introspection view or a CTE in scope."""
    with pytest.raises(ReadOnlyError, match=re.escape(name) + ".* is not a view of the catalog"):
        check_read_only(sql, ["episodes", "quarantine"])


@pytest.mark.parametrize(
    "sql",
    ["COPY x TO 'y'", "SELECT 1; ATTACH 'a' AS b", "CREATE TEMP VIEW v AS SELECT 1", "SET threads = 1", "LOAD json"],
)
def test_write_statements_are_refused(sql: str) -> None:
    with pytest.raises(ReadOnlyError, match="--unrestricted"):
        check_read_only(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "EXPLAIN ANALYZE SELECT count(*) FROM episodes",
        "EXPLAIN (FORMAT json) SELECT 1",
        "explain /* a comment */ analyse select 1",
        "SHOW episodes",
        "SELECT * FROM duckdb_columns() WHERE table_name = 'episodes'",
        "SELECT version()",
    ],
)
def test_explained_selects_and_introspection_pass(sql: str) -> None:
    check_read_only(sql, ["episodes"])


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("EXPLAIN ANALYZE COPY episodes TO 'x.parquet'", "EXPLAIN of a statement that is not a SELECT"),
        ("EXPLAIN (ANALYZE) INSERT INTO episodes SELECT 1", "EXPLAIN of a statement that is not a SELECT"),
        ("EXPLAIN ANALYZE SELECT 1; COPY (SELECT 1) TO 'x'", "COPY statement refused"),
        ("EXPLAIN", "syntax error"),
        ("SELECT current_setting('memory_limit')", "current_setting() is refused"),
        ("SELECT * FROM pragma_platform()", "pragma_platform() is refused"),
        ("SELECT * FROM duckdb_temporary_files()", "duckdb_temporary_files() is refused"),
        ("SELECT 1 UNION SELECT * FROM query('SELECT 2')", "query() is refused"),
        ("SHOW threads", "SHOW threads is refused"),
        ("EXPLAIN SELECT current_setting('threads')", "current_setting() is refused"),
    ],
)
def test_explain_of_a_write_and_settings_are_refused(sql: str, message: str) -> None:
    with pytest.raises((ReadOnlyError, duckdb.ParserException), match=re.escape(message)):
        check_read_only(sql, ["episodes"])
