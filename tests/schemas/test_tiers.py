"""Quality tiers and the routing table (schemas/tiers.py): which tasks a tier may train, rows that sum to one,
demotion."""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from schemas.tiers import ALLOWED_TASKS, TASK_IDS, TASK_SPECS, QualityTier, RoutingTable, Task, demote


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


ORDER = [QualityTier.high, QualityTier.low, QualityTier.actionless, QualityTier.rejected]  # best first


@pytest.mark.parametrize("tier", list(QualityTier))
@pytest.mark.parametrize("to", list(QualityTier))
def test_demote_never_raises_a_tier(tier: QualityTier, to: QualityTier) -> None:
    result = demote(tier, to)
    assert result in (tier, to)
    assert ORDER.index(result) >= max(ORDER.index(tier), ORDER.index(to))  # never better than either
    assert demote(to, tier) is result and demote(result, to) is result  # order-free, and settled once applied
    assert demote(tier, QualityTier.rejected) is QualityTier.rejected  # rejected absorbs


def test_a_lower_tier_trains_a_subset_of_a_higher_tiers_tasks() -> None:
    for better, worse in itertools.pairwise(ORDER):
        assert ALLOWED_TASKS[worse] <= ALLOWED_TASKS[better], (better, worse)
    # a tier without actions cannot train a task that reads or predicts actions
    assert all(TASK_SPECS[t].action == "absent" for t in ALLOWED_TASKS[QualityTier.actionless])


@pytest.mark.parametrize("task", list(Task))
def test_each_task_trains_the_stream_it_noises(task: Task) -> None:
    spec = TASK_SPECS[task]
    noised = {name for name in ("action", "future_latents") if getattr(spec, name) == "noised"}
    assert noised == {"action" if spec.loss == "action" else "future_latents"}


def test_routing_table_survives_the_manifest_round_trip() -> None:
    with pytest.raises(ValidationError, match="'low': probabilities sum to 0"):  # an empty row is refused
        RoutingTable(probabilities={"high": {"policy": 0.25, "forward_dynamics": 0.75}, "low": {}})
    table = RoutingTable(probabilities={"high": {"policy": 0.25, "forward_dynamics": 0.75}})
    back = RoutingTable.model_validate_json(table.model_dump_json())
    assert back == table and back.row("high") == {Task.policy: 0.25, Task.forward_dynamics: 0.75}
    assert list(TASK_IDS) == list(Task) and sorted(TASK_IDS.values()) == list(range(len(Task)))
