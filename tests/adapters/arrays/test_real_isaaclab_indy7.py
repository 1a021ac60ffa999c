"""The reported real recording (issue 65): 50 teleoperated demonstrations of a Neuromeka Indy7 in Isaac Lab,
`Isaac-Reach-Indy7-IK-Rel-v0` (../shared/realdata/isaaclab_indy7_reach, robomimic's layout as Isaac Lab's recorder
writes it, float32): obs/eef_pos and eef_quat as the Franka stack task records them, an action of the relative IK
term's 6 columns and no gripper column. It was written as `franka` with a Franka's 0.1034 m tool offset on the
Indy7's own `tcp` link, and its deltas were left "not accumulated". Now, through the ingest's own steps:

- no robot description is taken (the env name names no robot eidata describes): natives only, and the reason says
  what the file named and how to declare the robot; the recorded poses stay among the natives;
- the 6 relative columns are accumulated to 10 Hz, each demonstration's column sums the file's;
- the command is what moved the arm: per step the recorded tcp displacement follows the first three command columns
  with a positive gain and a correlation above 0.9 in every demonstration (measured: median 0.99, min 0.91; gain
  about 0.06 of the raw command per 50 Hz step).

Its rate is not in the file: the recorder's task config steps every decimation 2 x sim.dt 0.01 s (KJG97/irim_indy7
@ 610738d source/irim_tasks/irim_tasks/manager_based/manipulation/reach/reach_env_cfg.py:167-172), so `fps` 50 is
given, as a user must."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from adapters.arrays.adapter import ArraysAdapter
from schemas.tiers import reasons_of
from tests.fixtures.offline import prepare
from tests.realdata import realdata

SAMPLE = "isaaclab_indy7_reach/dataset.hdf5"
SOURCE = "KJG97/irim_indy7@610738d:datasets/dataset.hdf5 -> isaaclab_indy7_reach"
ENV = "Isaac-Reach-Indy7-IK-Rel-v0"


@pytest.fixture(scope="module")
def read() -> list[tuple[object, h5py.Group]]:
    path = realdata(SAMPLE)
    if path is None:
        pytest.skip(f"real sample absent: {SOURCE}")
    adapter = ArraysAdapter({"fps": 50})
    refs = list(adapter.discover(path.parent))
    assert len(refs) == 50 and all(r.error is None for r in refs), [r.error for r in refs][:3]
    f = h5py.File(path)
    return [(adapter.read(r), f["data"][r.raw_id.rsplit("/", 1)[-1]]) for r in refs]


def test_the_indy7_is_not_written_as_a_franka(read) -> None:
    for raw, group in read:
        assert raw.embodiment == "unknown" and raw.hands.empty, group.name
        (reason,) = [r for r in reasons_of(raw.verdicts) if "robot not shown" in r]
        assert f"data@env_args['env_name'] = {ENV!r} names no robot this layout knows" in reason
        assert "the job spec's `robots:` section" in reason
        assert raw.success is bool(group.attrs["success"])


def test_its_relative_commands_without_a_gripper_column_keep_their_sums(read) -> None:
    kept = 0
    for raw, group in read:
        action = raw.actions["actions"]
        assert action.values.shape[1] == 6 and action.relative.components == (0, 1, 2, 3, 4, 5)
        result = prepare(raw)
        if not result.episodes:  # under a second at 50 Hz: fewer than 10 frames at 10 Hz, rejected and said
            assert all("episode too short" in r.reason for r in result.rejections), group.name
            continue
        kept += 1
        eps = result.episodes
        assert "no canonical dims" in eps[0].tier_reasons[0]
        names = eps[0].natives.action_names
        cols = [names.index(f"actions.{i}") for i in range(6)]
        got = np.concatenate([ep.natives.action[:, cols] for ep in eps]).astype(np.float64).sum(0)
        np.testing.assert_allclose(got, group["actions"][()].astype(np.float64).sum(0), atol=1e-4, err_msg=group.name)
        assert any(n.startswith("obs.eef_pos") for n in eps[0].natives.state_names)
    assert kept >= 20, kept


def test_the_command_moved_the_recorded_tcp(read) -> None:
    for _, group in read:
        command = group["actions"][()].astype(np.float64)[:-1, :3]
        moved = np.diff(group["obs/eef_pos"][()].astype(np.float64), axis=0)
        gain = float((moved * command).sum() / (command * command).sum())
        corr = float(np.corrcoef(moved.ravel(), command.ravel())[0, 1])
        assert gain > 0 and corr > 0.9, (group.name, gain, corr)
