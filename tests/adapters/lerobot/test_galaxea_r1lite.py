"""A Galaxea R1 Lite recording as Galaxea's own LeRobot converter writes it reaches the canonical hand space by FK.

Feature keys, names and robot_type are those of OpenGalaxea/GalaxeaLeRobotToolkit (feature_spec/feature.py @
f0f33f33: `observation.state.left_arm` named `/hdas/feedback_arm_left.position[i]`, float64, arm_dof 6 for r1lite
in dataset_converter.py @ 04635a8e; grippers `/hdas/feedback_gripper_<side>.position[0]`; a 4-wide torso). No real
Galaxea Open-World LeRobot `info.json` was found (its LeRobot release was announced, not published where we can read
it): the layout is the converter's, the values generated (arms swaying about a mid pose, grippers 10 .. 90 percent).
Checked by invariants: each wrist within its arm's reach of its arm base, left of the right one; the torso left as
natives, its canonical dims masked. The grippers are Galaxea's travel 0 (closed) .. 100 (open) (joint_space.yaml
`galaxea_r1lite`: OpenGalaxea/GalaxeaVLA @ 93e76bb): the canonical opening is the recorded column / 100 at its
frame in the state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.lerobot.adapter import LeRobotSource
from adapters.synthetic.video import synthetic_frame
from ingest.episode import CanonicalEpisode
from ingest.kinematics import load_model
from ingest.kinematics.invariants import reach
from ingest.lerobot.writer import LeRobotWriter
from schemas.canonical import GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.lerobot_features import IMAGE_NAMES, FeatureSpec
from schemas.robots.registry import JOINT_SPACE
from tests.fixtures.offline import prepared

FPS, N = 15, 45


def _vec(names: list[str]) -> FeatureSpec:
    return FeatureSpec(dtype="float64", shape=(len(names),), names=names)


def _write(root: Path) -> tuple[Path, np.ndarray]:
    feats = {"observation.images.head_rgb": FeatureSpec(dtype="video", shape=(32, 32, 3), names=list(IMAGE_NAMES))}
    for side in ("left", "right"):
        feats[f"observation.state.{side}_arm"] = _vec([f"/hdas/feedback_arm_{side}.position[{i}]" for i in range(6)])
        feats[f"observation.state.{side}_gripper"] = _vec([f"/hdas/feedback_gripper_{side}.position[0]"])
        feats[f"action.{side}_arm"] = _vec(
            [f"/motion_target/target_joint_state_arm_{side}.position[{i}]" for i in range(6)]
        )
    feats["observation.state.torso"] = _vec([f"/hdas/feedback_torso.position[{i}]" for i in range(4)])
    t = np.linspace(0, 1, N + 1)[:, None]
    arm = np.array([0.0, 1.2, -1.5, 0.3, 0.0, 0.0]) + 0.2 * np.sin(2 * np.pi * t) * [1, 0.5, 0.5, 1, 1, 1]
    grip = 50 - 40 * np.cos(2 * np.pi * t)
    with LeRobotWriter.create(root, fps=FPS, features=feats, robot_type="r1lite") as w:
        with w.episode(task="put the cup on the shelf") as ep:
            for i in range(N):
                frame = {
                    "observation.images.head_rgb": synthetic_frame(32, 32, i),
                    "observation.state.torso": np.zeros(4),
                }
                for side in ("left", "right"):
                    frame |= {
                        f"observation.state.{side}_arm": arm[i],
                        f"observation.state.{side}_gripper": grip[i],
                        f"action.{side}_arm": arm[i + 1],
                    }
                ep.add_frame(frame)
    return root, grip[:N, 0]


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[CanonicalEpisode, np.ndarray]:
    root, grip = _write(tmp_path_factory.mktemp("r1lite") / "ds")
    source = LeRobotSource()
    [ref] = source.discover(root)
    [ep] = prepared(source.read(ref))
    return ep, grip


def test_r1lite_comes_out_canonical_with_both_wrists_and_grippers(case: tuple[CanonicalEpisode, np.ndarray]) -> None:
    ep, _ = case
    assert ep.embodiment == "galaxea_r1lite"
    for h in (0, 1):
        for part in (WRIST_POS, WRIST_ROT6D):
            assert ep.mask[hand_dims(h, part)].all(), (h, part, ep.tier_reasons)
        assert ep.mask[hand_dims(h, GRIPPER)].all(), (h, ep.tier_reasons)
    natives = " ".join(ep.natives.state_names)
    assert "torso" in natives and "left_gripper" in natives and "right_gripper" in natives


def test_r1lite_gripper_is_the_recorded_travel_over_100(case: tuple[CanonicalEpisode, np.ndarray]) -> None:
    # the recorded `observation.state.<side>_gripper` (10 nearly closed .. 90 nearly open): on a recorded frame the
    # native column the episode carries there, on a resampled one a recorded value (a gripper is held, not blended)
    ep, grip = case
    assert ep.natives.state is not None
    for h, side in ((0, "left"), (1, "right")):
        g = hand_dims(h, GRIPPER).start
        raw = ep.natives.state[:, ep.natives.state_names.index(f"observation.state.{side}_gripper.0")]
        kept = ~ep.interpolated
        assert kept.sum() >= len(kept) // 2
        np.testing.assert_allclose(ep.state[kept, g], raw[kept] / 100.0, atol=1e-6)
        assert np.isclose(ep.state[:, g][:, None] * 100.0, grip[None, :], atol=1e-3).any(axis=1).all()
        assert ep.state[int(np.argmax(raw)), g] > 0.85 and ep.state[int(np.argmin(raw)), g] < 0.15
        assert ep.action[:, g].min() >= 0.0 and ep.action[:, g].max() <= 1.0


def test_r1lite_geometry(case: tuple[CanonicalEpisode, np.ndarray]) -> None:
    ep, _ = case
    model, spec = load_model("galaxea_r1lite"), JOINT_SPACE["galaxea_r1lite"]
    left, right = (ep.state[:, hand_dims(h, WRIST_POS)] for h in (0, 1))
    assert (left[:, 1] > right[:, 1]).all()
    for wrist, arm in ((left, spec.arms[0]), (right, spec.arms[1])):
        base = np.array([0.0, 0.335 if arm.side == "left" else -0.335, 0.12306])  # the arm base on the chest
        limit = reach(model, f"{arm.side}_arm_base_link", arm)
        assert 0.5 < limit < 1.0 and (np.linalg.norm(wrist - base, axis=1) <= limit + 1e-6).all()
