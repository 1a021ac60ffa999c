"""Dexterous robot hands write MANO-21-style keypoints (`observation.hand_keypoints`) by forward kinematics: the slots
`schemas/robots/hands.yaml` names a link for, in the frame human keypoints are stored in (the canonical wrist pose's
frame), 0 in the slots the hand lacks, and a (2, 21) slot mask in the feature's info.

Checked on the real GR00T GR1 sample (Fourier 6-DoF hands) and synthetic Unitree G1 Dex3-1 / Inspire datasets written
with unitree_lerobot's motor names (`tests/adapters/lerobot/test_g1_joint_space.py`): every tip slot is the state's
fingertip (wrist frame) moved by the state's wrist pose, every real slot lies within a hand's reach of the hand's own
wrist keypoint, FK bones are rigid, and the real lerobot loads what we write."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters.lerobot.adapter import LeRobotSource
from ingest.canonical.store import dataset_features
from ingest.episode import CanonicalEpisode
from ingest.frames import pos_rot6d_to_pose, transform_points
from ingest.lerobot.writer import LeRobotWriter
from ingest.qa.dataset import geometry_findings, geometry_summary
from schemas.canonical import (
    FINGERTIPS_XYZ,
    HAND_KEYPOINTS,
    HANDS,
    MANO21_NAMES,
    keypoint_kind,
    keypoint_slot_mask,
)
from schemas.qa import QAConfig
from schemas.robots.registry import default_registry
from tests.adapters.lerobot.test_g1_joint_space import _write as write_g1
from tests.fixtures.episodes import write_episode
from tests.fixtures.offline import prepared
from tests.realdata import realdata

GR1 = "gr00t_robot_sim_picknplace"
TIP_SLOTS = [4, 8, 12, 16, 20]  # thumb_tip .. pinky_tip
assert [MANO21_NAMES[k] for k in TIP_SLOTS] == ["thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip"]


@pytest.fixture(scope="module", params=["gr1", "Unitree_G1_Dex3", "Unitree_G1_Inspire"])
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    source = LeRobotSource()
    if request.param == "gr1":
        refs = list(source.discover(realdata(GR1)))[:2]
    else:
        refs = list(source.discover(write_g1(tmp_path_factory.mktemp("g1") / request.param.lower(), request.param)))
    episodes = [ep for ref in refs for ep in prepared(source.read(ref))]
    assert episodes
    return request.param, episodes


def _expected_slots(ep: CanonicalEpisode) -> np.ndarray:
    """The slot mask straight from hands.yaml: a slot is real where the hand's entry names a link."""
    spec = default_registry().get(ep.embodiment).joint_space
    assert spec is not None
    slots = np.zeros((2, 21), dtype=bool)
    for arm in spec.arms:
        assert arm.hand is not None
        slots[HANDS.index(arm.side)] = [link is not None for link in arm.hand.spec().keypoints]
    return slots


def test_slot_mask_is_declared_as_hands_yaml_gives_it(case) -> None:
    name, episodes = case
    info = dataset_features(episodes[0])[HAND_KEYPOINTS].info
    slots = _expected_slots(episodes[0])
    assert keypoint_kind(info) == "robot" and info["has_hands"] == [] and info["robot_hands"] == ["left", "right"]
    assert (keypoint_slot_mask(info) == slots).all()
    # the hands lack DIP joints (Fourier, Inspire: 16 / 17 slots), Dex3 also ring and pinky (10 slots)
    assert slots.sum(axis=1).tolist() == {"gr1": [16, 16], "Unitree_G1_Dex3": [10, 10]}.get(name, [17, 17])
    fingers = 3 if name == "Unitree_G1_Dex3" else 5
    assert slots[:, 0].all() and slots[:, TIP_SLOTS[:fingers]].all() and not slots[:, TIP_SLOTS[fingers:]].any()


def test_tip_slots_are_the_state_fingertips_in_the_keypoint_frame(case) -> None:
    _, episodes = case
    for ep in episodes:
        slots = _expected_slots(ep)
        for h in (0, 1):
            block = ep.state[:, 25 * h : 25 * (h + 1)].astype(np.float64)
            pose = pos_rot6d_to_pose(block[:, :9])  # the state's wrist, the frame human keypoints share
            tips = transform_points(pose[:, None], block[:, 10:25].reshape(-1, 5, 3))
            present = ep.mask[FINGERTIPS_XYZ.start + 25 * h : FINGERTIPS_XYZ.stop + 25 * h].reshape(5, 3).all(axis=1)
            kp = ep.keypoints[:, h].astype(np.float64)
            assert (slots[h, TIP_SLOTS] == present).all()
            np.testing.assert_allclose(kp[:, TIP_SLOTS][:, present], tips[:, present], atol=2e-6)
            assert (kp[:, ~slots[h]] == 0).all()  # a slot the hand lacks holds the defined value, never NaN
            assert np.isfinite(kp).all()
            real = kp[:, slots[h]]
            assert (np.linalg.norm(real - kp[:, :1], axis=-1) < 0.25).all()  # within a hand of its wrist keypoint
            assert (np.linalg.norm(real - block[:, None, :3], axis=-1) < 0.3).all()  # and of the canonical wrist
            assert np.ptp(real, axis=0).max() > 0.01  # the points move with the arm and fingers


def test_fk_bones_are_rigid_and_the_human_length_band_is_not_applied(case) -> None:
    name, episodes = case
    for ep in episodes:
        assert ep.qa is not None
        assert ep.qa.hand_length is None  # a robot hand is the maker's size: the human band does not apply
        assert ep.qa.bone_length_cv is not None and ep.qa.bone_length_cv < 1e-5, ep.qa.bone_length_cv
    summary = geometry_summary(name, [ep.qa for ep in episodes])
    assert summary is not None and geometry_findings(summary, QAConfig()) == []


@pytest.mark.oracle
def test_lerobot_loads_the_robot_keypoints(case, tmp_path: Path, run_oracle) -> None:
    _, episodes = case
    ep = episodes[0]
    out = tmp_path / "canonical"
    with LeRobotWriter.create(out, fps=10, features=dataset_features(ep), robot_type=ep.embodiment) as w:
        write_episode(w, ep)
    last = ep.num_frames - 1
    res = run_oracle("load", out, "--items", f"0,{last}", timeout=300)
    info = json.loads((out / "meta/info.json").read_text())
    assert res["num_frames"] == ep.num_frames
    assert info["features"][HAND_KEYPOINTS]["info"]["mask"] == _expected_slots(ep).astype(int).tolist()
    for i in (0, last):
        got = np.asarray(res["items"][str(i)][HAND_KEYPOINTS], dtype=np.float32)
        np.testing.assert_array_equal(got, ep.keypoints[i])
