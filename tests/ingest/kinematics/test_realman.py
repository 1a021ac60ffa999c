"""Realman RM65 / RM75 (`realman_rm65.urdf` / `realman_rm75.urdf`, RealManRobot/ros2_rm_robot rm_65.urdf / rm_75.urdf
@ dbbe6ba): at q = 0 the arm stands straight up with the maker's link lengths (base 0.2405, upper arm 0.256, forearm
0.21, wrist to flange 0.144 m), the base joint turns the bent arm about the vertical, the elbow folds the arm by the
law of cosines of its two links, and recorded names (`joint_1` .., or a 0-based `joint_0` ..) reach FK. The
pinocchio cross-check, the zero pose against the product of the origins and the reach bound come from the glob tests
(`test_against_pinocchio.py`, `test_known_poses.py`, `test_invariants.py`)."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.base import EpisodeRef, RawEpisode, Stream
from ingest.canonical.joint_space import joint_space_signals
from ingest.kinematics import load_model
from schemas.robots.registry import JOINT_SPACE
from schemas.tiers import QualityTier

BASE, UPPER, FORE, WRIST = 0.2405, 0.256, 0.21, 0.144  # the maker's joint origins (rm_65.urdf, rm_75.urdf)
# (description, elbow joint, wrist-centre link, flange)
ARMS = {"realman_rm65": ("joint3", "Link5", "Link6"), "realman_rm75": ("joint4", "Link6", "Link7")}


def _at(name: str, q: dict[str, float], links: list[str]) -> np.ndarray:
    m = load_model(name)
    return m.forward(m.assemble({j: np.array([v]) for j, v in q.items()}, 1), links)[0]


@pytest.mark.parametrize("name", ARMS)
def test_at_zero_the_arm_stands_straight_up_with_the_makers_lengths(name: str) -> None:
    _, wrist, flange = ARMS[name]
    poses = _at(name, {}, ["Link1", wrist, flange])
    np.testing.assert_allclose(
        poses[:, :3, 3], [[0, 0, BASE], [0, 0, BASE + UPPER + FORE], [0, 0, 0.8505]], atol=1e-5
    )  # 1.5708
    assert poses[2, :3, 2] @ [0, 0, 1] > 1 - 1e-8  # the flange faces up, away from the arm


@pytest.mark.parametrize("name", ARMS)
def test_the_base_joint_turns_the_bent_arm_about_the_vertical(name: str) -> None:
    """With the shoulder tipped 0.5 rad, joint1 +0.7 keeps the flange's height and radius and turns its azimuth by
    +0.7 (both files' joint1 axis is the base's +z)."""
    flange = ARMS[name][2]
    before = _at(name, {"joint2": 0.5}, [flange])[0, :3, 3]
    after = _at(name, {"joint2": 0.5, "joint1": 0.7}, [flange])[0, :3, 3]
    assert np.hypot(*before[:2]) > 0.25
    assert after[2] == pytest.approx(before[2], abs=1e-5)  # the 5-digit 1.5708 tilts the axes ~1e-5 rad
    assert np.hypot(*after[:2]) == pytest.approx(np.hypot(*before[:2]), abs=1e-5)
    turned = np.arctan2(after[1], after[0]) - np.arctan2(before[1], before[0])
    assert np.angle(np.exp(1j * turned)) == pytest.approx(0.7, abs=1e-4)  # 5-digit 1.5708 in the files


@pytest.mark.parametrize("name", ARMS)
@pytest.mark.parametrize("angle", [0.4, 1.2, -0.9])
def test_the_elbow_folds_the_arm_by_the_law_of_cosines(name: str, angle: float) -> None:
    """Shoulder (joint2's centre, 0.2405 up) to wrist centre: 0.256 and 0.21 m links meeting at the elbow at
    pi - |angle|, whichever way it bends; the shoulder-to-wrist distance is independent of joint1 and joint2."""
    elbow, wrist, _ = ARMS[name]
    p = _at(name, {elbow: angle, "joint1": 0.3, "joint2": -0.6}, [wrist])[0, :3, 3]
    want = np.sqrt(UPPER**2 + FORE**2 + 2 * UPPER * FORE * np.cos(angle))
    assert np.linalg.norm(p - [0, 0, BASE]) == pytest.approx(want, abs=1e-4)


def test_the_shoulders_sign_is_each_files_own() -> None:
    """+0.5 rad on joint2 tips the RM65 towards the base's -x and the RM75 towards +x (rm_65.urdf turns joint2 about
    Link1's rotated z = the base's -y, rm_75.urdf about +y): a recording must be read on its own arm's file."""
    assert _at("realman_rm65", {"joint2": 0.5}, ["Link6"])[0, 0, 3] < -0.25
    assert _at("realman_rm75", {"joint2": 0.5}, ["Link7"])[0, 0, 3] > 0.25


@pytest.mark.parametrize("name", ARMS)
@pytest.mark.parametrize("first", [0, 1])
def test_recorded_names_reach_fk(name: str, first: int) -> None:
    """`joint_1` .. (RoboCOIN's Realman config names, the maker's order) resolve by name; a 0-based `joint_0` ..
    is read one shift up (the numbering guard); both give the same wrist."""
    n = load_model(name).dof
    q = np.random.default_rng(1).uniform(-0.8, 0.8, size=(12, n))
    names = tuple(f"joint_{k + first}" for k in range(n))
    ref = EpisodeRef(adapter="lerobot", source="t", subset="realman", raw_id="0", paths=("x",))
    raw = RawEpisode(
        ref, None, name, QualityTier.high, 10.0, states={"observation.state": Stream(np.arange(12) / 10, q, names)}
    )
    got = joint_space_signals(raw, JOINT_SPACE[name]).signals.hands[1].rotation.values
    m = load_model(name)
    want = m.forward(m.assemble({f"joint{k + 1}": q[:, k] for k in range(n)}, 12), [ARMS[name][2]])[:, 0]
    assert np.abs(got - want).max() < 1e-12
