"""BEHAVIOR-1K's R1 Pro recordings reach the canonical hand space by forward kinematics of the Galaxea R1 Pro.

The dataset is written in the real layout (tests/fixtures/lerobot_layouts/behavior_r1pro_v21: the 2025 challenge
demos' `meta/info.json`, robot_type `R1Pro`, 256-wide unnamed `observation.state`, 23-wide unnamed `action`, a
`task_info` whose width varies, nine cameras), values generated: each torso and arm joint sways in a 0.1 rad band at
the middle of its limits, the fingers open and close. The columns are read by the maker's slices
(`schemas/robots/joint_space.yaml` `galaxea_r1pro`, citing BEHAVIOR-1K eval_utils.py PROPRIOCEPTION_INDICES).
Checked by physical invariants, not by FK again: the left wrist stays left of the right one, both within an arm's
reach of their shoulder, the gripper opening rises as finger 1 opens; reading the arms' slices the other way round
breaks the first invariant."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from adapters.base import RawEpisode
from adapters.lerobot.adapter import LeRobotSource
from ingest.episode import CanonicalEpisode
from ingest.kinematics import load_model
from ingest.kinematics.invariants import reach
from schemas.canonical import GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.robots.registry import JOINT_SPACE
from tests.fixtures.layouts import load_case, materialize
from tests.fixtures.offline import prepared

CASE = Path(__file__).resolve().parents[2] / "fixtures" / "lerobot_layouts" / "behavior_r1pro_v21"
# eval_utils.py PROPRIOCEPTION_INDICES: arm_left_qpos, arm_right_qpos, gripper_left_qpos (finger 1), trunk_qpos
LEFT_ARM, RIGHT_ARM, LEFT_FINGER, TORSO = slice(158, 165), slice(197, 204), 193, slice(236, 240)


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> RawEpisode:
    root = tmp_path_factory.mktemp("behavior") / "ds"
    materialize(load_case(CASE), root, episodes=1, seconds=1.5)
    source = LeRobotSource()
    [ref] = source.discover(root)
    return source.read(ref)


@pytest.fixture(scope="module")
def ep(raw: RawEpisode) -> CanonicalEpisode:
    [out] = prepared(raw)
    return out


def test_r1pro_comes_out_canonical_with_both_wrists_and_grippers(ep: CanonicalEpisode) -> None:
    assert ep.embodiment == "galaxea_r1pro"
    for h in (0, 1):
        for part in (WRIST_POS, WRIST_ROT6D, GRIPPER):
            assert ep.mask[hand_dims(h, part)].all(), (h, part, ep.tier_reasons)
    assert ep.natives.state is not None and ep.natives.state.shape[1] >= 256


def test_r1pro_wrists_are_where_a_body_puts_them(raw: RawEpisode, ep: CanonicalEpisode) -> None:
    """Left of right, and each wrist within its arm's reach of its shoulder (`left/right_arm_link1`, placed by the
    torso columns): no farther than the sum of the joint offsets between them, which no rigid chain can exceed."""
    left, right = (ep.state[:, hand_dims(h, WRIST_POS)] for h in (0, 1))
    assert (left[:, 1] > right[:, 1]).all()
    model, spec = load_model("galaxea_r1pro"), JOINT_SPACE["galaxea_r1pro"]
    s = raw.states["observation.state"]
    t = ep.span_s[0] + ep.timestamps
    q = np.zeros((len(t), model.dof))
    for i in range(4):
        col = s.values[:, TORSO.start + i].astype(np.float64)
        q[:, model.joint_names.index(f"torso_joint{i + 1}")] = np.interp(t, s.timestamps, col)
    shoulders = model.forward(q, ["left_arm_link1", "right_arm_link1"], base="base_link")[:, :, :3, 3]
    for k, (wrist, arm) in enumerate(((left, spec.arms[0]), (right, spec.arms[1]))):
        limit = reach(model, f"{arm.side}_arm_link1", arm)
        assert 0.5 < limit < 1.0
        assert (np.linalg.norm(wrist - shoulders[:, k], axis=1) <= limit + 1e-6).all()


def test_r1pro_gripper_opening_rises_as_finger_one_opens(raw: RawEpisode, ep: CanonicalEpisode) -> None:
    s = raw.states["observation.state"]
    t = ep.span_s[0] + ep.timestamps
    finger = np.interp(t, s.timestamps, s.values[:, LEFT_FINGER].astype(np.float64))
    opening = ep.state[:, hand_dims(0, GRIPPER)][:, 0]
    assert np.ptp(finger) > 0.01
    assert np.corrcoef(finger, opening)[0, 1] > 0.99
    assert np.allclose(opening, finger / 0.05, atol=1e-4)  # linear: 0 closed .. 0.05 m open (the URDF's limit)


def test_r1pro_arms_read_the_other_way_round_cross(raw: RawEpisode) -> None:
    """Negative control: the left slice's values driving the right chain (and back) put the left wrist on the right."""
    s = raw.states["observation.state"]
    values = s.values.copy()
    values[:, LEFT_ARM], values[:, RIGHT_ARM] = s.values[:, RIGHT_ARM], s.values[:, LEFT_ARM]
    swapped = replace(raw, states={**raw.states, "observation.state": replace(s, values=values)})
    [out] = prepared(swapped)
    left, right = (out.state[:, hand_dims(h, WRIST_POS)] for h in (0, 1))
    assert not (left[:, 1] > right[:, 1]).all()


def test_depth_and_segmentation_videos_take_no_view_slot(raw: RawEpisode) -> None:
    """BEHAVIOR records depth (`video.is_depth_map`) and instance-id videos beside each RGB camera: only the RGB
    ones are views; the others are kept under their own keys, never in an RGB slot."""
    slots = raw.metadata["camera_map"]
    assert {k: v for k, v in slots.items() if ".rgb." in k} == {
        "observation.images.rgb.left_wrist": "wrist_left",
        "observation.images.rgb.right_wrist": "wrist_right",
        "observation.images.rgb.head": "head",
    }
    others = {k: v for k, v in slots.items() if ".rgb." not in k}
    assert len(others) == 6 and set(others.values()) == {None}
    assert all(k in raw.cameras for k in slots)  # every video still read
