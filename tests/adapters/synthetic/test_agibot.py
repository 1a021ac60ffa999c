"""The AgiBot World writer (`adapters/synthetic/agibot.py`) against a real `proprio_stats.h5`
(`agibot_proprio_stats_real`, tests/REAL_SAMPLES.md, soul667/DatasetTools @ 8971d93 `scripts/proprio_stats.h5`): its
`split_effector` layout, the one it claims for the real sample, holds the real file's datasets and no other, each with
the real dtype, per-row shape and placeholder `(0,)` shape, no attributes, an int64 ns clock, and the real gripper
units (state 0..120, command 0..1); the Alpha layout keeps the one `effector` group of the HF card instead."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.synthetic.agibot import EpisodeSpec, Layout, write_agibot
from tests.fixtures.writers.agibot import irregular_clock
from tests.realdata import realdata

Tree = dict[str, tuple[str, tuple[int, ...], bool]]  # path -> (dtype, shape after the rows, placeholder (0,))


def _tree(path: Path) -> tuple[Tree, list[str]]:
    """Every dataset of the file, and every object that carries an attribute."""
    datasets: Tree = {}
    with h5py.File(path) as f:
        with_attrs = ["/"] if f.attrs else []

        def visit(name: str, obj: h5py.Dataset | h5py.Group) -> None:
            if obj.attrs:
                with_attrs.append(name)
            if isinstance(obj, h5py.Dataset):
                datasets[name] = (obj.dtype.str, obj.shape[1:], obj.shape == (0,))

        f.visititems(visit)
    return datasets, with_attrs


@pytest.fixture(scope="module")
def real() -> Path:
    return realdata("agibot_proprio_stats_real/proprio_stats.h5")


def _written(root: Path, layout: Layout, jittered: bool = False, **spec: object) -> Path:
    written = write_agibot(root, [EpisodeSpec(5, 1, 40, layout=layout, **spec)], height=16, width=16)
    if jittered:
        irregular_clock(root, written["5/1"])
    return root / "proprio_stats" / "5" / "1" / "proprio_stats.h5"


@pytest.mark.parametrize("spec", [{}, {"index_subset": True, "jittered": True}])
def test_split_effector_files_hold_the_real_files_datasets(real: Path, tmp_path: Path, spec: dict) -> None:
    theirs, their_attrs = _tree(real)
    ours, our_attrs = _tree(_written(tmp_path, Layout.split_effector, **spec))
    assert sorted(set(ours) - set(theirs)) == [] and sorted(set(theirs) - set(ours)) == []
    for name, (dtype, shape, placeholder) in theirs.items():
        assert ours[name][0] == dtype, name
        assert ours[name][2] == placeholder, name
        if not placeholder:
            assert ours[name][1] == shape, name  # (2, 3) end positions, (2, 4) quaternions, (1,) per-arm gripper
    assert their_attrs == [] and our_attrs == []  # no joint `name` attributes in the real file, none written


def test_split_effector_clock_and_gripper_units_are_the_real_ones(real: Path, tmp_path: Path) -> None:
    path = _written(tmp_path, Layout.split_effector, jittered=True)
    with h5py.File(real) as f, h5py.File(path) as g:
        for file in (f, g):
            ts = file["timestamp"][()]
            assert ts.dtype == np.int64 and ts[0] > 1.7e18  # ns since the epoch (2025 in the real file)
            dt = np.diff(ts) / 1e6
            assert 25 < np.median(dt) < 40 and dt.max() - dt.min() > 10  # ~30 Hz, irregular by over 10 ms
            state = np.concatenate([file[f"state/{s}_effector/position"][()] for s in ("left", "right")])
            command = np.concatenate([file[f"action/{s}_effector/position"][()] for s in ("left", "right")])
            assert 60 < state.max() <= 120 and state.min() >= 0  # mm-like, up to 120
            assert command.max() <= 1 and command.min() >= 0  # 0 = open .. 1 = close


def test_the_alpha_layout_keeps_the_cards_effector_group(real: Path, tmp_path: Path) -> None:
    """The other layout differs from the real file exactly where the HF card's table does: one `effector` group."""
    theirs, _ = _tree(real)
    ours, _ = _tree(_written(tmp_path, Layout.alpha))
    assert "state/effector/position" in ours and "state/effector/position" not in theirs
    assert not any("_effector/" in name for name in ours)
