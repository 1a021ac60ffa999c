"""A SO-101 recording as lerobot >= 0.2 writes it reaches the canonical hand space by forward kinematics.

The fixture is written the way lerobot's own code produces the numbers: motor features `<motor>.pos`
(`SO101Follower._motors_ft`, src/lerobot/robots/so101_follower/so101_follower.py), robot_type `so101_follower`,
a v3.0 layout (`adapters.synthetic.lerobot.write_lerobot_v3`), body joints in MotorNormMode.RANGE_M100_100 and the
gripper in RANGE_0_100 computed from integer encoder steps and a calibration exactly as `MotorsBus._normalize`
(src/lerobot/motors/motors_bus.py) does, so the adapter must invert lerobot's normalization with the same
calibration file to recover the angles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters.lerobot.adapter import LeRobotSource
from adapters.synthetic.lerobot import write_lerobot_v3
from ingest.canonical.store import dataset_features
from ingest.episode import CanonicalEpisode
from ingest.frames import compose, offset_matrix
from ingest.kinematics import load_model
from ingest.lerobot.writer import LeRobotWriter
from ingest.qa.dataset import geometry_findings, geometry_summary
from schemas.actions import ActionKind
from schemas.canonical import GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.qa import QAConfig
from schemas.robots.registry import JOINT_SPACE
from schemas.tiers import QualityTier
from tests.fixtures.episodes import write_episode
from tests.fixtures.offline import prepared

MOTORS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
NAMES = [f"{m}.pos" for m in MOTORS]
RESOLUTION = 4096  # STS3215
# a calibration file as lerobot saves it (motor -> id, drive_mode, homing_offset, range_min, range_max in steps)
CALIBRATION = {
    m: {"id": i + 1, "drive_mode": 0, "homing_offset": 0, "range_min": lo, "range_max": hi}
    for i, (m, lo, hi) in enumerate(
        zip(MOTORS, (760, 850, 900, 820, 0, 2030), (3340, 3250, 3180, 3300, 4095, 3480), strict=True)
    )
}
FPS = 30


def _degrees(n: int, phase: float) -> np.ndarray:
    """A reach-and-grasp: smooth joint motions (degrees, the arm's zero = the middle of each range)."""
    t = np.linspace(0, 1, n)[:, None]
    amp = np.array([25.0, 30.0, -35.0, 40.0, 30.0])
    return amp * np.sin(np.pi * t + phase) * np.array([1.0, 1.0, 1.0, 1.0, 0.5])


def _normalize(deg: np.ndarray, grip_pct: np.ndarray) -> np.ndarray:
    """Angles -> integer steps -> lerobot's RANGE_M100_100 / RANGE_0_100 values (MotorsBus._normalize)."""
    out = np.empty((len(deg), 6))
    for i, m in enumerate(MOTORS[:5]):
        c = CALIBRATION[m]
        mid = (c["range_min"] + c["range_max"]) / 2
        steps = np.round(mid + deg[:, i] * (RESOLUTION - 1) / 360)  # the DEGREES formula, inverted
        out[:, i] = (steps - c["range_min"]) / (c["range_max"] - c["range_min"]) * 200 - 100
    c = CALIBRATION["gripper"]
    steps = np.round(c["range_min"] + grip_pct / 100 * (c["range_max"] - c["range_min"]))
    out[:, 5] = (steps - c["range_min"]) / (c["range_max"] - c["range_min"]) * 100
    return out


def _vectors(ep: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    deg = _degrees(n + 1, 0.3 * ep)
    grip = 10 + 70 * (0.5 + 0.5 * np.cos(np.linspace(0, 2 * np.pi, n + 1)))  # open, close on the object, open
    v = _normalize(deg, grip)
    return v[:-1], v[1:]  # the action is the next target, as teleoperation records it


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("so101") / "so101_pick"
    write_lerobot_v3(out, (90, 75), fps=FPS, names=NAMES, robot_type="so101_follower", vectors=_vectors)
    return out


def _episodes(root: Path, options: dict) -> list[CanonicalEpisode]:
    source = LeRobotSource(options)
    return [ep for ref in source.discover(root) for ep in prepared(source.read(ref))]


@pytest.fixture(scope="module")
def episodes(root: Path) -> list[CanonicalEpisode]:
    return _episodes(root, {"joint_space": {"calibration": CALIBRATION}})


def test_so101_gets_a_right_wrist_and_gripper_and_keeps_its_tier(episodes: list[CanonicalEpisode]) -> None:
    assert len(episodes) == 2
    for ep in episodes:
        assert ep.embodiment == "so101" and ep.tier is QualityTier.high, ep.tier_reasons
        expected = np.zeros(50, bool)
        for part in (WRIST_POS, WRIST_ROT6D, GRIPPER):
            expected[hand_dims(1, part)] = True
        assert np.array_equal(ep.mask, expected)
        assert ep.natives.state_names[:6] == [f"observation.state.{n}" for n in NAMES]


def test_the_wrist_is_the_fk_of_the_recorded_angles(root: Path, episodes: list[CanonicalEpisode]) -> None:
    """lerobot's normalization inverted with the calibration gives back the angles the steps encode (to the
    encoder's 0.088 deg step), and the canonical wrist is the description's flange there."""
    model = load_model("so101")
    n = episodes[0].num_frames
    deg = _degrees(91, 0.0)[: 3 * n : 3]  # 30 Hz rows at the 10 Hz grid
    q = model.assemble({m: np.radians(deg[:, i]) for i, m in enumerate(MOTORS[:5])}, n)
    flange = model.forward(q, ["gripper"], base="base")[:, 0]
    expected = compose(offset_matrix(JOINT_SPACE["so101"].canonical_from_base), flange)[:, :3, 3]
    got = episodes[0].state[:, hand_dims(1, WRIST_POS)]
    assert np.abs(got - expected).max() < 2e-3  # one encoder step at ~0.35 m of reach is ~0.5 mm


def test_geometry_and_every_invariant(episodes: list[CanonicalEpisode]) -> None:
    for ep in episodes:
        wrist = ep.state[:, hand_dims(1, WRIST_POS)]
        assert (wrist[:, 0] > 0.05).all() and (np.linalg.norm(wrist, axis=1) < 0.5).all()  # ahead, within reach
        g = ep.state[:, hand_dims(1, GRIPPER)][:, 0]
        assert 0.05 < g.min() < 0.2 and g.max() > 0.75  # RANGE_0_100 / 100
        assert ep.qa is not None and ep.qa.action_pos_err < 1e-5 and ep.qa.action_rot_err < 1e-2
    summary = geometry_summary("so101", [ep.qa for ep in episodes])
    assert summary is not None and geometry_findings(summary, QAConfig()) == []


def test_without_the_calibration_the_joints_stay_native_with_the_reason(root: Path) -> None:
    [ep, _] = _episodes(root, {})
    assert not ep.mask.any() and ep.natives.state is not None
    [reason] = [r for r in ep.tier_reasons if "joint space (so101)" in r]  # said once (issue 68)
    assert "RANGE_M100_100" in reason and "calibration" in reason and "shoulder_pan.pos" in reason


def test_unknown_names_say_which_joints_are_missing(tmp_path: Path) -> None:
    root = tmp_path / "so101_unnamed"
    write_lerobot_v3(
        root, (40,), fps=FPS, names=[f"motor_{i}" for i in range(6)], robot_type="so101_follower", vectors=_vectors
    )
    [ep] = _episodes(root, {"joint_space": {"calibration": CALIBRATION}})
    assert not ep.mask.any() and ep.action_kind is ActionKind.native  # issue 55: its command is still its action
    assert ep.tier is not QualityTier.actionless
    [reason] = [r for r in ep.tier_reasons if "joint space (so101)" in r]  # said once (issue 68)
    assert f"dataset {root}" in reason and "field observation.state" in reason
    assert "right: shoulder_pan" in reason and "motor_0" in reason
    # the same dataset with an explicit map is read
    joint_map = {f"motor_{i}": m for i, m in enumerate(MOTORS)}
    [ep] = _episodes(
        root,
        {
            "joint_space": {
                "calibration": {f"motor_{i}": CALIBRATION[m] for i, m in enumerate(MOTORS)},
                "joint_map": joint_map,
            }
        },
    )
    assert ep.mask[hand_dims(1, WRIST_POS)].all() and ep.tier is QualityTier.high


@pytest.mark.oracle
def test_lerobot_loads_the_canonical_so101(episodes: list[CanonicalEpisode], tmp_path: Path, run_oracle) -> None:
    out = tmp_path / "canonical_so101"
    with LeRobotWriter.create(out, fps=10, features=dataset_features(episodes[0]), robot_type="so101") as w:
        for ep in episodes:
            write_episode(w, ep)
    res = run_oracle("load-many", out, timeout=300)[str(out)]
    info = json.loads((out / "meta/info.json").read_text())
    assert res["num_episodes"] == 2 and res["num_frames"] == info["total_frames"]
    assert info["features"]["action"]["info"]["mask"] == episodes[0].mask.astype(int).tolist()
