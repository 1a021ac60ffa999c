"""What a LeRobot dataset's columns mean, by name: bookkeeping, success flags, annotation kinds, actions vs states,
and the canonical layout a dataset we wrote carries (passed through). Used by `adapters.lerobot.episode`."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from adapters.base import HandSignals, Stream
from schemas.canonical import CANONICAL_DIM, STATE_NAMES

BOOKKEEPING = ("timestamp", "frame_index", "episode_index", "index", "task_index")
SUCCESS_COLUMNS = ("next.success", "success", "is_success", "episode_success")
# annotation.<source>.<type>: a type naming one of these is a label, not a text (GR00T `annotation.human.validity`)
LABEL_ANNOTATION = ("validity", "valid", "quality", "success", "reward")
INSTRUCTION_ANNOTATION = ("task", "instruction", "prompt", "action_text", "language", "action")
MODALITY_DEFAULT = {"state": "observation.state", "action": "action"}


def runs(values: np.ndarray) -> list[tuple[int, int, Any]]:
    """[start, end) runs of equal consecutive values."""
    if not len(values):
        return []
    change = [0, *(np.flatnonzero(values[1:] != values[:-1]) + 1).tolist(), len(values)]
    return [(s, e, values[s]) for s, e in itertools.pairwise(change)]


def span_s(ts: np.ndarray, start: int, end: int) -> tuple[float | None, float | None]:
    """[first, last] timestamp of rows [start, end); (None, None) when they are the whole episode."""
    return (None, None) if start == 0 and end == len(ts) else (float(ts[start]), float(ts[end - 1]))


def is_action_column(col: str) -> bool:
    """`action`, `actions` and their sub-keys (`action.joint_pos`, `actions.gripper`): what the robot was told to do
    (openpi's LIBERO port: `actions` beside `state`, Physical-Intelligence/openpi @f735421 examples/libero/
    convert_libero_data_to_lerobot.py; lerobot's: `action`, src/lerobot/datasets/utils.py hw_to_dataset_features)."""
    return col.split(".")[0] in ("action", "actions")


def hand_signals(states: dict[str, Stream], actions: dict[str, Stream]) -> HandSignals:
    """Datasets already in our canonical layout (ours, or converted to it) pass through: `observation.state` with the
    50 canonical names, `action`, `observation.hand_keypoints`. Other layouts keep their natives only."""
    state = states.get("observation.state")
    names = tuple(state.names or ()) if state is not None else ()
    if state is not None and state.values.shape[1:] == (CANONICAL_DIM,) and names == STATE_NAMES:
        return HandSignals(
            canonical=(state, actions.get("action"), states.get("observation.hand_keypoints")), apply_offset=False
        )
    return HandSignals(notes=["no canonical end-effector layout in this LeRobot dataset: natives only"])
