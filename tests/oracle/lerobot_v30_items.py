"""What `lerobot-train` draws from its dataset (`lerobot_v30_oracle.py train --dump`): runs in the lerobot 0.6.1 venv
beside the oracle; never imported from pytest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def record_items(dump: str) -> tuple[list[dict[str, Any]], Callable[[], None]]:
    """Every item `LeRobotDataset.__getitem__` gives until the returned `restore` is called: its episode, frame,
    action chunk (`action_is_pad` too) and state."""
    from lerobot.datasets import LeRobotDataset

    Path(dump).mkdir(parents=True, exist_ok=True)
    drawn: list[dict[str, Any]] = []
    get = LeRobotDataset.__getitem__
    keys = ("episode_index", "frame_index", "action", "action_is_pad", "observation.state")

    def spy(self: Any, idx: int) -> Any:
        item = get(self, idx)
        drawn.append({k: np.asarray(item[k]) for k in keys if k in item})
        return item

    def restore() -> None:
        LeRobotDataset.__getitem__ = get  # type: ignore[method-assign]

    LeRobotDataset.__getitem__ = spy  # type: ignore[method-assign]
    return drawn, restore
