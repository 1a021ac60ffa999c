"""What SQL a catalog reader may run, decided by DuckDB's own parser, never by patterns over the text.

A curation expression (`eidata curate --where`) is one SQL expression over the `episodes` view: DuckDB parses
`SELECT <expression>` into its tree (`json_serialize_sql`), which must be one plain select item whose nodes are catalog
columns, constants, operators, CASE, CAST, lambdas over their own parameters and the pure scalar functions of
`SAFE_FUNCTIONS` (no subquery, table function, window, aggregate, setting or file). The text that runs, and that a
manifest records, is DuckDB's own rendering of that checked tree (`json_deserialize_sql`), so a comment or a quote in
the user's text can never reshape the statement around it. A read-only query (`eidata query` without `--unrestricted`):
`check_read_only`. Both run on a connection that opens no file at all (`jobs.catalog.query.connect`), so what cannot
be written does not rest on these checks.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from importlib import resources
from typing import Any

import duckdb

from schemas.spelling import did_you_mean

MAX_EXPRESSION_CHARS = 100_000  # a where clause is a line in a job file, not a document

# operators and pure scalar functions by family, DuckDB's names (the table says which)
SAFE_FUNCTIONS = frozenset(
    name
    for family in tomllib.loads(resources.files("jobs.catalog").joinpath("safe_functions.toml").read_text()).values()
    for name in family
)
# names DuckDB reads as column references and binds to functions when no column has them
SAFE_KEYWORDS = frozenset({"current_date", "current_timestamp"})
# expression node classes of DuckDB's serialized tree that an expression may hold (SUBQUERY, WINDOW, STAR,
# PARAMETER, POSITIONAL_REFERENCE and anything new are refused)
SAFE_CLASSES = frozenset(
    {"CONSTANT", "COLUMN_REF", "COMPARISON", "CONJUNCTION", "OPERATOR", "BETWEEN", "CASE", "CAST", "COLLATE", "TYPE"}
    | {"FUNCTION", "LAMBDA"}
)
READ_STATEMENTS = (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN)


class ExpressionError(ValueError):
    """A curation expression that is not one safe expression over the catalog's columns."""


class ReadOnlyError(ValueError):
    """A statement a read-only query may not run."""


def _parse(con: duckdb.DuckDBPyConnection, sql: str, too_deep: ValueError) -> dict[str, Any]:
    """DuckDB's tree of `sql` (`json_serialize_sql`); `too_deep` raised for one nested past what json can read."""
    text = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0]
    try:
        return json.loads(text)
    except RecursionError:
        raise too_deep from None


def _select_item(tree: dict[str, Any]) -> dict[str, Any]:
    """The one select item of `SELECT <expression>`, or ExpressionError saying what else the text holds."""
    if tree.get("error"):
        msg = tree.get("error_message", "cannot be parsed")
        if "Only SELECT" in msg:
            msg = "it holds a statement that is not an expression"
        raise ExpressionError(f"not one SQL expression: {msg}")
    statements = tree["statements"]
    if len(statements) != 1:
        raise ExpressionError(f"one expression expected, got {len(statements)} statements")
    node = statements[0]["node"]
    if node.get("type") != "SELECT_NODE":
        raise ExpressionError(f"one expression expected, got a {node.get('type', '?').lower().replace('_', ' ')}")
    extra = [
        name
        for name, present in (
            ("FROM", node["from_table"].get("type") != "EMPTY"),
            ("WHERE", node.get("where_clause") is not None),
            ("GROUP BY", bool(node.get("group_expressions") or node.get("group_sets"))),
            ("HAVING", node.get("having") is not None),
            ("QUALIFY", node.get("qualify") is not None),
            ("SAMPLE", node.get("sample") is not None),
            ("ORDER BY / LIMIT / DISTINCT", bool(node.get("modifiers"))),
            ("WITH", bool(node.get("cte_map", {}).get("map"))),
            ("a parameter", bool(statements[0].get("named_param_map"))),
        )
        if present
    ]
    if extra:
        raise ExpressionError(f"one expression expected; it also holds {', '.join(extra)}")
    items = node["select_list"]
    if len(items) != 1:
        raise ExpressionError(f"one expression expected, got {len(items)} separated by commas")
    if items[0].get("alias"):
        raise ExpressionError(f"an expression has no alias (AS {items[0]['alias']})")
    return items[0]


