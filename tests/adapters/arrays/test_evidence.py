"""Rates and success by evidence (issue 55 item 5): a maker's rate default applies only to files that name that maker
(robomimic's `env_args` type 1 is robosuite; Isaac Lab's env name; a raw robosuite file's `repository_version`;
ACT's `sim`), elsewhere the `fps` option is required and its absence refuses the store naming the option and the file;
a demo group's `success` attribute (Isaac Lab's recorder) becomes the episode's, and a failed demo is never `high`."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest

from adapters.arrays.adapter import ArraysAdapter
from adapters.synthetic.arrays import write_robomimic
from schemas.tiers import QualityTier
from tests.fixtures.offline import prepared
from tests.fixtures.writers.arrays import with_control_freq, write_aloha, write_isaaclab


def _refs(root: Path, options: dict | None = None) -> list:
    return list(ArraysAdapter(options).discover(root))


def test_isaac_lab_stack_takes_its_own_20_hz_not_robosuites(tmp_path: Path) -> None:
    write_isaaclab(tmp_path / "stack.hdf5", [12, 9])
    adapter = ArraysAdapter()
    eps = [adapter.read(r) for r in adapter.discover(tmp_path)]
    assert [e.native_fps for e in eps] == [20, 20]
    assert eps[0].annotation.rate_from.startswith("default: Isaac Lab stack env decimation 5")


def test_another_simulators_file_needs_the_fps_option(tmp_path: Path) -> None:
    """The newcomer's case: robosuite's 20 Hz was applied to a file whose env_args name another simulator."""
    write_isaaclab(tmp_path / "drawer.hdf5", [12], env_name="Isaac-Open-Drawer-Franka-IK-Rel-v0")
    (ref,) = _refs(tmp_path)
    assert ref.error is not None
    assert f"the `fps` option is required for {tmp_path / 'drawer.hdf5'}: it states no rate" in ref.error
    assert "attribute data@env_args['env_kwargs']['control_freq'] absent" in ref.error
    assert "attribute data@env_args['type'] == 1" in ref.error  # the evidence robosuite's default asks for
    (ok,) = _refs(tmp_path, {"fps": 30})
    ep = ArraysAdapter({"fps": 30}).read(ok)
    assert ep.native_fps == 30 and ep.annotation.rate_from == "option"


def test_robosuite_default_holds_only_for_robosuite_files(tmp_path: Path) -> None:
    with_control_freq(write_robomimic(tmp_path / "lift.hdf5", [6]), None)  # env_args type 1: robosuite
    (ref,) = _refs(tmp_path)
    assert ArraysAdapter().read(ref).annotation.rate_from.startswith("default: robosuite's default control_freq 20")
    with h5py.File(tmp_path / "lift.hdf5", "r+") as f:
        args = json.loads(f["data"].attrs["env_args"])
        f["data"].attrs["env_args"] = json.dumps({**args, "type": 2})  # a gym environment: not robosuite's
    (ref,) = _refs(tmp_path)
    assert ref.error is not None and "the `fps` option is required" in ref.error


def test_aloha_default_needs_acts_sim_attribute(tmp_path: Path) -> None:
    write_aloha(tmp_path / "episode_0.hdf5", 5)
    (ref,) = _refs(tmp_path)
    assert ArraysAdapter().read(ref).native_fps == 50
    with h5py.File(tmp_path / "episode_0.hdf5", "r+") as f:
        del f.attrs["sim"]
    (ref,) = _refs(tmp_path)
    assert ref.error is not None and "50 Hz for attribute @sim (ACT constants.py DT = 0.02" in ref.error


def test_demo_success_becomes_the_episodes_and_a_failed_demo_is_never_high(tmp_path: Path) -> None:
    write_isaaclab(tmp_path / "generated_failed.hdf5", [30, 30], success=[True, False])
    write_isaaclab(tmp_path / "plain.hdf5", [30])  # the recorder said nothing: unknown, not success
    adapter = ArraysAdapter()
    eps = {r.raw_id: adapter.read(r) for r in adapter.discover(tmp_path)}
    assert eps["generated_failed.hdf5/demo_0"].success is True
    assert eps["generated_failed.hdf5/demo_1"].success is False
    assert eps["plain.hdf5/demo_0"].success is None
    [failed] = prepared(eps["generated_failed.hdf5/demo_1"])
    [good] = prepared(eps["generated_failed.hdf5/demo_0"])
    assert failed.success is False and failed.tier is not QualityTier.high
    assert "failed episode (success=False)" in failed.tier_reasons
    assert good.success is True and "failed episode (success=False)" not in good.tier_reasons


@pytest.mark.parametrize("value", [1, 0])
def test_success_stored_as_an_integer_reads_as_a_bool(tmp_path: Path, value: int) -> None:
    write_isaaclab(tmp_path / "x.hdf5", [5])
    with h5py.File(tmp_path / "x.hdf5", "r+") as f:
        f["data/demo_0"].attrs["success"] = value
    (ref,) = _refs(tmp_path)
    assert ArraysAdapter().read(ref).success is bool(value)
