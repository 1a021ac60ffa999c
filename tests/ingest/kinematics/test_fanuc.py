"""FANUC LR Mate 200iD (`fanuc_lrmate200id.urdf`, ros-industrial/fanuc lrmate200id_macro.xacro @ c0b018a): at q = 0 the
faceplate sits where the arm's lengths put it (J1-J2 offset 0.050, upper arm 0.330, J3-J4 offset 0.035, forearm
0.335, wrist to faceplate 0.080 m, J2 0.330 m above the mounting face), tool0 pointing out of it; and joint 3 is
ROS-Industrial's: J3 counted from the upper arm, which FANUC's controller reports against the horizontal, so the
driver adds J2 (fanuc_driver fanuc_utils.h:59-63, J23_factor 1 for this arm): the forearm's direction depends on the
controller's J3 alone, whatever J2. Recordings taken from the controller directly must be converted before FK.
The DH-free glob tests (pinocchio, zero pose by origins, quarter turn) cover the rest."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.kinematics import load_model

NAME = "fanuc_lrmate200id"


def _poses(q: dict[str, float], links: list[str]) -> np.ndarray:
    m = load_model(NAME)
    return m.forward(m.assemble({j: np.array([v]) for j, v in q.items()}, 1), links)[0]


def test_at_zero_the_faceplate_sits_at_the_arms_lengths_and_tool0_points_out_of_it() -> None:
    flange, tool0 = _poses({}, ["flange", "tool0"])
    np.testing.assert_allclose(flange[:3, 3], [0.050 + 0.335 + 0.080, 0, 0.330 + 0.330 + 0.035], atol=1e-12)
    np.testing.assert_allclose(tool0[:3, 2], [1, 0, 0], atol=1e-12)  # REP-199: tool0's z out of the faceplate


@pytest.mark.parametrize("j2", [-0.6, 0.3, 0.9])
@pytest.mark.parametrize("j3_controller", [-0.4, 0.0, 0.7])
def test_the_controllers_j3_plus_j2_is_this_files_j3(j2: float, j3_controller: float) -> None:
    """The forearm (joint 4's axis point to joint 5's) keeps the direction the controller's J3 gives, whatever J2,
    once J3 = J3_controller + J2; read unconverted, it turns with J2."""

    def forearm(j3: float) -> np.ndarray:
        a, b = _poses({"joint_2": j2, "joint_3": j3}, ["link_4", "link_5"])
        v = b[:3, 3] - a[:3, 3]
        return v / np.linalg.norm(v)

    level = _poses({"joint_3": j3_controller}, ["link_4", "link_5"])
    want = (level[1, :3, 3] - level[0, :3, 3]) / 0.335
    np.testing.assert_allclose(forearm(j3_controller + j2), want, atol=1e-12)
    assert np.degrees(np.arccos(np.clip(forearm(j3_controller) @ want, -1, 1))) > 10  # the unconverted reading
