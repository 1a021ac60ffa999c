"""The GR1 description against the real GR00T robot_sim.PickNPlace sample (robot_type GR1ArmsOnly, 5 episodes, 2096
frames): FK over the recorded arm and hand state must give a physically possible robot, in every frame.

How the sample's 44 numbers map to joints (GR00T's RoboCasa GR1 environment, robocasa `models/robots/__init__.py`
`gather_robot_observations` + `GR1ArmsOnlyKeyConverter`, as indexed at hogunkee/robocasa_g1 @ 0bb50c85):
- `left_arm` / `right_arm` (modality.json slices): the robot's arm joint positions in the model's order, shoulder
  pitch, roll, yaw, elbow pitch, wrist yaw, roll, pitch (robosuite GR1 robot.xml body order);
- `left_hand` / `right_hand`: `unformat_gripper_space(qpos)[::-1]` of the Fourier hand, i.e. the intermediate
  joints of pinky, ring, middle, index, then thumb pitch and thumb yaw (hands.yaml `native_order`), 0 = open.

Invariants (base = pelvis, +x forward, +y left): wrists in front of the pelvis, within arm's reach of their shoulder,
the left wrist left of the right one, below the head and above the waist; closing a hand brings its fingertips to the
palm. The same checks under robosuite's later axis signs for the left arm (robot.xml @2742deef: shoulder pitch/roll,
elbow and wrist roll axes negated) fail, which is why the description follows Fourier's MJCF signs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from ingest.kinematics import KinematicModel, load_model
from ingest.kinematics.description import description_path, parse_description
from schemas.robots.hands import load_hands
from tests.realdata import realdata

SAMPLE = "gr00t_robot_sim_picknplace"
ARM = ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow_pitch", "wrist_yaw", "wrist_roll", "wrist_pitch")
SIDES = ("left", "right")


@pytest.fixture(scope="module")
def sample() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(state, action) as named [N, k] slices of the 44-dim vectors, all episodes concatenated."""
    root = realdata(SAMPLE)
    modality = json.loads((root / "meta" / "modality.json").read_text())
    tables = [pq.read_table(p, columns=["observation.state", "action"]) for p in sorted(root.glob("data/*/*.parquet"))]
    out = []
    for column, key in (("observation.state", "state"), ("action", "action")):
        full = np.concatenate([np.asarray(t.column(column).to_pylist(), dtype=np.float64) for t in tables])
        assert full.shape == (2096, 44)
        out.append({part: full[:, s["start"] : s["end"]] for part, s in modality[key].items()})
    return out[0], out[1]


def arm_q(model: KinematicModel, state: dict[str, np.ndarray]) -> np.ndarray:
    n = len(state["left_arm"])
    named = {f"{side}_{joint}_joint": state[f"{side}_arm"][:, k] for side in SIDES for k, joint in enumerate(ARM)}
    named.update({f"waist_{a}_joint": state["waist"][:, k] for k, a in enumerate(("yaw", "pitch", "roll"))})
    return model.assemble(named, n)


def invariants(model: KinematicModel, q: np.ndarray) -> dict[str, float]:
    links = [
        "left_hand_pitch_link",
        "right_hand_pitch_link",
        "left_upper_arm_pitch_link",
        "right_upper_arm_pitch_link",
        "head_pitch_link",
        "waist_yaw_link",
    ]
    p = model.forward(q, links)[:, :, :3, 3]
    lw, rw, ls, rs, head, waist = (p[:, i] for i in range(len(links)))
    return {
        "min_forward": float(min(lw[:, 0].min(), rw[:, 0].min())),
        "max_reach": float(max(np.linalg.norm(lw - ls, axis=1).max(), np.linalg.norm(rw - rs, axis=1).max())),
        "min_left_of_right": float((lw[:, 1] - rw[:, 1]).min()),
        "min_below_head": float(min((head[:, 2] - lw[:, 2]).min(), (head[:, 2] - rw[:, 2]).min())),
        "min_above_waist": float(min((lw[:, 2] - waist[:, 2]).min(), (rw[:, 2] - waist[:, 2]).min())),
    }


