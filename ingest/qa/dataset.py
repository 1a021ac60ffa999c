"""Dataset-level behaviour: task imbalance and episodes too short for a policy's window."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from schemas.behaviour import BehaviourConfig


@dataclass(frozen=True)
class TaskBalance:
    tasks: int
    largest: int  # episodes of the most frequent task
    smallest: int
    ratio: float  # largest / smallest
    smallest_fraction: float  # of all episodes
    entropy: float  # normalised Shannon entropy of the task distribution, 1 = uniform
    imbalanced: bool


def task_balance(tasks: Sequence[str], config: BehaviourConfig) -> TaskBalance:
    """Balance of one dataset's episodes over their tasks (one task string per episode)."""
    counts = np.array(sorted(Counter(tasks).values()), np.float64)
    if not len(counts):
        return TaskBalance(0, 0, 0, 1.0, 0.0, 1.0, False)
    p = counts / counts.sum()
    entropy = float(-(p * np.log(p)).sum() / np.log(len(p))) if len(p) > 1 else 1.0
    ratio = float(counts[-1] / counts[0])
    return TaskBalance(
        len(counts), int(counts[-1]), int(counts[0]), ratio, float(p[0]), entropy, ratio >= config.task_imbalance_ratio
    )


def short_episodes(lengths: Sequence[int], config: BehaviourConfig, window: int | None = None) -> list[int]:
    """Positions of the episodes with fewer frames than the policy window (observation + action chunk)."""
    need = config.policy_window_frames if window is None else window
    return [i for i, n in enumerate(lengths) if n < need]