def _check_node(node: Any, columns: frozenset[str], params: frozenset[str]) -> None:
    """Every expression node under `node` is of a safe class, names a catalog column (or a lambda parameter) and
    calls only safe functions."""
    if isinstance(node, list):
        for item in node:
            _check_node(item, columns, params)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("class")
    if kind is None:
        if "node" in node or "from_table" in node:  # a query inside the expression
            raise ExpressionError("a subquery is not allowed in an expression")
        for value in node.values():
            _check_node(value, columns, params)
        return
    if kind not in SAFE_CLASSES:
        what = {"SUBQUERY": "a subquery", "WINDOW": "a window function", "STAR": "*", "PARAMETER": "a parameter"}
        raise ExpressionError(f"{what.get(kind, kind.lower().replace('_', ' '))} is not allowed in an expression")
    if kind == "COLUMN_REF":
        _check_column(node["column_names"], columns, params)
        return
    if kind == "FUNCTION":
        name = str(node.get("function_name", "")).lower()
        if node.get("schema") or node.get("catalog"):
            raise ExpressionError(f"function {node.get('schema')}.{name}: qualified function names are not allowed")
        if name not in SAFE_FUNCTIONS:
            raise ExpressionError(
                f"function {name}() is not on the list of functions an expression may call "
                "(jobs.catalog.guard.SAFE_FUNCTIONS: pure scalar functions over text, numbers, lists and dates)"
            )
    if kind == "LAMBDA":
        _check_node(node["expr"], columns, params | _lambda_params(node["lhs"]))
        return
    for key, value in node.items():
        if key not in ("class", "type"):
            _check_node(value, columns, params)


def _lambda_params(lhs: dict[str, Any]) -> frozenset[str]:
    if lhs.get("class") == "COLUMN_REF" and len(lhs["column_names"]) == 1:
        return frozenset({lhs["column_names"][0].lower()})
    if lhs.get("class") == "FUNCTION" and lhs.get("function_name") == "row":
        return frozenset().union(*(_lambda_params(a["expression"]) for a in lhs.get("arguments", [])))
    raise ExpressionError("a lambda's parameters must be plain names")


def _check_column(parts: list[str], columns: frozenset[str], params: frozenset[str]) -> None:
    names = [p.lower() for p in parts]
    if names[0] == "episodes" and len(names) > 1:
        names = names[1:]  # episodes.tier
    if names[0] in columns or names[0] in params or (len(names) == 1 and names[0] in SAFE_KEYWORDS):
        return
    hint = did_you_mean(names[0], sorted(columns), listing="its columns")
    raise ExpressionError(f"{'.'.join(parts)!r} is not a column of the catalog's episodes view; {hint}")


def check_expression(con: duckdb.DuckDBPyConnection, expression: str, columns: Iterable[str]) -> str:
    """`expression` checked as one safe SQL expression over `columns`; returns DuckDB's rendering of it (the text to
    run and record). Raises ExpressionError naming the first thing refused."""
    if not expression.strip():
        raise ExpressionError("the where clause is empty; use 'true' to select every episode")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"the expression is {len(expression)} characters long (at most {MAX_EXPRESSION_CHARS})")
    tree = _parse(con, "SELECT " + expression, ExpressionError("the expression is nested too deeply"))
    _check_node(_select_item(tree), frozenset(c.lower() for c in columns), frozenset())
    single = {"error": False, "statements": [tree["statements"][0]]}
    rendered = con.execute("SELECT json_deserialize_sql(?::JSON)", [json.dumps(single)]).fetchall()[0][0]
    if not rendered.startswith("SELECT "):
        raise ExpressionError(f"DuckDB renders the expression unexpectedly: {rendered[:80]!r}")
    return rendered.removeprefix("SELECT ")