def test_both_wrists_sit_where_a_person_reaches_in_every_frame(sample) -> None:
    state, _ = sample
    model = load_model("gr1_arms")
    got = invariants(model, arm_q(model, state))
    # measured: forward >= 0.102 m, reach <= 0.503 m, left-of-right >= 0.292 m, 0.06 m above the waist yaw joint
    assert got["min_forward"] > 0.05, got
    assert got["max_reach"] < 0.7, got
    assert got["min_left_of_right"] > 0.1, got
    assert got["min_below_head"] > 0.0, got
    assert got["min_above_waist"] > 0.0, got
    # and the right hand really moves (the left one rests): a frozen arm would pass the checks above trivially
    right = model.forward(arm_q(model, state), ["right_hand_pitch_link"])[:, 0, :3, 3]
    assert np.ptp(right[:, 0]) > 0.3 and np.ptp(right[:, 2]) > 0.3


def test_robosuite_mirrored_left_arm_signs_put_the_left_wrist_behind_the_robot(sample) -> None:
    """The negative control: the other published sign convention for the same bodies fails the invariants."""
    state, _ = sample
    model_text = description_path("gr1_arms").read_text()
    text = model_text
    for joint, axis in (
        ("left_shoulder_pitch_joint", "0 1 0"),
        ("left_shoulder_roll_joint", "1 0 0"),
        ("left_elbow_pitch_joint", "0 1 0"),
        ("left_wrist_roll_joint", "1 0 0"),
    ):
        head, tail = text.split(f'<joint name="{joint}"', 1)
        block, rest = tail.split("</joint>", 1)
        flipped = block.replace(f'<axis xyz="{axis}"/>', '<axis xyz="' + " ".join(_neg(axis)) + '"/>')
        assert flipped != block
        text = f'{head}<joint name="{joint}"{flipped}</joint>{rest}'
    assert text != model_text
    name = "gr1_arms_robosuite_signs"
    mirrored = KinematicModel(parse_description(text, Path(f"{name}.urdf"), name))
    got = invariants(mirrored, arm_q(mirrored, state))
    assert got["min_forward"] < 0.0, got  # the elbow at -2.1 rad now folds the forearm backwards


def test_closing_the_recorded_hands_brings_fingertips_to_the_palm(sample) -> None:
    state, action = sample
    hands = load_hands()
    for side in SIDES:
        spec = hands.hands[f"gr1_fourier_hand_{side}"]
        model = load_model(spec.description)
        values = state[f"{side}_hand"]
        q = model.assemble({name: values[:, k] for k, name in enumerate(spec.native_order)}, len(values))
        tips = model.forward(q, list(spec.fingertips.values()))[:, :, :3, 3]
        spread = np.linalg.norm(tips - tips.mean(axis=1, keepdims=True), axis=2).mean(axis=1)
        palm_dist = np.linalg.norm(tips, axis=2).mean(axis=1)  # fingertips to the hand base origin
        closed_cmd = action[f"{side}_hand"][:, 0] > 0  # the sample commands open (-1.5) or closed (+1.5)
        if side == "left":
            assert not closed_cmd.any()  # the left hand never grasps in this sample; it stays open
            assert palm_dist.min() > 0.13
            continue
        settled = values[:, 3] > 1.0  # index joint well closed: the command has taken effect
        assert settled.sum() > 50 and (closed_cmd & settled).sum() > 50
        assert palm_dist[settled].mean() < palm_dist[~closed_cmd].mean() - 0.04
        assert spread[settled].mean() < spread[~closed_cmd].mean()


def _neg(axis: str) -> list[str]:
    return ["0" if a == "0" else (a[1:] if a.startswith("-") else "-" + a) for a in axis.split()]


def test_the_right_palm_faces_down_when_each_grasp_starts(sample) -> None:
    """The hand mount (Fourier's GR1T1_fourier_hand_6dof.urdf: hand base = wrist pitch frame, 0.021 m down the forearm)
    puts the palm (the side the right fingers flex to, +y of R_hand_base_link) towards the counter at the first
    'close' command of every episode: normal z -0.12 .. -0.74. A palm turned -90 deg about the forearm (robosuite's
    left-hand eef composition, robot.xml @2742deef) would face up in 4 of the 5 episodes."""
    state, action = sample
    model = load_model("gr1_arms")
    q = arm_q(model, state)
    starts = np.flatnonzero(np.diff((action["right_hand"][:, 0] > 0).astype(int), prepend=0) == 1)
    assert len(starts) >= 5  # one grasp per episode at least
    normal = model.forward(q[starts], ["right_hand_mount"])[:, 0, :3, 1]
    assert np.all(normal[:, 2] < -0.1), normal
