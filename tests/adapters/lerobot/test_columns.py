"""What LeRobot columns mean by name (`adapters/lerobot/columns.py`), on the real GR00T sample's columns
(real sample `gr00t_robot_sim_picknplace`, NVIDIA/Isaac-GR00T @ f4e12be) and openpi's `actions`: which are
actions, the runs of a per-row annotation, and which layouts pass through as canonical."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow.parquet as pq

from adapters.base import Stream
from adapters.lerobot.columns import BOOKKEEPING, LABEL_ANNOTATION, hand_signals, is_action_column, runs
from schemas.canonical import CANONICAL_DIM, STATE_NAMES
from tests.realdata import realdata


def test_only_the_action_columns_of_the_real_sample_are_actions() -> None:
    names = pq.read_schema(realdata("gr00t_robot_sim_picknplace/data/chunk-000/episode_000000.parquet")).names
    assert [n for n in names if is_action_column(n)] == ["action"]
    assert "annotation.human.action.task_description" in names  # an annotation, though it says "action"
    assert set(BOOKKEEPING) - {"frame_index"} <= set(names)  # GR00T's v2.0 files have no frame_index
    # openpi's LIBERO port writes `actions` (examples/libero/convert_libero_data_to_lerobot.py @ f735421)
    assert is_action_column("actions") and is_action_column("actions.gripper") and not is_action_column("state")
    assert "validity" in LABEL_ANNOTATION  # annotation.human.validity is a label, not a text


def test_runs_of_a_real_annotation_column() -> None:
    table = pq.read_table(realdata("gr00t_robot_sim_picknplace/data/chunk-000/episode_000000.parquet"))
    validity = table["annotation.human.validity"].to_numpy()
    found = runs(validity)
    assert found[0][0] == 0 and found[-1][1] == len(validity)  # the runs tile the episode
    assert all(a[1] == b[0] and a[2] != b[2] for a, b in itertools.pairwise(found))
    assert runs(np.array([2, 2, 5, 2])) == [(0, 2, 2), (2, 3, 5), (3, 4, 2)] and runs(np.array([])) == []


def test_only_our_canonical_layout_passes_through() -> None:
    t = np.arange(3) / 10
    ours = Stream(t, np.zeros((3, CANONICAL_DIM), np.float32), names=STATE_NAMES)
    signals = hand_signals({"observation.state": ours}, {"action": ours})
    assert signals.canonical is not None and signals.canonical[0] is ours and signals.apply_offset is False
    renamed = Stream(t, np.zeros((3, CANONICAL_DIM), np.float32), names=tuple(f"j{i}" for i in range(CANONICAL_DIM)))
    natives = hand_signals({"observation.state": renamed}, {})
    assert natives.canonical is None and "natives only" in natives.notes[0]
