"""Delta actions settled by the maker's setting in the file and accumulated at 10 Hz (issue 55 item 4), with the
physical invariant: what the written episode's native action sums to is what the file's rows sum to.

Real: robosuite 1.4.1's raw `demo.hdf5` (../shared/realdata/robosuite_raw_lift; OSC_POSE, control_delta true, 20 Hz):
sampling summed demo_1's x deltas to 15.0 where the file has 30.0. Planted: an Isaac Lab `-IK-Rel` recording written as
Isaac Lab writes it (tests.fixtures.writers.arrays.write_isaaclab). The option overrides the maker either way; a setting
the action cannot be split by is not applied, with a note. Issue 65: the arm's relative columns are accumulated
whatever follows them (a reach task's action has no gripper column; it was left "not accumulated" for want of one)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.arrays.adapter import ArraysAdapter
from adapters.arrays.evidence import relative_action
from adapters.synthetic.arrays import write_robomimic
from ingest.canonical.store import lineage
from schemas.tiers import reasons_of
from tests.adapters.arrays.conftest import ROBOSUITE
from tests.fixtures.offline import prepared
from tests.fixtures.writers.arrays import write_isaaclab
from tests.realdata import realdata

ROBOSUITE_FROM = (
    "aditKadepurkar/basic_diffusion_policy@d1e6b2fb391a83d6f3c6713451fe31a8a73241ad:"
    "demonstrations/1729277108_0358148/demo.hdf5 -> robosuite_raw_lift"
)


def _written_sums(raw) -> tuple[np.ndarray, np.ndarray]:
    """(the written episodes' native action columns 0..5 summed, the gripper column's values)."""
    eps = prepared(raw)
    names = eps[0].natives.action_names
    cols = [names.index(f"actions.{i}") for i in range(7)]
    acts = np.concatenate([ep.natives.action[:, cols] for ep in eps])
    return acts[:, :6].sum(0), np.unique(acts[:, 6])


def test_real_robosuite_osc_pose_deltas_keep_their_sum() -> None:
    path = realdata(ROBOSUITE)
    if path is None:
        pytest.skip(f"real sample absent: {ROBOSUITE_FROM}")
    adapter = ArraysAdapter()
    for ref in adapter.discover(path.parent.parent):
        raw = adapter.read(ref)
        action = raw.actions["actions"]
        assert action.relative is not None and action.relative.components == (0, 1, 2, 3, 4, 5)
        assert action.relative.why.startswith("robosuite OSC_POSE with control_delta true (data@env_info")
        summed, gripper = _written_sums(raw)
        np.testing.assert_allclose(summed, action.values[:, :6].sum(0), atol=1e-4)
        assert set(gripper) <= {-1.0, 1.0}  # the gripper (absolute) sampled, never summed
    with h5py.File(path) as f:  # the file's own figure, kept (sampling, as before, summed 15.0 of it)
        assert f["data/demo_1/actions"][:, 0].sum() == pytest.approx(30.0)


def test_isaac_lab_ik_rel_deltas_keep_their_sum_and_the_lineage_says_why(tmp_path: Path) -> None:
    write_isaaclab(tmp_path / "stack.hdf5", [83])
    adapter = ArraysAdapter()
    (ref,) = adapter.discover(tmp_path)
    raw = adapter.read(ref)
    assert raw.actions["actions"].relative.components == (0, 1, 2, 3, 4, 5)
    summed, gripper = _written_sums(raw)
    np.testing.assert_allclose(summed, raw.actions["actions"].values[:, :6].sum(0), atol=1e-5)
    assert set(gripper) == {-1.0, 1.0}
    accumulated = lineage(prepared(raw)[0]).native_accumulated
    assert sorted(accumulated) == [f"actions.{i}" for i in range(6)]
    assert accumulated["actions.0"].startswith("Isaac Lab Isaac-Stack-Cube-Franka-IK-Rel-v0: a relative pose")


def test_the_option_decides_over_the_maker(tmp_path: Path) -> None:
    write_isaaclab(tmp_path / "stack.hdf5", [20])
    (ref,) = ArraysAdapter().discover(tmp_path)
    assert ArraysAdapter({"delta_actions": []}).read(ref).actions["actions"].relative is None
    rel = ArraysAdapter({"delta_actions": [0, 1, 2]}).read(ref).actions["actions"].relative
    assert rel.components == (0, 1, 2) and rel.why == "the delta_actions option"
    with pytest.raises(Exception, match=r"delta_actions option names columns \[9\]") as err:
        ArraysAdapter({"delta_actions": [9]}).read(ref)
    assert err.value.field == "delta_actions" and "stack.hdf5" in str(err.value)


def test_absolute_or_unsplittable_robosuite_actions_are_not_accumulated(tmp_path: Path) -> None:
    write_robomimic(tmp_path / "lift.hdf5", [8])  # no controller_configs: nothing says delta
    adapter = ArraysAdapter()
    (ref,) = adapter.discover(tmp_path)
    assert adapter.read(ref).actions["actions"].relative is None
    osc = {"type": "OSC_POSE", "control_delta": True}
    with h5py.File(tmp_path / "lift.hdf5", "r+") as f:
        args = json.loads(f["data"].attrs["env_args"])
        args["env_kwargs"]["controller_configs"] = {**osc, "control_delta": False}
        f["data"].attrs["env_args"] = json.dumps(args)
    assert adapter.read(ref).actions["actions"].relative is None
    args14 = {"type": 1, "env_kwargs": {"robots": ["Panda"], "controller_configs": osc}}
    rel, note = relative_action("robomimic", {"data": {"env_args": json.dumps(args14)}}, 5, None)
    assert rel is None and "its action's 5 columns do not split into 1 robot(s) x (6 arm + the gripper's)" in note
    # the arm's columns lead each robot's part whatever follows (issue 65): a gripper of 2 dof, none, two robots
    for robots, width, cols in (
        (["Panda"], 8, (0, 1, 2, 3, 4, 5)),
        (["Panda"], 6, (0, 1, 2, 3, 4, 5)),
        (["Panda", "Panda"], 14, (0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12)),
    ):
        args = {"type": 1, "env_kwargs": {"robots": robots, "controller_configs": osc}}
        rel, note = relative_action("robomimic", {"data": {"env_args": json.dumps(args)}}, width, None)
        assert rel.components == cols and note is None, (robots, width)
    rel, note = relative_action(
        "robomimic",
        {
            "data": {
                "env_args": json.dumps(
                    {**args, "env_kwargs": {"robots": ["Panda", "Panda"], "controller_configs": osc}}
                )
            }
        },
        13,
        None,
    )
    assert rel is None and "13 columns do not split into 2 robot(s)" in note
    args15 = {
        "type": 1,
        "env_kwargs": {
            "robots": "Panda",
            "controller_configs": {
                "type": "BASIC",
                "body_parts": {"right": {"type": "OSC_POSITION", "input_type": "delta"}},
            },
        },
    }
    rel, note = relative_action("robomimic", {"data": {"env_args": json.dumps(args15)}}, 4, None)
    assert rel.components == (0, 1, 2) and note is None


def test_relative_ik_without_a_gripper_column_is_accumulated(tmp_path: Path) -> None:
    """The reported recording's second defect: Isaac Lab's reach tasks have no gripper term, so the action is the IK
    term's 6 relative columns alone; they were left "not accumulated" for want of a 7th."""
    write_isaaclab(tmp_path / "reach.hdf5", [83], env_name="Isaac-Reach-Indy7-IK-Rel-v0", gripper=False)
    adapter = ArraysAdapter({"fps": 30})
    (ref,) = adapter.discover(tmp_path)
    raw = adapter.read(ref)
    action = raw.actions["actions"]
    assert action.values.shape[1] == 6 and action.relative.components == (0, 1, 2, 3, 4, 5)
    assert "no gripper column" in action.relative.why and "before the term's scale" in action.relative.why
    assert not any("not accumulated" in r for r in reasons_of(raw.verdicts))
    eps = prepared(raw)
    names = eps[0].natives.action_names
    cols = [names.index(f"actions.{i}") for i in range(6)]
    summed = np.concatenate([ep.natives.action[:, cols] for ep in eps]).sum(0)
    np.testing.assert_allclose(summed, action.values.sum(0), atol=1e-5)  # each column's sum is the file's