# Functions that reveal the engine's settings, its environment or other databases rather than the catalog's data
# (`current_setting('secret_directory')` names the caller's home; review 5, 3c), and those that run SQL text the check
# never saw: refused in a read-only query. DuckDB's `duckdb_*` / `pragma_*` table functions are refused but for the
# catalog introspection a reader needs (`REVEALING_PREFIXES`, `INTROSPECTION`).
REVEALING = frozenset(
    {"current_setting", "getenv", "which_secret", "query", "query_table", "json_execute_serialized_sql"}
)
REVEALING_PREFIXES = ("duckdb_", "pragma_")
INTROSPECTION = frozenset(
    {"duckdb_columns", "duckdb_tables", "duckdb_views", "duckdb_types", "duckdb_functions", "duckdb_keywords"}
    | {"pragma_table_info"}
)


def _revealing(name: str) -> bool:
    name = name.lower()
    return name in REVEALING or (name.startswith(REVEALING_PREFIXES) and name not in INTROSPECTION)


def _explained(text: str) -> str:
    """The statement an EXPLAIN statement explains: its text after `EXPLAIN`, `ANALYZE` and a parenthesised option
    list, found by DuckDB's tokenizer (comments skipped). An unexpected shape gives "", which no check admits."""
    every = duckdb.tokenize(text)
    ends = [pos for pos, _ in every[1:]] + [len(text)]
    kept = [(pos, end) for (pos, kind), end in zip(every, ends, strict=True) if kind != duckdb.token_type.comment]
    words = [text[pos:end].strip().lower() for pos, end in kept]
    if not words or words[0] != "explain":
        return ""
    i = 1
    if i < len(words) and words[i] in ("analyze", "analyse"):
        i += 1
    if i < len(words) and words[i] == "(":
        depth = 0
        for j in range(i, len(words)):
            depth += words[j].count("(") - words[j].count(")")
            if depth == 0:
                i = j + 1
                break
        else:
            return ""
    return text[kept[i][0] :] if i < len(kept) else ""


# Relations a read-only query may name besides the catalog's views and its own CTEs: the catalog's introspection
# views (like `INTROSPECTION`'s functions). Everything else DuckDB can resolve a name to (`pg_settings`, which is
# `duckdb_settings()` and shows the caller's home: reliability review 6, N33; another `pg_catalog` view; a file
# path read as a table) is refused by what the name is, not by a list of what it must not be.
INTROSPECTION_VIEWS = frozenset({("information_schema", "tables"), ("information_schema", "columns")})


