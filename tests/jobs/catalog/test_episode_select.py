"""`jobs.catalog.episode_select`: what the bounded child sends back of a selection is the manifest's columns, sorted by
Arrow as the recorded statement's ORDER BY sorts them (rejected and quarantined episodes never), with the counts the
caller reports (issue 99). A verdict excluded or overruled in the child: tests/jobs/catalog/test_overrule.py."""

from __future__ import annotations

from pathlib import Path

from jobs.catalog.episode_select import KEPT, ORDER, SELECT_SQL, select_episodes
from jobs.catalog.query import run_query

# DuckDB's own order of what a selection keeps (`SELECT_SQL`'s ORDER BY: ascending, nulls last)
EXPECTED = """SELECT episode_uid, dataset, episode_index, coalesce(len(cameras), 0) = 0 AS no_camera,
       coalesce(len(cameras), 0) > 0 AND NOT coalesce(latents_ready, false) AS waiting
FROM episodes AS e WHERE CAST(tier AS VARCHAR) <> 'rejected'
AND NOT EXISTS (SELECT 1 FROM quarantine AS q WHERE q.episode_uid = e.episode_uid)
ORDER BY episode_uid, dataset, episode_index"""


def test_the_rows_sent_back_are_the_manifests_columns_in_the_statements_order(corpus: Path) -> None:
    sql, rows, picked = select_episodes(corpus, "true")
    assert rows.column_names == list(KEPT)
    want = run_query(corpus, EXPECTED)
    assert rows.select(list(ORDER)).to_pylist() == want.select(list(ORDER)).to_pylist()
    assert picked.no_camera == sum(want["no_camera"].to_pylist())
    assert picked.waiting == sum(want["waiting"].to_pylist()) and picked.waiting > 0
    assert picked.brought_back == 0
    assert sql.endswith("ORDER BY e.episode_uid, e.dataset, e.episode_index")
    assert sql.startswith(SELECT_SQL.split("{")[0]) and "WHERE (true)" in sql  # the statement recorded, as written
