"""Which verdicts a manifest follows (`eidata curate --include-verdict / --exclude-verdict`: `VerdictChoice`); a tier
computed again is `schemas.tiers.tier_of` over the catalog's `default_tier`, `tier_codes`, `tier_levels`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import get_args

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from schemas.behaviour_record import Why
from schemas.tiers import SOURCE_DEFAULTS, QualityTier, TierVerdict, tier_of

# the columns the selection reads to compute a tier again (none in a catalog built before issue 69)
VERDICT_COLUMNS = ("default_tier", "tier_codes", "tier_levels")
VERDICT_CODE = re.compile(r"[a-z][a-z0-9_]*")


def codes_sql(columns: list[str]) -> str:
    """Every code of the catalog, once: the `verdicts` view's findings' and the episodes' kept verdicts'."""
    kept = "" if "tier_codes" not in columns else " UNION SELECT DISTINCT unnest(tier_codes) AS code FROM episodes"
    return f"SELECT DISTINCT code FROM verdicts{kept}"


def flagged_sql(columns: list[str]) -> str:
    """The episodes with a finding or a kept verdict of a code in the list `$1`."""
    kept = (
        ""
        if "tier_codes" not in columns
        else " UNION SELECT episode_uid FROM episodes WHERE list_has_any(tier_codes, $1)"
    )
    return f"SELECT episode_uid FROM verdicts WHERE list_contains($1, code){kept}"


def later_columns(columns: list[str], names: tuple[str, ...]) -> str:
    """The selection's columns `names` (`VERDICT_COLUMNS`, a manifest's `CONTENT_COLUMNS`) of the catalog's
    `columns`: each null in a catalog built before it was."""
    return ", ".join(f"e.{c}" if c in columns else f"NULL AS {c}" for c in names)


def known_codes() -> frozenset[str]:
    """The finding codes this version gives: ingest's behaviour bounds (`ingest.qa.findings`: its tables, and the three
    it writes out in `findings`, `_glitch` and `_plateau`), the verdict step's (`ingest.qa.corpus.STEP_CODES`) and a
    source's default (`schemas.tiers.SOURCE_DEFAULTS`)."""
    from ingest.qa.corpus import STEP_CODES  # numpy and the copy search: only when a code is named
    from ingest.qa.findings import BOUNDS, IDLE_BOUNDS, LAST_BOUNDS

    tables = {row[0] for row in (*BOUNDS, *IDLE_BOUNDS, *LAST_BOUNDS)}
    explained = {f"qa_explained_{why}" for why in get_args(Why)}  # the notes of holds the robot's signals explain
    given = {"qa_tracking_corr", "qa_glitch_value", "qa_plateau_fraction", *STEP_CODES, *SOURCE_DEFAULTS}
    return frozenset(tables | explained | given)


# the relation `--where` reads: the episodes view, each tier as the overrule gives it (the table `overruled_tiers`
# registered by `overruled_episodes`), the catalog's own kept as `catalog_tier` (what the overrule brought back)
OVERRULED_EPISODES = (
    "(SELECT * REPLACE (coalesce((SELECT o.tier FROM overruled_tiers AS o WHERE o.episode_uid = episodes.episode_uid)"
    ", CAST(tier AS VARCHAR)) AS tier), CAST(tier AS VARCHAR) AS catalog_tier FROM episodes) AS episodes"
)


def overruled_episodes(con: duckdb.DuckDBPyConnection, columns: list[str], include: tuple[str, ...]) -> str:
    """The relation a selection's `--where` reads on `con`: the episodes with the tier `--include-verdict include`
    gives them (issue 79: an overrule applied after the filter never reached `tier = 'high'`). A catalog built
    before kept verdicts has no tier to compute again: its tiers stay (`VerdictChoice.apply` then refuses)."""
    found: dict[str, list] = {"episode_uid": [], "tier": []}
    if include and "tier_codes" in columns:
        overruled = set(include)
        rows = con.execute(
            "SELECT episode_uid, default_tier, tier_codes, tier_levels FROM episodes WHERE list_has_any(tier_codes, ?)",
            [list(include)],
        ).fetchall()
        for uid, default, codes, levels in rows:
            kept = [TierVerdict(tier=t, reason=c, code=c) for c, t in zip(codes, levels, strict=True)]
            found["episode_uid"].append(uid)
            found["tier"].append(str(tier_of(QualityTier(default), kept, overrule=overruled)))
    con.register(
        "overruled_tiers", pa.table(found, schema=pa.schema([("episode_uid", pa.string()), ("tier", pa.string())]))
    )
    return OVERRULED_EPISODES


class StaleCatalogError(ValueError):
    """The catalog was built before verdicts were kept (issue 69): no tier can be computed again from it."""


@dataclass(frozen=True)
class VerdictChoice:
    """Which verdicts a manifest follows. By default every one: an episode's tier as the catalog gives it, rejected
    ones left out. `include`: codes to overrule, any verdict's (an adapter's, ingest's, the verdict step's): the
    episode's tier then computed from its default and its other verdicts (`--include-verdict qa_duplicate` keeps the
    copies, `--include-verdict qa_tracking_corr` an episode ingest lowered for it); `exclude`: codes whose episodes
    are left out whatever their tier (`--exclude-verdict qa_dead_dims`)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        bad = [c for c in (*self.include, *self.exclude) if not VERDICT_CODE.fullmatch(c)]
        if bad:
            raise ValueError(f"not a verdict code (lower case, digits and _, e.g. qa_duplicate): {bad}")

    def check(self, codes: set[str]) -> None:
        """ValueError naming the known codes when a code is not one: a misspelled `--exclude-verdict` excluded nothing
        silently (review 5, 3f). Known: the codes this version gives (`known_codes`) and those the catalog holds,
        `codes`."""
        if not (self.include or self.exclude):
            return
        known = known_codes() | {c for c in codes if VERDICT_CODE.fullmatch(c)}
        if bad := sorted({c for c in (*self.include, *self.exclude) if c not in known}):
            raise ValueError(f"unknown verdict code(s) {', '.join(bad)}; the known ones: {', '.join(sorted(known))}")

    def apply(self, con: duckdb.DuckDBPyConnection, columns: list[str], rows: pa.Table) -> pa.Table:
        """`rows` (each tier as `overruled_episodes` gave it) without the rejected ones and those with an excluded code
        in the catalog of `con` (its episodes view's `columns`); ValueError for a code that is not known (`check`),
        StaleCatalogError where an overruled code meets a catalog built before verdicts were kept. The catalog's
        verdicts are read only as a code asks: their codes once, the episodes of an excluded one (1.77 million pairs at
        a million episodes, sent whole to the caller as Python dicts, took it past 1.6 GiB; their UNION, deduplicated
        whole, took the child past its 1 GiB: issue 99)."""
        if self.include or self.exclude:
            self.check({c for (c,) in con.sql(codes_sql(columns)).fetchall() if c})
        if self.include and "tier_codes" not in columns:  # `later_columns`: none
            raise StaleCatalogError(
                "the catalog predates kept verdicts, so --include-verdict cannot compute a tier again: rebuild it "
                "with `eidata catalog ROOT`"
            )
        keep = pc.not_equal(rows["tier"], QualityTier.rejected.value)
        if self.exclude:
            dropped = con.sql(flagged_sql(columns), params=[list(self.exclude)]).to_arrow_table()["episode_uid"]
            keep = pc.and_(keep, pc.invert(pc.is_in(rows["episode_uid"], dropped.combine_chunks())))
        return rows.filter(keep)
