"""The hands of array recordings, through the ingest's own steps (`fixtures.offline.prepare`): a recorded end-effector
pose (robosuite's / robomimic's, LIBERO's, Isaac Lab's) becomes the canonical right hand of a Panda, and ALOHA's 14
joint positions reach both wrists by FK of the shipped vx300s description. Physical invariants, not the formula
re-run: the wrist sits the registry's EEF offset behind the recorded point along the recorded approach axis, its
rotation is proper and its z axis the quaternion's (read in the maker's order, a misread order fails), the opening
rises as the fingers open, the ALOHA wrists stay within a ViperX's reach of their bases, left of / right of each
other as the arms are mounted. Files are written here with h5py in the makers' layouts (keys and units as the
makers' code writes them, `adapters/arrays/layouts.yaml`'s header).

Robot identity by evidence (issue 65 item 5): an array recording's hands take an embodiment only where the file
names that robot (`adapters/arrays/robots.yaml`: Isaac Lab's env name, robosuite's `robots`), never the family of its
layout. The case reported: a real Isaac Lab recording of a Neuromeka Indy7 (`Isaac-Reach-Indy7-IK-Rel-v0`, obs/eef_pos
and eef_quat as the Franka stack task records them) was written as `franka` with the Franka's 0.1034 m tool offset.
Env names here are Isaac Lab's own registry's (robots.yaml cites each `gym.register`) and Isaac Lab Mimic's, none of
them the reported one except where said; a file naming another robot, none, or one eidata has no description of
keeps its natives, and the tier reasons say what the file said and how to declare the robot (`robots:`).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.arrays.adapter import ArraysAdapter
from adapters.arrays.hands import TABLES, named_robot
from adapters.base import RawEpisode
from adapters.synthetic.arrays import write_robomimic
from ingest.frames import rot6d_to_matrix
from schemas.actions import NotCanonical
from schemas.canonical import GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.robots.eef_offsets import EEF_OFFSETS
from schemas.robots.registry import default_registry
from schemas.tiers import QualityTier, reasons_of
from tests.fixtures.offline import prepare, prepared
from tests.fixtures.writers.arrays import write_aloha, write_isaaclab

N = 60  # rows at 20 Hz: 3 s, 30 canonical frames, frame k at row 2k


def _read(root: Path, **options) -> list[RawEpisode]:
    adapter = ArraysAdapter(options)
    refs = list(adapter.discover(root))
    assert all(r.error is None for r in refs), [r.error for r in refs]
    return [adapter.read(r) for r in refs]


def _motion(seed: int = 0) -> tuple[np.ndarray, Rotation, np.ndarray]:
    """(N,3) positions, N rotations turning about a tilted top-down pose, (N,) finger travel 0 -> 0.04 m."""
    t = np.linspace(0.0, 1.0, N)
    pos = np.stack([-0.1 + 0.2 * t, 0.1 * np.sin(3 * t + seed), 1.0 - 0.15 * t], axis=1)
    rot = Rotation.from_euler("xyz", np.stack([np.pi - 0.3 * t, 0.2 * np.sin(2 * t), 0.8 * t + 0.4], axis=1))
    return pos, rot, 0.04 * t


def _robomimic(path: Path, obs: dict[str, np.ndarray], env_args: dict | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["total"] = N
        data.attrs["env_args"] = json.dumps(
            env_args or {"env_name": "Lift", "type": 1, "env_kwargs": {"robots": ["Panda"]}}
        )
        demo = data.create_group("demo_0")
        demo.attrs["num_samples"] = N
        for key, values in obs.items():
            demo[f"obs/{key}"] = values
        demo["actions"] = np.zeros((N, 7))
        demo["rewards"] = np.zeros(N)
        demo["dones"] = np.arange(N) == N - 1
    return path


def _canonical(raw: RawEpisode):
    done = prepare(raw)
    (ep,) = done.episodes
    return ep


def _check_right_hand(ep, pos: np.ndarray, rot: Rotation, offset_m: float) -> None:
    rows = np.arange(len(ep.timestamps)) * 2  # 10 Hz frames of 20 Hz rows
    assert len(rows) == N // 2 and np.allclose(ep.timestamps, rows / 20)
    wrist = ep.state[:, hand_dims(1, WRIST_POS)].astype(np.float64)
    r = rot6d_to_matrix(ep.state[:, hand_dims(1, WRIST_ROT6D)])
    assert np.allclose(np.linalg.det(r), 1.0, atol=1e-5)
    assert np.allclose(r @ np.swapaxes(r, 1, 2), np.eye(3), atol=1e-5)  # a proper rotation
    z = rot[rows].as_matrix()[:, :, 2]
    assert np.allclose(r[:, :, 2], z, atol=1e-5)  # the approach axis is the recorded one
    # the wrist (flange) sits the registry's offset behind the recorded TCP, along the recorded approach axis
    assert np.allclose(wrist, pos[rows] - offset_m * z, atol=1e-5)
    assert np.allclose(np.linalg.norm(wrist - pos[rows], axis=1), offset_m, atol=1e-5)


def _check_opening_rises(ep) -> None:
    g = ep.state[:, hand_dims(1, GRIPPER)][:, 0]
    assert np.all(np.diff(g) > 0) and g[0] < 0.05 and g[-1] > 0.9  # closed -> open as the fingers part


def test_robosuite_eef_pose_is_the_right_hand_of_a_panda(tmp_path: Path) -> None:
    pos, rot, q = _motion()
    obs = {
        "robot0_eef_pos": pos,
        "robot0_eef_quat": rot.as_quat(),  # robosuite: x, y, z, w
        "robot0_gripper_qpos": np.stack([q, -q], axis=1),  # finger_joint1 0..0.04, finger_joint2 -0.04..0
        "robot0_joint_pos": np.zeros((N, 7)),
    }
    (raw,) = _read(_robomimic(tmp_path / "a" / "low_dim.hdf5", obs).parent)
    assert raw.embodiment == "robosuite_panda" and raw.metadata["hands_from"].startswith("robosuite")
    assert set(raw.hands.hands) == {1} and not reasons_of(raw.verdicts)
    ep = _canonical(raw)
    assert ep.embodiment == "robosuite_panda" and ep.tier is not QualityTier.actionless
    (offset, _) = EEF_OFFSETS["robosuite_panda"]
    assert offset.translation == (0.0, 0.0, -0.097)  # robosuite panda_gripper.xml: grip_site 0.097 m along z
    _check_right_hand(ep, pos, rot, 0.097)
    _check_opening_rises(ep)
    assert "obs.robot0_eef_pos.0" in ep.natives.state_names  # the natives stay beside


def test_a_renamed_subset_keeps_its_offset(tmp_path: Path) -> None:
    """The layout says its poses are the TCP: a subset named as the user likes is moved to the wrist all the same
    (it went by the subset's name, and `my_demos` got none)."""
    pos, rot, q = _motion(2)
    obs = {"robot0_eef_pos": pos, "robot0_eef_quat": rot.as_quat(), "robot0_gripper_qpos": np.stack([q, -q], axis=1)}
    (raw,) = _read(_robomimic(tmp_path / "r" / "low_dim.hdf5", obs).parent, subset="my_demos")
    assert raw.ref.subset == "my_demos" and raw.hands.recorded_point[0] == "tcp"
    _check_right_hand(_canonical(raw), pos, rot, 0.097)


def test_isaaclab_eef_pose_reads_its_quaternion_w_first(tmp_path: Path) -> None:
    pos, rot, q = _motion(1)
    xyzw = rot.as_quat()
    wxyz = xyzw[:, [3, 0, 1, 2]]  # Isaac Lab FrameTransformerData.target_quat_w: (w, x, y, z)
    misread = Rotation.from_quat(wxyz).as_matrix()[:, :, 2]  # the same numbers taken as x, y, z, w
    assert np.min(np.linalg.norm(misread - rot.as_matrix()[:, :, 2], axis=1)) > 0.1  # the order is tested
    obs = {
        "eef_pos": pos,
        "eef_quat": wxyz,
        "gripper_pos": np.stack([q, -q], axis=1),  # Isaac Lab gripper_pos: (finger_joint_1, -finger_joint_2)
        "joint_pos": np.zeros((N, 9)),
    }
    env = {"env_name": "Isaac-Stack-Cube-Franka-IK-Rel-v0", "type": 2}
    (raw,) = _read(_robomimic(tmp_path / "i" / "dataset.hdf5", obs, env).parent)
    assert raw.embodiment == "franka" and raw.metadata["hands_from"].startswith("isaaclab")
    ep = _canonical(raw)
    assert ep.tier is not QualityTier.actionless
    _check_right_hand(ep, pos, rot, 0.1034)  # panda_hand + 0.1034 m: Franka's TCP, the franka offset
    _check_opening_rises(ep)


def test_libero_axis_angle_orientation(tmp_path: Path) -> None:
    pos, rot, q = _motion(2)
    obs = {
        "ee_pos": pos,
        "ee_ori": rot.as_rotvec(),  # LIBERO: T.quat2axisangle(robot0_eef_quat)
        "gripper_states": np.stack([q, -q], axis=1),
        "joint_states": np.zeros((N, 7)),
    }
    path = _robomimic(tmp_path / "l" / "KITCHEN_SCENE1_open_the_drawer_demo.hdf5", obs)
    with h5py.File(path, "a") as f:
        f["data"].attrs["problem_info"] = json.dumps({"language_instruction": "open the drawer"})
    (raw,) = _read(path.parent)
    assert raw.annotation.layout == "libero" and raw.metadata["hands_from"].startswith("libero")
    ep = _canonical(raw)
    assert ep.embodiment == "robosuite_panda" and ep.tier is not QualityTier.actionless
    _check_right_hand(ep, pos, rot, 0.097)
    _check_opening_rises(ep)


def test_a_recording_without_the_evidence_stays_natives_only_and_says_what_it_lacks(tmp_path: Path) -> None:
    (raw,) = _read(_robomimic(tmp_path / "n" / "x.hdf5", {"object": np.zeros((N, 10))}).parent)
    assert raw.embodiment == "unknown" and raw.hands.empty
    (reason,) = reasons_of(raw.verdicts)
    assert "obs/robot0_eef_pos" in reason and "obs/eef_quat" in reason and reason.endswith("natives only")


VX300S_REACH_M = 0.75  # Interbotix ViperX 300 6DOF: 750 mm reach (the wrist is nearer than the fingertips)
ALOHA_BASES = {0: np.array([0.0, 0.469, 0.0]), 1: np.array([0.0, -0.469, 0.0])}  # joint_space.yaml aloha


def test_aloha_joints_reach_both_wrists_by_fk(tmp_path: Path) -> None:
    t = np.linspace(0.0, 1.0, 100)[:, None]
    arm = np.array([0.0, -0.6, 0.6, 0.0, 0.5, 0.0]) + 0.3 * np.sin(np.pi * t + np.arange(6))  # rad, within limits
    grip = t  # ACT's normalized puppet gripper: 0 closed .. 1 open
    qpos = np.concatenate([arm, grip, -arm * [1, -1, -1, 1, -1, 1], grip], axis=1)
    path = tmp_path / "aloha" / "episode_0.hdf5"
    path.parent.mkdir()
    with h5py.File(path, "w") as f:
        f.attrs["sim"] = True
        f["observations/qpos"] = qpos
        f["observations/qvel"] = np.zeros_like(qpos)
        f["action"] = qpos
    (raw,) = _read(path.parent)
    assert raw.embodiment == "aloha" and raw.hands.empty  # the description gives the wrists, in canonicalize
    assert raw.states["observations.qpos"].names[7] == "right_waist"
    ep = _canonical(raw)
    assert ep.tier is not QualityTier.actionless and ep.embodiment == "aloha"
    wrists = {h: ep.state[:, hand_dims(h, WRIST_POS)].astype(np.float64) for h in (0, 1)}
    for hand, base in ALOHA_BASES.items():
        reach = np.linalg.norm(wrists[hand] - base, axis=1)
        assert np.all(reach < VX300S_REACH_M) and np.all(reach > 0.1)
        r = rot6d_to_matrix(ep.state[:, hand_dims(hand, WRIST_ROT6D)])
        assert np.allclose(np.linalg.det(r), 1.0, atol=1e-5)
    assert np.all(wrists[0][:, 1] > wrists[1][:, 1])  # the left arm is mounted on +y
    assert np.all(wrists[0][:, 1] < 0.469) and np.all(wrists[1][:, 1] > -0.469)  # each reaches in, facing the other
    g = ep.state[:, hand_dims(0, GRIPPER)][:, 0]
    assert np.all(np.diff(g) > 0)  # the normalized gripper is the opening


def test_layouts_without_hands_say_so() -> None:
    from adapters.arrays.hands import declare
    from adapters.arrays.layouts import LAYOUTS

    d = declare("robosuite_raw", LAYOUTS["robosuite_raw"], {}, set())
    assert d.embodiment == "unknown" and d.cause is NotCanonical.no_observation  # the recorder writes none (issue 97)
    why = LAYOUTS["robosuite_raw"].no_hands.why
    assert d.reasons == (f"layout robosuite_raw declares no hands: {why}: natives only",)


def _read_one(root: Path, **options):
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
    raw = _read_one(tmp_path, fps=20)
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
    raw = _read_one(tmp_path, fps=30)
    assert raw.embodiment == "unknown" and raw.hands.empty  # no Franka offset on another robot's wrist
    (reason,) = [r for r in reasons_of(raw.verdicts) if r.startswith("isaaclab poses held, robot not shown")]
    assert f"data@env_args['env_name'] = {env!r} {said}" in reason
    assert "the job spec's `robots:` section" in reason and "natives only" in reason
    [ep] = prepared(raw)
    assert ep.tier_reasons[0].startswith("no canonical dims") and "robot not shown" in ep.tier_reasons[0]
    assert any(n.startswith("obs.eef_pos") for n in ep.natives.state_names)  # the recorded poses kept as natives


def test_a_robosuite_file_is_a_panda_only_where_its_robots_say_so(tmp_path: Path) -> None:
    write_robomimic(tmp_path / "p" / "lift.hdf5", [12])  # env_kwargs robots ["Panda"]
    assert _read_one(tmp_path / "p").embodiment == "robosuite_panda"
    for robots, said in ((["Sawyer"], "names Sawyer: no description of Sawyer here"), (None, "absent")):
        path = write_robomimic(tmp_path / str(robots) / "lift.hdf5", [12])
        with h5py.File(path, "r+") as f:
            args = json.loads(f["data"].attrs["env_args"])
            args["env_kwargs"].pop("robots")
            if robots is not None:
                args["env_kwargs"]["robots"] = robots
            f["data"].attrs["env_args"] = json.dumps(args)
        raw = _read_one(path.parent)
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
    assert _read_one(tmp_path / "a").embodiment == "aloha"
    path = write_aloha(tmp_path / "b" / "episode_0.hdf5", 6)
    with h5py.File(path, "r+") as f:
        del f.attrs["sim"]
    raw = _read_one(tmp_path / "b", fps=50)
    assert raw.embodiment == "unknown"
    said = reasons_of(raw.verdicts)
    assert any("not the recorder's mark @sim" in r and "`robots:`" in r for r in said), said
