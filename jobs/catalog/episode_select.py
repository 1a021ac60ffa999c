"""The episodes a `--where` selects from the catalog (`eidata curate`, a stage's `--where`): the statement run in the
bounded child (`jobs.catalog.bounded`) on a connection that opens no file, the verdicts followed there too, and only
the columns a manifest is made of sent back, sorted.

What the child holds is what bounds `curate` as the catalog grows (issue 99, 1,000,042 episodes, `--where true`):
DuckDB's ORDER BY of the statement's 16 columns took the child from 290 MiB to 1,229 MiB, past its default limit of
1 GiB; unsorted and narrowed to the manifest's columns the same rows took it to 714 MiB. So the statement runs
without its ORDER BY and Arrow sorts its rows by the same keys (`_sorted`: bytewise, nulls last, as DuckDB's default
order), one column taken at a time. The manifest records the statement as written (`SELECT_SQL`): it selects the same
rows in the same order. The verdicts (1.77 million (episode, code) pairs at 1M) no longer cross to the caller as Python
dicts: the child reads only the codes a `--include-verdict` / `--exclude-verdict` needs (`VerdictChoice.apply`), and
the counts the caller reports (`Picked`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from jobs.catalog.bounded import SqlLimits, Usage, run_bounded
from jobs.catalog.guard import check_expression
from jobs.catalog.overrule import VERDICT_COLUMNS, VerdictChoice, later_columns, overruled_episodes
from jobs.catalog.query import connect
from schemas.manifest import CONTENT_COLUMNS

ORDER = ("episode_uid", "dataset", "episode_index")  # the entries' order (`SELECT_SQL`'s ORDER BY)
SELECTED_SQL = """SELECT e.episode_uid, e.dataset, e.episode_index, e.tier, e.source, e.subset, e.embodiment,
       e.duration_s, {later_columns}, e.cameras, e.latents_ready, e.catalog_tier
FROM (SELECT * FROM {episodes} WHERE ({where})) AS e
WHERE NOT EXISTS (SELECT 1 FROM quarantine AS q WHERE q.episode_uid = e.episode_uid)"""
SELECT_SQL = SELECTED_SQL + "\nORDER BY " + ", ".join(f"e.{c}" for c in ORDER)  # what a manifest records
# what the child runs: the statement's rows, unsorted, in the columns a manifest is made of and those it counts by
RUN_SQL = """SELECT episode_uid, dataset, episode_index, tier, source, subset, embodiment, duration_s, {content},
       coalesce(len(cameras), 0) AS cameras, coalesce(latents_ready, false) AS latents_ready, catalog_tier
FROM ({selected})"""
# the rows of a chunk of DuckDB's sorted result (its row group size; DuckDB 2.0.1): the entries' parquet bytes depend on
# the chunks (the episode_uid dictionary's fallback to plain pages falls where a chunk is written: at 1,000,042 episodes
# one chunk of all made other bytes than DuckDB's), so a selection is chunked as before and its manifest is the same
CHUNK_ROWS = 122_880
KEPT = (*ORDER, "tier", "source", "subset", "embodiment", "duration_s", *CONTENT_COLUMNS)  # the rows sent back


@dataclass(frozen=True)
class Picked:
    """What the child counted of the rows it kept, for what the caller says: those whose tier the overrule changed
    (`--include-verdict`), those without a camera, those with a camera but no image latents yet."""

    brought_back: int = 0
    no_camera: int = 0
    waiting: int = 0


def select_episodes(
    corpus_root: Path,
    where: str,
    verdicts: VerdictChoice | None = None,
    limits: SqlLimits | None = None,
    usage: Usage | None = None,
) -> tuple[str, pa.Table, Picked]:
    """The statement (`SELECT_SQL`, with DuckDB's rendering of the checked `where`,
    `jobs.catalog.guard.check_expression`), its rows after the verdicts (`VerdictChoice.apply`) in `KEPT`'s columns
    sorted by `ORDER`, and what was counted of them; run on a connection that opens no file, within `limits`
    (`jobs.catalog.bounded.run_bounded`: SqlLimitError past one; `usage` says what it took)."""
    select = partial(_selected, where, verdicts or VerdictChoice())
    return run_bounded(partial(connect, corpus_root), select, limits or SqlLimits(), usage)


def _selected(where: str, verdicts: VerdictChoice, con: duckdb.DuckDBPyConnection) -> tuple[str, pa.Table, Picked]:
    """`select_episodes` in the child (module-level: it crosses to it as a pickle)."""
    columns = con.sql("SELECT * FROM episodes LIMIT 0").columns
    checked = check_expression(con, where, columns)
    episodes = overruled_episodes(con, columns, verdicts.include)  # the overrule before the filter: `where` sees its
    later = later_columns(columns, (*VERDICT_COLUMNS, *CONTENT_COLUMNS))  # tiers; `reading`: since issue 98
    selected = SELECTED_SQL.format(where=checked, later_columns=later, episodes=episodes)
    rows = con.sql(RUN_SQL.format(content=", ".join(CONTENT_COLUMNS), selected=selected)).to_arrow_table()
    order = pc.sort_indices(rows, sort_keys=[(c, "ascending", "at_end") for c in ORDER])
    unsorted = {name: rows[name] for name in rows.column_names}
    del rows  # each column goes once it is sorted (`_taken`)
    rows = verdicts.apply(con, columns, _taken(unsorted, order))
    cameras = rows["cameras"].to_numpy()
    ready = rows["latents_ready"].to_numpy(zero_copy_only=False)
    picked = Picked(
        brought_back=pc.sum(pc.not_equal(rows["tier"], rows["catalog_tier"])).as_py() or 0,
        no_camera=int((cameras == 0).sum()),
        waiting=int(((cameras > 0) & ~ready).sum()),
    )
    return SELECT_SQL.format(where=checked, later_columns=later, episodes=episodes), rows.select(list(KEPT)), picked


def _taken(columns: dict[str, pa.ChunkedArray], order: pa.Array) -> pa.Table:
    """The `columns` in the rows' `order` (`pc.sort_indices` by `ORDER`, ascending, nulls last: DuckDB's default
    order, bytewise for text), each unsorted column let go once taken (one column's copy at a time, not the
    table's), in chunks of `CHUNK_ROWS` as DuckDB's sort gave them."""
    taken = pa.table({name: columns.pop(name).take(order) for name in list(columns)})
    return pa.Table.from_batches(taken.combine_chunks().to_batches(max_chunksize=CHUNK_ROWS), taken.schema)
