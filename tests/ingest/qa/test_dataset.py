"""Task balance and too-short episodes."""

from __future__ import annotations

from ingest.qa.dataset import short_episodes, task_balance
from schemas.behaviour import BehaviourConfig


def test_task_balance_of_the_bridge_sample_counts() -> None:
    # the octo bridge debug sample's instructions: 8 carrot, 6 cup, 6 lever, 5 pot (tests/data/real README)
    tasks = ["carrot"] * 8 + ["cup"] * 6 + ["lever"] * 6 + ["pot"] * 5
    b = task_balance(tasks, BehaviourConfig())
    assert (b.tasks, b.largest, b.smallest, b.ratio, b.imbalanced) == (4, 8, 5, 1.6, False)
    assert 0.95 < b.entropy <= 1.0
    skewed = task_balance(["a"] * 50 + ["b"] * 4, BehaviourConfig())
    assert skewed.imbalanced and skewed.smallest_fraction == 4 / 54


def test_short_episodes_for_a_policy_window() -> None:
    # bridge episodes are 10 steps at 5 Hz: too short for a 16-frame window, fine for an 8-frame one
    assert short_episodes([10, 10, 40], BehaviourConfig()) == [0, 1]
    assert short_episodes([10, 10, 40], BehaviourConfig(), window=8) == []
