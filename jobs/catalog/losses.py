"""What a corpus lost, biggest first: the episodes never written (quarantined), those a finding lowered (demoted to
low or rejected), those that came without an action their source should give, and human episodes without a tracked
hand; each by reason and by source, in the catalog's words (`tier_reasons`, figures as #, so that episodes group),
each said with one example's figures (`said`: people read "correlation 0.77 < 0.80", never "#").

One definition of each loss (`NO_ACTION`, `NO_HANDS`, `DEMOTED`) for every place that counts them: `eidata catalog`'s
summary, the report's losses and counts tables (`jobs.report`), so that their counts agree (issue 59: the count table
said `demoted 7` where the flagged list said none, and the 124 episodes that lost their actions were in no table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jobs.catalog.query import run_query
from schemas.tiers import MISSING_ACTIONS, grouped

# schemas/robots/embodiments.yaml: `human_video` is egocentric video without hand tracking, actionless by nature (no
# loss); `human` is tracked human hands, so an episode of it without a tracked hand lost them
VIDEO_ONLY, TRACKED_HANDS = "human_video", "human"
DEMOTED = "tier IN ('low', 'rejected')"  # a finding lowered it below what its source gives (`schemas.tiers`)
# neither a canonical nor a native action; a human episode's action is its hand, counted once, as without hands
NO_ACTION = f"action_kind = 'none' AND embodiment NOT IN ('{VIDEO_ONLY}', '{TRACKED_HANDS}')"
# no keypoints and no action: a wrist tracked without fingers (Aria MPS wrist-and-palm poses) is a tracked hand
NO_HANDS = f"embodiment = '{TRACKED_HANDS}' AND NOT has_hands AND action_kind = 'none'"

_NO_REASON = "'(no reason recorded)'"
LOST_SQL = f"""
SELECT 'quarantined' AS loss, 'quarantined' AS outcome, source, stage || ': ' || error_class AS reason,
       'q' || row_number() OVER () AS episode, left(message, 200) AS example, [left(message, 200)] AS details
FROM quarantine
UNION ALL
SELECT 'demoted', 'demoted to ' || tier, source, unnest(CASE WHEN len(tier_reasons) = 0
       THEN ['(the default tier of its source)'] ELSE tier_reasons END), episode_uid, episode_uid, tier_details
FROM episodes WHERE {DEMOTED}
UNION ALL
SELECT 'without action', 'without action', source,
       coalesce(list_filter(tier_reasons, lambda r: starts_with(r, '{MISSING_ACTIONS}'))[1], tier_reasons[1],
                {_NO_REASON}), episode_uid, episode_uid, tier_details
FROM episodes WHERE {NO_ACTION}
UNION ALL
SELECT 'without hands', 'without hands', source, coalesce(tier_reasons[1], tier_notes[1], {_NO_REASON}),
       episode_uid, episode_uid, tier_details
FROM episodes WHERE {NO_HANDS}"""

BY_REASON_SQL = f"""
SELECT loss, outcome, source, reason, count(DISTINCT episode) AS episodes, min(example) AS example,
       arg_min(details, example) AS details
FROM ({LOST_SQL}) GROUP BY ALL ORDER BY episodes DESC, outcome, source, reason"""

TOTALS_SQL = f"""
WITH lost AS ({LOST_SQL}),
by_source AS (SELECT loss, source, count(DISTINCT episode) AS n FROM lost GROUP BY ALL)
SELECT loss, sum(n)::BIGINT AS episodes,
       string_agg(source || ' ' || n, ', ' ORDER BY n DESC, source) AS by_source
FROM by_source GROUP BY loss ORDER BY episodes DESC, loss"""


def losses_by_reason(root: Path) -> list[dict[str, Any]]:
    """One row per (outcome, source, reason): how many episodes, one example (an episode, or the quarantine
    message) and `said`, the reason as people read it: the example's own sentence, with its figures (`reason` keeps
    them as #, so that episodes group); biggest first. An episode demoted for two reasons is in both rows."""
    rows = run_query(root, BY_REASON_SQL).to_pylist()
    for r in rows:
        details = r.pop("details") or []
        r["said"] = next((d for d in details if grouped(d) == r["reason"]), r["reason"])
    return rows


def loss_totals(root: Path) -> list[dict[str, Any]]:
    """One row per loss that happened (`LOST_SQL`'s `loss`): its episodes and their count per source, biggest first."""
    return run_query(root, TOTALS_SQL).to_pylist()


def loss_summary(root: Path, reasons: int = 3) -> str:
    """The losses as `eidata catalog` leads with them: a line per loss, biggest first, with its sources and its
    `reasons` biggest reasons; "lost: nothing" when every episode was written and kept what its source gives."""
    totals = loss_totals(root)
    if not totals:
        return "lost: nothing (no episode quarantined, demoted, without action or without hands)"
    by_reason = losses_by_reason(root)
    lines = ["lost, biggest first (the report's losses table; `eidata query` the episodes view for each):"]
    for t in totals:
        lines.append(f"  {t['episodes']:5d} {t['loss']}: {t['by_source']}")
        rows = [r for r in by_reason if r["loss"] == t["loss"]]
        for r in rows[:reasons]:
            lines.append(f"        {r['episodes']:5d} {r['source']}: {_said(r)[:160]}")
        if len(rows) > reasons:
            lines.append(f"        ... and {len(rows) - reasons} more reasons")
    return "\n".join(lines)


def _said(row: dict[str, Any]) -> str:
    """A loss's reason for people: one episode's own sentence, marked as an example where others share it."""
    return row["said"] if row["said"] == row["reason"] or row["episodes"] == 1 else f"e.g. {row['said']}"
