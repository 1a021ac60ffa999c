"""Quality tiers and the routing table (schemas/tiers.py): which tasks a tier may train, rows that sum to one,
demotion."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.tiers import ALLOWED_TASKS, QualityTier, RoutingTable, Task, demote


def test_default_routing_rows_sum_to_one_and_respect_allowed_tasks() -> None:
    table = RoutingTable.default()
    assert set(table.probabilities) == {QualityTier.high, QualityTier.low, QualityTier.actionless}
    for tier, row in table.probabilities.items():
        assert sum(row.values()) == pytest.approx(1.0)
        assert set(row) == ALLOWED_TASKS[tier]
    assert Task.policy not in table.row("low")
    assert table.row(QualityTier.actionless) == {Task.visual_forecasting: 1.0}
    with pytest.raises(KeyError, match="rejected"):
        table.row("rejected")


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ({"low": {"policy": 0.5, "inverse_dynamics": 0.5}}, "cannot train"),
        ({"actionless": {"forward_dynamics": 1.0}}, "cannot train"),
        ({"high": {"policy": 0.5, "forward_dynamics": 0.4}}, "sum to"),
        ({"high": {"policy": 1.5, "forward_dynamics": -0.5}}, ">= 0"),
        ({"rejected": {}}, "rejected tier"),
    ],
    ids=["low_with_policy", "actionless_with_dynamics", "not_summing_to_one", "negative", "rejected_row"],
)
def test_invalid_routing_tables_rejected(rows: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        RoutingTable(probabilities=rows)


def test_valid_custom_routing_table() -> None:
    table = RoutingTable(probabilities={"high": {"policy": 0.7, "inverse_dynamics": 0.3}})
    assert table.row("high")[Task.policy] == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("tier", "to", "result"),
    [
        (QualityTier.high, QualityTier.low, QualityTier.low),
        (QualityTier.low, QualityTier.high, QualityTier.low),
        (QualityTier.high, QualityTier.actionless, QualityTier.actionless),
        (QualityTier.actionless, QualityTier.rejected, QualityTier.rejected),
        (QualityTier.low, QualityTier.low, QualityTier.low),
    ],
)
def test_demote_keeps_the_lower_tier(tier: QualityTier, to: QualityTier, result: QualityTier) -> None:
    assert demote(tier, to) is result
