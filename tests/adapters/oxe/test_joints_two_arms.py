"""The ALOHA rows (aloha_static_dataset, aloha_dagger_dataset, aloha_mobile_dataset, issue 87): two ViperX 300 6DOF
arms' joints in one 14-value state, each arm's wrist by forward kinematics, on shards in each row's RLDS layout.

- The order: the makers' recorder writes [left 6, left gripper, right 6, right gripper], each arm's joints in
  Interbotix's order (tonyzhaozh/aloha@06369f0 aloha_scripts/real_env.py:57-64 `get_qpos`, constants.py:15
  `JOINT_NAMES`); the rows name the columns so, and the two-arm check of the table refuses a row that does not.
- A second statement of the arm: Interbotix's own product-of-exponentials description of the vx300s (screw axes
  `Slist` and home pose `M` of ee_gripper_link, Interbotix/interbotix_ros_toolboxes@af96d28
  interbotix_xs_toolbox/interbotix_xs_modules/src/interbotix_xs_modules/mr_descriptions.py:78-89), independent of the
  URDF eidata ships: each FK wrist lies on that description's wrist_rotate axis, a constant 0.1072 m behind its
  ee_gripper_link, with the same approach axis, on every frame; the other arm's joints, or one column off, do not.
- Physical checks on every frame: the left wrist on the left of the rig's middle, the right on the right, each within
  its arm's reach from its own shoulder (the toolbox's link lengths), and moving.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.linalg import expm

from adapters.base import RawEpisode
from adapters.oxe.subsets import SUBSETS, OXESubset
from adapters.registry import get_adapter
from adapters.synthetic.rlds import write_rlds
from ingest.canonical.canonicalize import canonicalize_spans
from ingest.canonical.joint_space import joint_space_hands
from ingest.frames import offset_matrix
from schemas.canonical import GRIPPER, WRIST_POS, hand_dims
from schemas.robots.joint_space import load_joint_space
from schemas.robots.registry import default_registry

ALOHA = ("aloha_static_dataset", "aloha_dagger_dataset", "aloha_mobile_dataset")
JOINT_NAMES = ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate"]  # aloha constants.py:15
# Interbotix mr_descriptions.py:78-89 (class vx300s): screw axes (omega, v) in the base frame, home pose of
# ee_gripper_link
SLIST = np.array(
    [
        [0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, -0.12705, 0.0, 0.0],
        [0.0, 1.0, 0.0, -0.42705, 0.0, 0.05955],
        [1.0, 0.0, 0.0, 0.0, 0.42705, 0.0],
        [0.0, 1.0, 0.0, -0.42705, 0.0, 0.35955],
        [1.0, 0.0, 0.0, 0.0, 0.42705, 0.0],
    ]
)
M_EE = np.array([[1.0, 0, 0, 0.536494], [0, 1.0, 0, 0], [0, 0, 1.0, 0.42705], [0, 0, 0, 1.0]])
SHOULDER_Z = 0.12705  # the shoulder axis' height (Slist row 2)
# shoulder -> elbow, elbow -> wrist_angle, wrist_angle -> ee_gripper_link, from the toolbox's axes and M
REACH = np.hypot(0.05955, 0.3) + (0.35955 - 0.05955) + (0.536494 - 0.35955)


def toolbox_ee(q: np.ndarray) -> np.ndarray:
    """(T, 4, 4) ee_gripper_link in the arm's base frame by Interbotix's product of exponentials, T = e^[S1]q1 ..
    e^[S6]q6 M."""
    out = np.empty((len(q), 4, 4))
    for t, row in enumerate(q):
        pose = np.eye(4)
        for (wx, wy, wz, vx, vy, vz), theta in zip(SLIST, row, strict=True):
            twist = np.array([[0, -wz, wy, vx], [wz, 0, -wx, vy], [-wy, wx, 0, vz], [0, 0, 0, 0]])
            pose = pose @ expm(twist * theta)
        out[t] = pose @ M_EE
    return out


def _episode(tmp_path: Path, subset: str, steps: int = 50) -> RawEpisode:
    write_rlds(tmp_path, subset, episodes={"train": 1}, steps=steps, seed=5)
    a = get_adapter("oxe", {"splits": ["train"]})
    [raw] = [a.read(r) for r in a.discover(tmp_path) if r.error is None]
    return raw


def _wrists(raw: RawEpisode) -> dict[str, np.ndarray]:
    """side -> (T, 4, 4) canonical wrists canonicalization builds from the joints, on every recorded frame."""
    hands = joint_space_hands(replace(raw, hands=replace(raw.hands, hands={})), default_registry().get(raw.embodiment))
    out = {}
    for k, side in enumerate(("left", "right")):
        track = hands.signals.hands[k]
        assert track.rotation is not None and track.rotation.unit == "se3_4x4", hands.reasons
        out[side] = track.rotation.values
    return out


def test_the_rows_name_the_makers_qpos_order() -> None:
    """state = [left JOINT_NAMES, left gripper, right JOINT_NAMES, right gripper], as get_qpos concatenates them."""
    want = [f"{side}_{n}" for side in ("left", "right") for n in (*JOINT_NAMES, "gripper")]
    for subset in ALOHA:
        cfg = SUBSETS[subset]
        [state] = cfg.states
        assert [n for p in state.parts for n in p.names or ()] == want, subset
        assert cfg.fk_wrist and cfg.embodiment == "aloha" and cfg.joint_fk is not None
        assert cfg.joint_fk.gripper_unit == "fraction" and "get_qpos" in cfg.joint_fk.source


def test_a_two_arm_row_must_name_each_arms_columns_by_side() -> None:
    """A two-armed robot's columns are found by name (its URDF joint names are both arms'): the table refuses a
    row whose columns are unnamed or swapped, or gives one gripper for two arms."""
    row = SUBSETS["aloha_static_dataset"].model_dump()
    fk = row["joint_fk"]
    swapped = {**fk, "joints": fk["joints"][::-1]}
    one_arm = {**fk, "joints": fk["joints"][:1], "gripper": fk["gripper"][:1]}
    for bad, match in (
        (one_arm, r"names 1 joint columns, embodiment 'aloha' has 2 arms"),
        ({**fk, "gripper": fk["gripper"][:1]}, "1 gripper columns for 2 arms"),
        (swapped, r"left arm columns must be named '<left>_<joint>'"),
    ):
        with pytest.raises(ValidationError, match=match):
            OXESubset.model_validate({**row, "joint_fk": bad})
    unnamed = [{**p, "names": None} for p in row["states"][0]["parts"]]
    with pytest.raises(ValidationError, match="must be named"):
        OXESubset.model_validate({**row, "states": [{**row["states"][0], "parts": unnamed}]})


@pytest.mark.parametrize("subset", ALOHA)
def test_each_wrist_is_its_arms_ee_by_interbotix_own_kinematics(tmp_path: Path, subset: str) -> None:
    raw = _episode(tmp_path, subset)
    assert raw.hands.empty  # no pose declared: canonicalization builds both wrists from the joints
    spec = load_joint_space().robots["aloha"]
    wrists = _wrists(raw)
    q = {s: raw.states[f"observation/state:{s}_joints"].values.astype(np.float64) for s in ("left", "right")}
    for arm in spec.arms:
        canon_from_arm = offset_matrix(spec.canonical_from_base) @ offset_matrix(arm.base_from_arm)
        in_arm = np.linalg.inv(canon_from_arm) @ wrists[arm.side]  # the wrist in its own arm's base frame
        ee = toolbox_ee(q[arm.side])
        approach = in_arm[:, :3, 2]
        np.testing.assert_allclose(approach, ee[:, :3, 0], atol=1e-9)  # the toolbox's ee x is the approach
        np.testing.assert_allclose(np.abs(np.einsum("ti,ti->t", in_arm[:, :3, 1], ee[:, :3, 1])), 1.0, atol=1e-9)
        back = np.einsum("ti,ti->t", ee[:, :3, 3] - in_arm[:, :3, 3], approach)
        # the wrist (gripper_link, on wrist_rotate's axis) is a constant 0.1072 m behind the toolbox's ee_gripper_link:
        # the description's fixed offsets past gripper_link, ee_arm 0.042825 + ee_bar 0.025875 + ee_gripper 0.0385
        # (the toolbox's M leaves out the xacro's 0.005675 `gripper` joint offset, which eidata's wrist never reaches)
        np.testing.assert_allclose(back, 0.042825 + 0.025875 + 0.0385, atol=1e-6)
        np.testing.assert_allclose(ee[:, :3, 3], in_arm[:, :3, 3] + back[:, None] * approach, atol=1e-6)
        other = "right" if arm.side == "left" else "left"
        for planted in (q[other], np.roll(q[arm.side], 1, axis=1)):  # the other arm's joints, one column off
            assert np.abs(toolbox_ee(planted)[:, :3, 3] - ee[:, :3, 3]).max() > 0.01


@pytest.mark.parametrize("subset", ALOHA)
def test_each_wrist_on_its_own_side_within_its_arms_reach(tmp_path: Path, subset: str) -> None:
    raw = _episode(tmp_path, subset)
    spec = load_joint_space().robots["aloha"]
    wrists = _wrists(raw)
    assert (wrists["left"][:, 1, 3] > 0).all() and (wrists["right"][:, 1, 3] < 0).all()  # canonical y = left
    for arm in spec.arms:
        shoulder = (offset_matrix(spec.canonical_from_base) @ offset_matrix(arm.base_from_arm) @ [0, 0, SHOULDER_Z, 1])[
            :3
        ]
        reach = np.linalg.norm(wrists[arm.side][:, :3, 3] - shoulder, axis=1)
        assert (reach < REACH).all() and np.ptp(reach) > 1e-3, arm.side
    [ep] = canonicalize_spans(raw, source="oxe").episodes
    for hand in (0, 1):  # both wrists and grippers canonical, the episode tier high
        assert ep.mask[hand_dims(hand, WRIST_POS)].all() and ep.mask[hand_dims(hand, GRIPPER)].all(), ep.notes
    assert all(v.tier.value == "high" for v in ep.verdicts), ep.verdicts
    grip = raw.states["observation/state:left_gripper"].values.reshape(-1).astype(np.float64)
    assert np.ptp(grip) > 0.9  # the synthetic grasp uses the whole 0..1 the recorder normalizes to
