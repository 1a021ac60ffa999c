"""`ingest.canonical.joint_columns` through `joint_space_signals`: a numbering counted from 0 against a description's
from 1 reaches FK one shift up with the reason in the notes, or is refused with the dataset, episode and both
numberings named; an explicit `joint_map` is taken as written. Physical checks: turning only the first recorded
column turns the Franka wrist about the base's vertical axis (panda_joint1), which an off-by-one reading could not."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from adapters.base import EpisodeRef, RawEpisode, Stream
from ingest.canonical.joint_columns import JointSpaceError
from ingest.canonical.joint_space import joint_space_hands, joint_space_signals
from schemas.robots.joint_space import JointSpaceOptions
from schemas.robots.registry import JOINT_SPACE, default_registry
from schemas.tiers import QualityTier

# InternData-A1's Franka names:
# zz2ethankai/InternDataEngine@cf8b043:policy/lmdb2lerobotv21/lmdb2lerobot_franka_a1.py:74
FRANKA_A1 = [f"joint_{i}" for i in range(7)]
# panda's ready pose (franka_ros franka_control default): inside every limit, the wrist in front of the base
READY = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785])


def _raw(names: list[str], values: np.ndarray, robot_type: str, opts: JointSpaceOptions | None = None) -> RawEpisode:
    ref = EpisodeRef(adapter="lerobot", source="t", subset="a1_franka", raw_id="3", paths=("x",))
    state = Stream(np.arange(len(values)) / 10.0, values.astype(np.float32), names=tuple(names))
    return RawEpisode(
        ref, robot_type, robot_type, QualityTier.high, 10.0, states={"observation.state": state}, joint_space=opts
    )


def _franka(q7: np.ndarray) -> RawEpisode:
    grip = np.full((len(q7), 1), 0.02)
    return _raw([*FRANKA_A1, "gripper"], np.concatenate([q7, grip], axis=1), "franka")


def test_a_zero_based_franka_turns_its_wrist_about_the_base_axis_when_joint_0_moves() -> None:
    """Only joint_0 sweeps 0 .. 1 rad: read as panda_joint1 (about the base z) the wrist keeps its height and its
    distance from the base axis and its azimuth follows joint_0 one to one. Read by name (joint_1 = panda_joint1)
    the wrist would not move at all; the note names the reading."""
    sweep = np.linspace(0.0, 1.0, 11)
    q = np.tile(READY, (len(sweep), 1))
    q[:, 0] = sweep
    got = joint_space_signals(_franka(q), JOINT_SPACE["franka"])
    p = got.signals.hands[1].rotation.values[:, :3, 3]
    assert np.ptp(p[:, 2]) < 1e-5 and np.ptp(np.hypot(p[:, 0], p[:, 1])) < 1e-5
    assert np.hypot(p[0, 0], p[0, 1]) > 0.3  # in front of the base, not on its axis
    azimuth = np.unwrap(np.arctan2(p[:, 1], p[:, 0]))
    np.testing.assert_allclose(azimuth - azimuth[0], sweep, atol=1e-5)
    [note] = [n for n in got.signals.notes if n.startswith("joint numbering")]
    assert "joint_0 = panda_joint1" in note and "joint_6 = panda_joint7" in note


def test_a_zero_based_frankas_last_column_is_the_wrist_flange_turn() -> None:
    """joint_6 moves panda_joint7, the flange's own axis: the wrist point stays, its x axis turns."""
    q = np.tile(READY, (2, 1))
    q[1, 6] += 0.5
    w = joint_space_signals(_franka(q), JOINT_SPACE["franka"]).signals.hands[1].rotation.values
    assert np.linalg.norm(w[1, :3, 3] - w[0, :3, 3]) < 1e-5
    assert np.degrees(np.arccos(np.clip(w[0, :3, 0] @ w[1, :3, 0], -1, 1))) == pytest.approx(28.65, abs=0.01)


def test_seven_columns_for_a_six_joint_arm_are_refused_with_the_dataset_and_both_numberings() -> None:
    """PiPER (joint1 .. joint6) and joint_0 .. joint_6: by name joint_1 .. joint_6 would all resolve, a column off."""
    raw = _raw([f"joint_{i}" for i in range(7)], np.zeros((5, 7)), "piper")
    with pytest.raises(JointSpaceError) as err:
        joint_space_signals(raw, JOINT_SPACE["piper"])
    msg = str(err.value)
    assert "a1_franka" in msg and "episode 3" in msg and "joint_0..joint_6 (7)" in msg and "1..6 (6)" in msg
    hands = joint_space_hands(
        raw, default_registry().get("piper")
    )  # canonicalize's entry: natives kept, the reason recorded
    assert not hands.signals.hands and "not one shift apart" in " ".join(hands.reasons)


