"""Interbotix also states its X-Series arms as product-of-exponentials screws (the Modern Robotics form its Python API
solves IK with): a second statement of the kinematics, written independently of the URDF xacros we transcribed. Our
FK of the shipped URDF, base_link to ee_gripper_link, must reproduce it at random configurations within the limits.

Source: Interbotix/interbotix_ros_toolboxes interbotix_xs_toolbox/interbotix_xs_modules/src/interbotix_xs_modules/
mr_descriptions.py @ a110b4e69f37a8861ff7685abac1014825820592 (BSD-3-Clause): per model the space-frame screw axes
`Slist` (one column per arm joint, base first, [w; v]) and the home pose `M` of `<robot>/ee_gripper_link` in
`<robot>/base_link`.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm

from ingest.kinematics import load_model

# (screws as rows [wx, wy, wz, vx, vy, vz], home position of ee_gripper_link; its home rotation is the identity)
POE = {
    "wx200": (
        [
            (0, 0, 1, 0, 0, 0),
            (0, 1, 0, -0.11065, 0, 0),
            (0, 1, 0, -0.31065, 0, 0.05),
            (0, 1, 0, -0.31065, 0, 0.25),
            (1, 0, 0, 0, 0.31065, 0),
        ],
        (0.408575, 0, 0.31065),
    ),
    "wx250": (
        [
            (0, 0, 1, 0, 0, 0),
            (0, 1, 0, -0.11065, 0, 0),
            (0, 1, 0, -0.36065, 0, 0.04975),
            (0, 1, 0, -0.36065, 0, 0.29975),
            (1, 0, 0, 0, 0.36065, 0),
        ],
        (0.458325, 0, 0.36065),
    ),
    "wx250s": (
        [
            (0, 0, 1, 0, 0, 0),
            (0, 1, 0, -0.11065, 0, 0),
            (0, 1, 0, -0.36065, 0, 0.04975),
            (1, 0, 0, 0, 0.36065, 0),
            (0, 1, 0, -0.36065, 0, 0.29975),
            (1, 0, 0, 0, 0.36065, 0),
        ],
        (0.458325, 0, 0.36065),
    ),
    "vx300s": (
        [
            (0, 0, 1, 0, 0, 0),
            (0, 1, 0, -0.12705, 0, 0),
            (0, 1, 0, -0.42705, 0, 0.05955),
            (1, 0, 0, 0, 0.42705, 0),
            (0, 1, 0, -0.42705, 0, 0.35955),
            (1, 0, 0, 0, 0.42705, 0),
        ],
        (0.536494, 0, 0.42705),
    ),
}
ARM_JOINTS = {
    5: ("waist", "shoulder", "elbow", "wrist_angle", "wrist_rotate"),
    6: ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate"),
}


def screw_matrix(s: np.ndarray) -> np.ndarray:
    w, v = s[:3], s[3:]
    m = np.zeros((4, 4))
    m[:3, :3] = [[0, -w[2], w[1]], [w[2], 0, -w[0]], [-w[1], w[0], 0]]
    m[:3, 3] = v
    return m


def poe(screws: np.ndarray, home: np.ndarray, q: np.ndarray) -> np.ndarray:
    t = np.eye(4)
    for s, angle in zip(screws, q, strict=True):
        t = t @ expm(screw_matrix(s) * angle)
    return t @ home


@pytest.mark.parametrize("robot", sorted(POE))
def test_urdf_fk_reproduces_the_makers_screws(robot: str) -> None:
    rows, xyz = POE[robot]
    screws, home = np.asarray(rows, float), np.eye(4)
    home[:3, 3] = xyz
    m = load_model(robot)
    names = ARM_JOINTS[len(screws)]
    at = [m.joint_names.index(n) for n in names]
    rng = np.random.default_rng(7)
    q = rng.uniform(m.lower[at], m.upper[at], size=(32, len(at)))
    ours = m.forward(m.assemble({n: q[:, i] for i, n in enumerate(names)}, len(q)), [f"{robot}/ee_gripper_link"])
    for k in range(len(q)):
        np.testing.assert_allclose(ours[k, 0], poe(screws, home, q[k]), atol=1e-12, err_msg=f"{robot} q={q[k]}")
