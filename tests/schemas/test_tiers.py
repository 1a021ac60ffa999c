"""Quality tiers and the routing table (schemas/tiers.py): which tasks a tier may train, rows that sum to one,
demotion."""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from schemas.tiers import (
    ALLOWED_TASKS,
    TASK_IDS,
    TASK_SPECS,
    QualityTier,
    RoutingTable,
    Task,
    TierVerdict,
    demote,
    grouped,
    notes_of,
    split_notes,
)


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


def test_figures_leave_the_words_episodes_share() -> None:
    """Real lines (a G1's unit note, a validity cut, a finding): each episode's figures go, names with digits stay."""
    units = "joint units: rad (evidence); share of joint values ({} frames) inside the limits: rad 100%, ticks {}%"
    assert grouped(units.format(393, 0)) == grouped(units.format(36, 2))
    assert grouped(units.format(393, 0)) == (
        "joint units: rad (evidence); share of joint values (# frames) inside the limits: rad #, ticks #"
    )
    cut = "cut by validity: frames 0..9 of the span's 20 kept (frames flagged: low_confidence 1, short_span 9)"
    assert (
        grouped(cut)
        == "cut by validity: frames #..# of the span's # kept (frames flagged: low_confidence #, short_span #)"
    )
    assert (
        grouped("qa_tracking_corr: correlation 0.14 < 0.80, 1.5e-3 rad") == "qa_tracking_corr: correlation # < #, # rad"
    )
    # a figure with its unit against it: one group, whatever the value (it once left `#.53x`, `#.40x`, `#.07x`)
    glitch = "qa_glitch_value: state.left.joint_6.pos left its trend by {}x its trend's range ({}ms) > 0.50x"
    assert (
        grouped(glitch.format("0.53", 20))
        == grouped(glitch.format("1.07", 5))
        == ("qa_glitch_value: state.left.joint_6.pos left its trend by #x its trend's range (#ms) > #x")
    )
    assert grouped("a frame of 16000x16000 in a 160x120 stream") == "a frame of #x# in a #x# stream"
    kept = "MANO-21 keypoints of robot_type 'so101', range_m100_100, 6D rotation, 0xe15b3f21, v2.1, 1.5D"
    assert grouped(kept) == kept


def test_notes_are_told_apart_from_the_reasons_that_set_the_tier() -> None:
    verdicts = [
        TierVerdict.note("joint units: rad; 36 frames"),
        TierVerdict(tier=QualityTier.low, reason="idle ratio 0.91 > 0.80", code="quality"),
        TierVerdict.note("cut by validity: frames 0..9"),
    ]
    assert notes_of(verdicts) == ["joint units: rad; 36 frames", "cut by validity: frames 0..9"]
    lines = [v.reason for v in verdicts]
    assert split_notes(lines, notes_of(verdicts)) == (
        ["idle ratio # > #"],
        ["joint units: rad; # frames", "cut by validity: frames #..#"],
    )
    # a sentence said twice, once as a reason and once as a note, stays once in each
    assert split_notes(["a 1", "a 1"], iter(["a 1"])) == (["a #"], ["a #"])
