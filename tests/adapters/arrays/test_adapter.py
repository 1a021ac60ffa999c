"""The arrays adapter reading each layout: one episode per demo group / episode end / file, the natives as stored,
the rate from the option, the file or the maker's default (said in the lineage), the language where the file has
it, and the ROWS limit checked before reading. Files in the makers' layouts from `adapters/synthetic/arrays.py`
(no redistributable real robomimic, LIBERO, ALOHA or UMI sample was found; test_real.py has the real ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from adapters.arrays.adapter import ArraysAdapter, ZarrAdapter
from adapters.synthetic.arrays import truncate, write_robomimic
from tests.fixtures.writers.arrays import as_libero, with_control_freq, write_aloha, write_umi


def _eps(root: Path, **options) -> list:
    adapter = ArraysAdapter(options)
    refs = list(adapter.discover(root))
    assert all(r.error is None for r in refs), [r.error for r in refs]
    return [adapter.read(r) for r in refs]


def test_robomimic_one_episode_per_demo_rate_from_env_args(tmp_path: Path) -> None:
    with_control_freq(write_robomimic(tmp_path / "low_dim.hdf5", [5, 12, 7]), 15)
    eps = _eps(tmp_path)
    assert [e.ref.raw_id for e in eps] == [f"low_dim.hdf5/demo_{i}" for i in range(3)]
    assert [len(e.actions["actions"]) for e in eps] == [5, 12, 7]
    ep = eps[1]
    assert ep.annotation.layout == "robomimic" and "data/demo_*/obs/*" in ep.annotation.layout_from
    assert (
        ep.native_fps == 15 and ep.annotation.rate_from == "file: attribute data@env_args['env_kwargs']['control_freq']"
    )
    assert set(ep.states) == {"obs.robot0_eef_pos", "obs.robot0_eef_quat", "states"}  # next_obs left out
    assert set(ep.outcomes) == {"rewards", "dones"} and ep.robot_type == "Panda"
    assert ep.cameras["agentview_image"].canonical == "third_person"  # the maker's camera name fills its slot
    ((_, rgb),) = ep.cameras["agentview_image"].frames([3])
    with h5py.File(tmp_path / "low_dim.hdf5") as f:
        assert np.array_equal(rgb, f["data/demo_1/obs/agentview_image"][3])
        assert np.array_equal(ep.states["obs.robot0_eef_pos"].values, f["data/demo_1/obs/robot0_eef_pos"][:])


def test_robomimic_without_control_freq_uses_the_named_default(tmp_path: Path) -> None:
    with_control_freq(write_robomimic(tmp_path / "a.hdf5", [4]), None)
    (ep,) = _eps(tmp_path)
    assert ep.native_fps == 20 and ep.annotation.rate_from.startswith("default: robosuite's default control_freq 20")


def test_libero_language_from_problem_info_else_file_name(tmp_path: Path) -> None:
    as_libero(write_robomimic(tmp_path / "KITCHEN_SCENE3_turn_on_the_stove_demo.hdf5", [6]), "turn on the stove")
    (ep,) = _eps(tmp_path)
    assert ep.annotation.layout == "libero" and "attribute data@problem_info" in ep.annotation.layout_from
    assert [lang.text for lang in ep.language] == ["turn on the stove"] and "agentview_rgb" in ep.cameras
    with h5py.File(tmp_path / "KITCHEN_SCENE3_turn_on_the_stove_demo.hdf5", "a") as f:
        f["data"].attrs["problem_info"] = "{}"  # no language_instruction: the file name says it
    (ep,) = _eps(tmp_path)
    assert [lang.text for lang in ep.language] == ["turn on the stove"]


def test_aloha_one_file_one_episode_at_50_hz(tmp_path: Path) -> None:
    write_aloha(tmp_path / "episode_0.hdf5", 9)
    write_aloha(tmp_path / "episode_1.hdf5", 4)
    eps = _eps(tmp_path)
    assert [e.ref.raw_id for e in eps] == ["episode_0.hdf5", "episode_1.hdf5"]
    ep = eps[0]
    assert ep.annotation.layout == "aloha" and ep.native_fps == 50 and ep.robot_type == "aloha"
    assert set(ep.states) == {"observations.qpos", "observations.qvel"} and ep.actions["action"].values.shape == (9, 14)
    assert np.allclose(ep.states["observations.qpos"].timestamps[1], 0.02) and len(ep.cameras["top"]) == 9
    assert ep.cameras["top"].canonical == "head"  # ACT's sim camera `top` (real ALOHA: cam_high)


def test_umi_zip_episodes_from_episode_ends(tmp_path: Path) -> None:
    write_umi(tmp_path / "dataset.zarr.zip", [5, 11, 20])
    (refused,) = list(ZarrAdapter().discover(tmp_path))  # UMI's buffer states no rate, and no maker's code read does
    assert "the `fps` option is required for" in refused.error and "dataset.zarr.zip" in refused.error
    adapter = ZarrAdapter({"fps": 59.94})
    refs = list(adapter.discover(tmp_path))
    assert [r.raw_id for r in refs] == ["dataset.zarr/episode_0", "dataset.zarr/episode_1", "dataset.zarr/episode_2"]
    eps = [adapter.read(r) for r in refs]
    assert [len(e.states["robot0_eef_pos"]) for e in eps] == [5, 6, 9] and eps[0].annotation.layout == "umi"
    assert "robot0_demo_start_pose" not in eps[0].states and eps[1].annotation.rows == (5, 11)
    assert eps[0].native_fps == 59.94 and eps[0].annotation.rate_from == "option"
    assert eps[0].cameras["camera0_rgb"].canonical == "wrist_right"  # UMI's GoPro rides on the gripper


def test_episode_ends_past_the_rows_refused(tmp_path: Path) -> None:
    write_umi(tmp_path / "bad.zarr.zip", [5, 30, 20])
    (ref,) = list(ZarrAdapter().discover(tmp_path))
    assert ref.error and "must rise strictly" in ref.error


def test_rows_past_the_rows_limit_refused_before_reading(tmp_path: Path, settings: Any) -> None:
    write_aloha(tmp_path / "episode_0.hdf5", 9)
    write_umi(tmp_path / "buffer.zarr.zip", [4, 9])
    settings(max_rows=5)
    adapter = ArraysAdapter()
    refs = {r.raw_id: r for r in adapter.discover(tmp_path)}
    assert "rows: 9 declared, more than the ROWS limit (5)" in refs["buffer.zarr"].error
    with pytest.raises(Exception, match="rows") as info:
        adapter.read(refs["episode_0.hdf5"])
    assert info.value.field == "/"


def test_a_store_that_cannot_be_opened_is_one_flagged_ref(tmp_path: Path) -> None:
    truncate(write_robomimic(tmp_path / "cut.hdf5", [5, 6]))
    adapter = ArraysAdapter()
    (ref,) = list(adapter.discover(tmp_path))
    assert ref.raw_id == "cut.hdf5" and ref.error and "not read as an array recording" in ref.error
    assert [f.code for f in adapter.findings()] == ["unreadable_store"]


def test_zarr_adapter_leaves_hdf5_files_alone(tmp_path: Path) -> None:
    write_aloha(tmp_path / "episode_0.hdf5", 4)
    write_umi(tmp_path / "dataset.zarr.zip", [3, 5])
    refs = [r.raw_id for r in ZarrAdapter({"fps": 30}).discover(tmp_path)]
    assert refs == ["dataset.zarr/episode_0", "dataset.zarr/episode_1"]
    assert len(list(ArraysAdapter({"fps": 30}).discover(tmp_path))) == 3
