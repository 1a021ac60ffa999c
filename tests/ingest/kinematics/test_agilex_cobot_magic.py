"""agilex_cobot_magic.urdf (AgileX's aloha_new.urdf, the file RoboMIND's joint2pose.py reads AgileX FK on) against
piper.urdf (Piper_ros), the same PiPER arm written with other joint conventions: negating q4 and q6 and shifting q5 by
joint5's origin pitch (0.087266 rad, piper.urdf only) makes both files give one flange pose; without that mapping they
disagree by ~0.17 m, which is why RoboMIND's AgileX values must be read on the maker's chain. Zero-configuration poses
and the pinocchio cross-check come from the glob tests (test_known_poses.py, test_against_pinocchio.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ingest.kinematics import load_model

# piper.urdf joint5 origin rpy (1.5708, -0.087266, 0), aloha_new.urdf (1.5708, 0, 0): the same link5 at q5 + this
JOINT5_SHIFT = 0.087266


def _flange_pairs(prefix: str, map_q: bool, n: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(piper link6 in base_link, cobot magic <prefix>_link6 in <prefix>_base_link) at random piper configurations."""
    piper, rig = load_model("piper"), load_model("agilex_cobot_magic")
    q = np.random.default_rng(7).uniform(piper.lower[:6], piper.upper[:6], size=(n, 6))
    qa = q.copy()
    if map_q:
        qa[:, [3, 5]] *= -1.0
        qa[:, 4] += JOINT5_SHIFT
    a = piper.forward(piper.assemble({f"joint{i + 1}": q[:, i] for i in range(6)}, n), ["link6"])[:, 0]
    named = {f"{prefix}_joint{i + 1}": qa[:, i] for i in range(6)}
    b = rig.forward(rig.assemble(named, n), [f"{prefix}_link6"], base=f"{prefix}_base_link")[:, 0]
    return a, b


def _apart(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    dist = np.linalg.norm(a[:, :3, 3] - b[:, :3, 3], axis=1).max()
    rel = np.einsum("nji,njk->nik", a[:, :3, :3], b[:, :3, :3])
    return float(dist), float(np.degrees(Rotation.from_matrix(rel).magnitude()).max())


@pytest.mark.parametrize("prefix", ["fl", "fr"])
def test_piper_chain_with_q4_q6_negated_and_q5_shifted_is_the_same_flange(prefix: str) -> None:
    # measured 7.6e-6 m and 4e-5 deg: the 5-digit angles (1.5708, 1.3826) of both files, nothing else
    dist, deg = _apart(*_flange_pairs(prefix, map_q=True))
    assert dist < 5e-5 and deg < 1e-3, (dist, deg)


@pytest.mark.parametrize("prefix", ["fl", "fr"])
def test_reading_the_values_on_piper_urdf_would_misplace_the_flange(prefix: str) -> None:
    dist, deg = _apart(*_flange_pairs(prefix, map_q=False))
    assert dist > 0.1 and deg > 90.0, (dist, deg)


def test_arm_bases_sit_where_the_makers_rig_puts_them() -> None:
    """fl/fr_base_joint: (0.23875, +-0.3, 0.775) of body_Link, unrotated; the front-left arm is on +y."""
    rig = load_model("agilex_cobot_magic")
    bases = rig.forward(np.zeros((1, rig.dof)), ["fl_base_link", "fr_base_link"], base="body_Link")[0]
    np.testing.assert_allclose(bases[:, :3, 3], [[0.23875, 0.3, 0.775], [0.23875, -0.3, 0.775]], atol=1e-12)
    np.testing.assert_allclose(bases[:, :3, :3], [np.eye(3), np.eye(3)], atol=1e-12)


@pytest.mark.parametrize("prefix", ["fl", "fr"])
def test_a_quarter_turn_of_joint1_yaws_the_arm_about_body_z(prefix: str) -> None:
    """joint1: origin yaw only, axis +z, at 0.123 m above the arm base: +90 deg turns the flange about body +z."""
    rig = load_model("agilex_cobot_magic")
    link = [f"{prefix}_link6"]
    before = rig.forward(np.zeros((1, rig.dof)), link, base="body_Link")[0, 0, :3, 3]
    moved = rig.forward(rig.assemble({f"{prefix}_joint1": np.array([np.pi / 2])}, 1), link, base="body_Link")[0, 0]
    y = 0.3 if prefix == "fl" else -0.3
    point = np.array([0.23875, y, 0.775 + 0.123])
    expected = Rotation.from_rotvec([0.0, 0.0, np.pi / 2]).as_matrix() @ (before - point) + point
    np.testing.assert_allclose(moved[:3, 3], expected, atol=1e-5)  # 5-digit 1.5708 in the origins
    assert np.linalg.norm(moved[:3, 3] - before) > 0.05
