"""`adapters.arrays.episodes`: where each episode of a store lies under its layout, on stores written by the makers'
layouts (`adapters/synthetic/arrays.py`): a Zarr replay buffer cut at `meta/episode_ends`, a robomimic file's demo
groups in natural order; a broken episode index is refused naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from adapters.arrays.episodes import any_of, base_rows, episodes_of, join, rows_per_array
from adapters.arrays.layouts import LAYOUTS
from adapters.arrays.stores import container_of, open_store
from adapters.storage.location import locate


def _buffer(root: Path, ends: list[int], rows: int) -> Path:
    path = root / "replay.zarr"
    g = zarr.open_group(path, mode="w", zarr_format=2)
    g.create_array("data/state", data=np.zeros((rows, 5), np.float32))
    g.create_array("data/action", data=np.zeros((rows, 2), np.float32))
    g.create_array("meta/episode_ends", data=np.array(ends, np.int64))
    return path


def test_a_replay_buffer_is_cut_at_its_episode_ends(tmp_path: Path) -> None:
    layout = LAYOUTS["diffusion_policy"]
    path = _buffer(tmp_path, [3, 7, 10], 10)
    with open_store(locate(path), container_of(path)) as store:
        got = list(episodes_of(store, layout))
        assert got == [(f"episode_{i}", {"rows": r}) for i, r in enumerate([[0, 3], [3, 7], [7, 10]])]
        assert base_rows(store, layout.episodes.base) == 10
        assert rows_per_array(store, layout.episodes.base, 3, 7, layout) == {"state": 4, "action": 4}


def test_a_broken_episode_index_is_refused_naming_it(tmp_path: Path) -> None:
    layout = LAYOUTS["diffusion_policy"]
    path = _buffer(tmp_path, [3, 2, 10], 10)
    with open_store(locate(path), container_of(path)) as store, pytest.raises(ValueError, match="rise"):
        list(episodes_of(store, layout))


def test_paths_join_and_match_the_layouts_patterns() -> None:
    assert join("data", "state") == "data/state" and join("", "state") == "state"
    assert any_of("obs/agentview_image", ("obs/*_image",)) and not any_of("obs/state", ("obs/*_image",))