def test_an_explicit_joint_map_is_taken_as_written() -> None:
    """A user mapping joint_1 .. joint_6 onto PiPER's joints is not second-guessed (no refusal, no shift note)."""
    opts = JointSpaceOptions(joint_map={f"joint_{k}": f"joint{k}" for k in range(1, 7)})
    raw = _raw([f"joint_{i}" for i in range(7)], np.zeros((5, 7)), "piper", opts)
    got = joint_space_signals(raw, JOINT_SPACE["piper"])
    assert got.signals.hands and not any(n.startswith("joint numbering") for n in got.signals.notes)


def test_a_bool_gripper_command_and_an_unread_gripper() -> None:
    """A binary gripper stored as bool (toto's `action/open_gripper`) is a 0/1 column the joint_map names; a dataset
    whose gripper no maker states (`gripper_unread`) keeps its wrists, no gripper, the reason in the notes."""
    q = np.tile(READY, (6, 1))
    ref = EpisodeRef(adapter="oxe", source="t", subset="toto", raw_id="0", paths=("x",))
    t = np.arange(6) / 10.0
    joints = Stream(t, q.astype(np.float32), names=tuple(FRANKA_A1))
    command = Stream(t, np.array([True, True, False, False, True, True]))
    urdf = {n: f"panda_joint{i + 1}" for i, n in enumerate(FRANKA_A1)}
    opts = JointSpaceOptions(joint_map={**urdf, "action/open_gripper": "panda_finger_joint1"}, gripper_unit="fraction")
    raw = RawEpisode(
        ref,
        "franka",
        "franka",
        QualityTier.high,
        10.0,
        states={"observation/state": joints},
        actions={"action/open_gripper": command},
        joint_space=opts,
    )
    track = joint_space_signals(raw, JOINT_SPACE["franka"]).signals.hands[1]
    assert track.gripper is None and track.gripper_command is not None
    np.testing.assert_array_equal(track.gripper_command.values, [1, 1, 0, 0, 1, 1])
    unread = opts.model_copy(update={"gripper_unread": "no unit stated"})
    sig = joint_space_signals(replace(raw, joint_space=unread), JOINT_SPACE["franka"]).signals
    assert sig.hands[1].has_wrist and sig.hands[1].gripper is None and sig.hands[1].gripper_command is None
    assert "right gripper not read by forward kinematics: no unit stated" in sig.notes


def test_an_arm_is_read_from_one_stream_where_each_joints_best_stream_alone_would_split_it() -> None:
    """Issue 97: joints several streams carry follow the one covering the most of the episode. A controller's
    `a.ctrl` holds three of the arm's joints over 0..6 s, the robot's `joints` all seven and the gripper over
    0.5..6 s: each of the three alone would follow `a.ctrl`, splitting the arm over two clocks (refused: 'streams on
    different clocks'). The arm is read from `joints`, the one stream holding it all, and the note says why."""
    t = np.arange(61) / 10.0
    q = np.tile(READY, (len(t), 1)) + 0.2 * np.sin(t)[:, None]
    arm = [f"panda_joint{i}" for i in range(1, 8)]
    late = t >= 0.5
    raw = RawEpisode(
        EpisodeRef(adapter="rosbag", source="t", subset="s", raw_id="0", paths=("x",)),
        "franka",
        "franka",
        QualityTier.high,
        10.0,
        states={
            "a.ctrl": Stream(t, q[:, :3], names=tuple(arm[:3])),
            "joints": Stream(t[late], np.c_[q[late], np.full(late.sum(), 0.02)], names=(*arm, "panda_finger_joint1")),
        },
    )
    sig = joint_space_signals(raw, JOINT_SPACE["franka"]).signals
    np.testing.assert_array_equal(sig.hands[1].rotation.timestamps, t[late])
    [said] = [n for n in sig.notes if "read together" in n]
    assert said.startswith("joint space: state joints ['panda_joint1'") and "from joints, the stream" in said
    assert "each joint's best stream alone: ['a.ctrl', 'joints']" in said