def _check_tree(con: duckdb.DuckDBPyConnection, text: str, tables: Iterable[str]) -> None:
    """ReadOnlyError at the first thing in DuckDB's tree of the SELECT `text` (`json_serialize_sql`) that a read-only
    query may not hold: a `_revealing` function, a SHOW of a setting (`SHOW memory_limit`), or a table reference that
    is not one of `tables` (the catalog's views, in the main schema), a CTE in scope where it is named (a CTE's own
    name is in scope inside it only when it is recursive; the CTEs before it are) or `INTROSPECTION_VIEWS`."""
    parsed = _parse(con, text, ReadOnlyError("the statement is nested too deeply to be checked"))
    if parsed.get("error"):
        raise ReadOnlyError(f"the statement cannot be checked: {parsed.get('error_message', '?')}")
    known = {t.lower() for t in tables}
    stack: list[tuple[Any, frozenset[str]]] = [(parsed, frozenset())]
    while stack:
        node, scope = stack.pop()
        if isinstance(node, list):
            stack += [(n, scope) for n in node]
            continue
        if not isinstance(node, dict):
            continue
        name = node.get("function_name")
        if isinstance(name, str) and _revealing(name):
            raise ReadOnlyError(
                f"{name}() is refused in a read-only query: it shows the engine's settings or environment, not "
                "the catalog; pass --unrestricted to run it"
            )
        if node.get("type") == "SHOW_REF" and node.get("show_type") == "SHOW":
            shown = str(node.get("table_name", "")).strip('"').lower()
            if shown not in known:
                raise ReadOnlyError(
                    f"SHOW {shown} is refused in a read-only query: only the views ({', '.join(sorted(known))}) "
                    "can be shown; pass --unrestricted to show a setting"
                )
        ctes = node.get("cte_map", {}).get("map", []) if isinstance(node.get("cte_map"), dict) else []
        names = [str(c["key"]).lower() for c in ctes]
        for i, cte in enumerate(ctes):
            own = {names[i]} if cte["value"]["query_node"].get("type") == "RECURSIVE_CTE_NODE" else set()
            stack.append((cte["value"], scope | set(names[:i]) | own))
        inner = scope | set(names)
        if node.get("type") == "BASE_TABLE":
            _check_relation(node, known, scope)
        stack += [(v, inner) for k, v in node.items() if k != "cte_map"]


def _check_relation(ref: dict[str, Any], known: set[str], scope: frozenset[str]) -> None:
    table = str(ref.get("table_name", "")).lower()
    schema, catalog = str(ref.get("schema_name", "")).lower(), str(ref.get("catalog_name", "")).lower()
    if not schema and not catalog and table in scope:
        return
    if table in known and schema in ("", "main") and catalog in ("", "memory"):
        return
    if (schema, table) in INTROSPECTION_VIEWS and catalog in ("", "memory"):
        return
    name = ".".join(p for p in (catalog, schema, table) if p)
    views = ", ".join(sorted(known)) or "none"
    raise ReadOnlyError(
        f"{name} is not a view of the catalog ({views}) nor a CTE of the statement: a read-only query reads only "
        "those and information_schema.tables / columns; pass --unrestricted to read anything else"
    )


def check_read_only(sql: str, tables: Iterable[str] = ()) -> None:
    """Every statement of `sql` only reads: a SELECT (DESCRIBE, SUMMARIZE and SHOW of one of `tables` are SELECTs to
    DuckDB) or the EXPLAIN of one (`EXPLAIN ANALYZE` runs what it explains: `EXPLAIN ANALYZE COPY` wrote a file), with
    no function that reveals settings (`REVEALING`) and no relation but `tables`, the statement's CTEs and
    `INTROSPECTION_VIEWS` (a settings view such as `pg_settings` is refused by what it is, not by a list:
    `_check_tree`). Raises ReadOnlyError naming the first that does not, or
    duckdb.ParserException for text that does not parse. What it checks is DuckDB's parse; that nothing can be
    written is the connection's (`jobs.catalog.query._lock`)."""
    statements = duckdb.extract_statements(sql)
    if not statements:
        raise ReadOnlyError("no SQL statement given")
    with duckdb.connect(":memory:") as con:
        for s in statements:
            head = " ".join(s.query.split())[:60]
            text = s.query
            if s.type == duckdb.StatementType.EXPLAIN:
                text = _explained(s.query)
                inner = duckdb.extract_statements(text) if text.strip() else []
                if len(inner) != 1 or inner[0].type != duckdb.StatementType.SELECT:
                    raise ReadOnlyError(
                        f"EXPLAIN of a statement that is not a SELECT refused ({head!r}): queries are read-only; "
                        "pass --unrestricted to run any statement with DuckDB's full file access"
                    )
            elif s.type not in READ_STATEMENTS:
                raise ReadOnlyError(
                    f"{s.type.name} statement refused ({head!r}): queries are read-only; "
                    "pass --unrestricted to run any statement with DuckDB's full file access"
                )
            _check_tree(con, text, tables)
