"""AgiBot on a real `proprio_stats.h5` (`../shared/realdata/agibot_proprio_stats_real`, one real-robot episode, no
videos or task_info): split per-arm grippers, `(0,)` placeholders, int64 ns irregular clock, action index shorter than
the action beside it, and the gripper's physical direction."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.agibot import AgibotAdapter
from adapters.base import RawEpisode
from adapters.synthetic.agibot import EpisodeSpec, Layout, write_agibot
from ingest.canonical.canonicalize import canonicalize
from schemas.canonical import GRIPPER, hand_dims
from schemas.canonicalize import CanonicalizeSpec

ROWS = 1990


@pytest.fixture(scope="module")
def h5(shared_realdata: Path) -> Path:
    path = shared_realdata / "agibot_proprio_stats_real" / "proprio_stats.h5"
    if not path.is_file():
        pytest.skip(f"{path} is absent: the AgiBot real sample is not on this machine")
    return path


@pytest.fixture(scope="module")
def raw(h5: Path, tmp_path_factory: pytest.TempPathFactory) -> RawEpisode:
    """The real file in a corpus around it: its task_info and a small head video are synthetic (the sample has none)."""
    root = tmp_path_factory.mktemp("agibot_real")
    write_agibot(
        root,
        [EpisodeSpec(1, 1, ROWS, layout=Layout.split_effector)],
        cameras=("head",),
        height=16,
        width=16,
        parameters=False,
    )
    shutil.copyfile(h5, root / "proprio_stats/1/1/proprio_stats.h5")
    (ref,) = AgibotAdapter().discover(root)
    return AgibotAdapter().read(ref)


def test_layout_of_the_real_file(raw: RawEpisode) -> None:
    assert raw.embodiment == "agibot_gripper" and raw.metadata["state_rows"] == ROWS
    for arm in ("left", "right"):
        s = raw.states[f"{arm}_effector.position"]
        assert (s.names, s.unit, s.values.shape, s.values.dtype) == ((arm,), "mm", (ROWS, 1), np.float64)
        assert s.values.min() >= 0 and s.values.max() <= 120
        assert raw.actions[f"{arm}_effector.position"].unit == "0..1"
    assert raw.states["end.orientation"].unit == "quat_xyzw" and raw.states["joint.position"].values.shape[1] == 14
    empty = raw.metadata["empty_fields"]
    assert {"state/joint/effort", "state/left_effector/force", "action/robot/position"} <= set(empty)
    assert not any(k.replace(".", "/") in empty for k in raw.states)


def test_action_index_shorter_than_its_data(raw: RawEpisode, h5: Path) -> None:
    """1925 index entries beside 1990 joint/end rows: only the indexed frames are commands."""
    with h5py.File(h5) as f:
        index = f["action/joint/index"][()]
        joint = f["action/joint/position"][()]
        assert len(index) == 1925 and joint.shape[0] == ROWS
    for key in ("joint.position", "end.position", "end.orientation"):
        a = raw.actions[key]
        np.testing.assert_allclose(a.timestamps, index / 30.0)
        assert raw.metadata["sparse_actions"][key]["masked_rows"] == ROWS - 1925
    np.testing.assert_array_equal(raw.actions["joint.position"].values, joint[index])
    assert raw.actions["joint.position"].timestamps[0] == pytest.approx(24 / 30)  # the first 24 frames unsent
    assert len(raw.actions["head.position"]) == ROWS and "head.position" not in raw.metadata["sparse_actions"]


def test_native_clock_is_irregular_ns_rows_on_the_grid(raw: RawEpisode) -> None:
    clock = raw.metadata["clock"]
    assert clock["start_ns"] == 1748237033333286632 and clock["rows"] == ROWS
    assert clock["rate_hz"] == pytest.approx(30.0, abs=0.01) and clock["median_dt_s"] == pytest.approx(0.0344, 1e-2)
    assert 0.01 < clock["max_jitter_s"] < 1 / 30  # irregular steps, yet within a frame of row / 30 s
    np.testing.assert_allclose(raw.states["joint.position"].timestamps, np.arange(ROWS) / 30.0)


def test_gripper_state_rises_with_the_close_command(raw: RawEpisode) -> None:
    """The physical direction: state (mm) up when the command says close; canonical opening down, 1 when open."""
    (ep,) = canonicalize(raw, CanonicalizeSpec(fps=30))
    for hand, arm in enumerate(("left", "right")):
        state = raw.states[f"{arm}_effector.position"].values[:, 0]
        command = raw.actions[f"{arm}_effector.position"].values[:, 0]
        assert np.polyfit(command, state, 1)[0] > 50  # mm per unit of command: closing raises the state
        opening = ep.state[:, hand_dims(hand, GRIPPER)][:, 0]
        assert opening.max() > 0.9 and opening.min() < 0.05
        assert np.median(opening[command[: len(opening)] < 0.1]) > 0.9  # open command: open gripper
