"""UFACTORY xArm 7 and xArm 6 (`xarm7.urdf`, `xarm6.urdf`, xArm-Developer/xarm_ros @ bef5cce / a083c36): their joint
limits are the ones the maker's own Python SDK enforces for them (a second maker statement beside the xacro), and at
q = 0 the flange
sits where the maker's link lengths put it, facing down. The DH cross-check is `test_dh.py`; the pinocchio
cross-check, the zero pose against the product of the origins and the quarter turn come from the glob tests."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ingest.kinematics import load_model

# xArm-Developer/xArm-Python-SDK@d911319 xarm/core/config/x_config.py:129-137, JOINT_LIMITS[7][XARM7_X4] (radians)
XARM7_SDK_LIMITS = [
    (-2 * math.pi, 2 * math.pi),
    (-2.059488, 2.094395),
    (-2 * math.pi, 2 * math.pi),
    (-0.191986, 3.92699),
    (-2 * math.pi, 2 * math.pi),
    (-1.692969, math.pi),
    (-2 * math.pi, 2 * math.pi),
]
# xArm-Developer/xArm-Python-SDK@d911319 xarm/core/config/x_config.py:69-76, JOINT_LIMITS[6][XARM6_X4] (radians)
XARM6_SDK_LIMITS = [
    (-2 * math.pi, 2 * math.pi),
    (-2.059488, 2.094395),
    (-3.92699, 0.191986),
    (-2 * math.pi, 2 * math.pi),
    (-1.692969, math.pi),
    (-2 * math.pi, 2 * math.pi),
]


@pytest.mark.parametrize(("name", "limits"), [("xarm7", XARM7_SDK_LIMITS), ("xarm6", XARM6_SDK_LIMITS)])
def test_the_limits_are_the_makers_sdk_limits(name: str, limits: list[tuple[float, float]]) -> None:
    m = load_model(name)
    np.testing.assert_allclose(np.stack([m.lower, m.upper], axis=1), limits, atol=5e-4)  # xacro's 4-5 digits


def test_at_zero_the_flange_faces_down_where_the_link_lengths_put_it() -> None:
    """0.0525 + 0.0775 + 0.076 m ahead, 0.267 + 0.293 - 0.3425 - 0.097 m up (the DH lengths), z pointing down."""
    m = load_model("xarm7")
    pose = m.forward(np.zeros((1, m.dof)), ["link7"])[0, 0]
    np.testing.assert_allclose(pose[:3, 3], [0.206, 0.0, 0.1205], atol=1e-5)
    assert pose[:3, 2] @ [0, 0, -1] > 1 - 1e-8


def test_at_zero_the_xarm6_flange_faces_down_where_the_link_lengths_put_it() -> None:
    """0.0535 + 0.0775 + 0.076 m ahead, 0.267 + 0.2845 - 0.3425 - 0.097 m up (the kinematics file), z pointing down."""
    m = load_model("xarm6")
    pose = m.forward(np.zeros((1, m.dof)), ["link6"])[0, 0]
    np.testing.assert_allclose(pose[:3, 3], [0.207, 0.0, 0.112], atol=1e-5)
    assert pose[:3, 2] @ [0, 0, -1] > 1 - 1e-8
