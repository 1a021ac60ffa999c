"""Robot identity by evidence (issue 65 item 5): an array recording's hands take an embodiment only where the file
names that robot (`adapters/arrays/robots.yaml`: Isaac Lab's env name, robosuite's `robots`), never the family of its
layout. The case reported: a real Isaac Lab recording of a Neuromeka Indy7 (`Isaac-Reach-Indy7-IK-Rel-v0`, obs/eef_pos
and eef_quat as the Franka stack task records them) was written as `franka` with the Franka's 0.1034 m tool offset.
Env names here are Isaac Lab's own registry's (robots.yaml cites each `gym.register`) and Isaac Lab Mimic's, none of
them the reported one except where said; a file naming another robot, none, or one eidata has no description of
keeps its natives, and the tier reasons say what the file said and how to declare the robot (`robots:`)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest

from adapters.arrays.adapter import ArraysAdapter
from adapters.arrays.robots import TABLES, named_robot
from adapters.synthetic.arrays import write_robomimic
from schemas.robots.registry import default_registry
from schemas.tiers import reasons_of
from tests.fixtures.offline import prepared
from tests.fixtures.writers.arrays import write_aloha, write_isaaclab


def _read(root: Path, **options):
    adapter = ArraysAdapter(options)
    (ref,) = adapter.discover(root)
    assert ref.error is None, ref.error
    return adapter.read(ref)


@pytest.mark.parametrize(
    "env",
    [
        "Isaac-Stack-Cube-Franka-IK-Rel-v0",
        "Isaac-Stack-Cube-Franka-IK-Rel-Mimic-v0",  # Isaac Lab Mimic's generated data
        "Isaac-Stack-Cube-Instance-Randomize-Franka-IK-Rel-v0",
        "Isaac-Stack-Cube-Franka-IK-Rel-Blueprint-v0",
        "Isaac-Lift-Cube-Franka-IK-Rel-v0",
    ],
)
def test_an_isaac_lab_franka_is_the_franka_its_env_name_says(tmp_path: Path, env: str) -> None:
    write_isaaclab(tmp_path / "d.hdf5", [30], env_name=env)
    raw = _read(tmp_path, fps=20)
    assert raw.embodiment == "franka" and not raw.hands.empty
    assert f"robot: data@env_args['env_name'] = {env!r} names Franka" in raw.metadata["hands_from"]


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ("Isaac-Reach-Indy7-IK-Rel-v0", "names no robot this layout knows"),  # the reported file's env
        ("Isaac-Reach-Indy7-IK-Rel-Mimic-v0", "names no robot this layout knows"),
        ("Isaac-Stack-Cube-UR10-Long-Suction-IK-Rel-v0", "names UR10: no description of UR10 here"),
        ("Isaac-Stack-Cube-UR10-Parallel-IK-Rel-v0", "names UR10: no description of UR10 here"),
        ("Isaac-PickPlace-GR1T2-Abs-v0", "names GR1T2: no description of GR1T2 here"),
        ("Isaac-Stack-Cube-Galbot-Left-Arm-Gripper-RmpFlow-Rel-Mimic-v0", "names Galbot: no description"),
        ("Isaac-Stack-Cube-Frankenstein-IK-Rel-v0", "names no robot this layout knows"),  # a token, not a substring
    ],
)
def test_an_isaac_lab_recording_of_another_robot_keeps_its_natives_and_says_why(
    tmp_path: Path, env: str, said: str
) -> None:
    write_isaaclab(tmp_path / "d.hdf5", [30], env_name=env)
    raw = _read(tmp_path, fps=30)
    assert raw.embodiment == "unknown" and raw.hands.empty  # no Franka offset on another robot's wrist
    (reason,) = [r for r in reasons_of(raw.verdicts) if r.startswith("isaaclab poses held, robot not shown")]
    assert f"data@env_args['env_name'] = {env!r} {said}" in reason
    assert "the job spec's `robots:` section" in reason and "natives only" in reason
    [ep] = prepared(raw)
    assert ep.tier_reasons[0].startswith("no canonical dims") and "robot not shown" in ep.tier_reasons[0]
    assert any(n.startswith("obs.eef_pos") for n in ep.natives.state_names)  # the recorded poses kept as natives


def test_a_robosuite_file_is_a_panda_only_where_its_robots_say_so(tmp_path: Path) -> None:
    write_robomimic(tmp_path / "p" / "lift.hdf5", [12])  # env_kwargs robots ["Panda"]
    assert _read(tmp_path / "p").embodiment == "robosuite_panda"
    for robots, said in ((["Sawyer"], "names Sawyer: no description of Sawyer here"), (None, "absent")):
        path = write_robomimic(tmp_path / str(robots) / "lift.hdf5", [12])
        with h5py.File(path, "r+") as f:
            args = json.loads(f["data"].attrs["env_args"])
            args["env_kwargs"].pop("robots")
            if robots is not None:
                args["env_kwargs"]["robots"] = robots
            f["data"].attrs["env_args"] = json.dumps(args)
        raw = _read(path.parent)
        assert raw.embodiment == "unknown" and raw.hands.empty
        assert any(said in r and "`robots:`" in r for r in reasons_of(raw.verdicts)), reasons_of(raw.verdicts)


def test_every_table_row_names_a_registered_embodiment() -> None:
    names = set(default_registry().names())
    for table in TABLES.values():
        assert {e for e in table.robots.values() if e is not None} <= names
    emb, said = named_robot("robosuite", {"data": {"env_args": json.dumps({"env_kwargs": {"robots": ["Panda"] * 2}})}})
    assert emb == "robosuite_panda" and "names Panda" in said  # two Pandas: one robot, named once
    emb, said = named_robot("isaaclab", {"data": {"env_args": "not json"}})
    assert emb is None and "absent" in said


def test_an_act_shaped_file_without_acts_mark_is_no_aloha(tmp_path: Path) -> None:
    """ALOHA's layout is a shape (observations/qpos, action); the robot is ACT's / ALOHA's only where the file holds
    the recorder's `sim` attribute (`layouts.yaml` aloha `attrs`): another robot's 14 values are not read as two
    ViperX arms."""
    write_aloha(tmp_path / "a" / "episode_0.hdf5", 6)
    assert _read(tmp_path / "a").embodiment == "aloha"
    path = write_aloha(tmp_path / "b" / "episode_0.hdf5", 6)
    with h5py.File(path, "r+") as f:
        del f.attrs["sim"]
    raw = _read(tmp_path / "b", fps=50)
    assert raw.embodiment == "unknown"
    said = reasons_of(raw.verdicts)
    assert any("not the recorder's mark @sim" in r and "`robots:`" in r for r in said), said
