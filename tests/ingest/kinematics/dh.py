"""Denavit-Hartenberg transforms, written out from the conventions' definitions (no library), for the tests that
check our descriptions against the makers' DH tables (`test_dh.py`, and the table-log adapter's synthetic logs)."""

from __future__ import annotations

import numpy as np

HALF_PI = np.pi / 2
# UFACTORY xArm 6, Craig's modified DH (a, d, alpha, theta offset) per joint, metres and radians, theta = q + offset:
# UFACTORY, "Kinematic and Dynamic Parameters of UFACTORY xArm Series", xArm 6 "Modified D-H Parameters"
# (xArm-Developer/ufactory_docs support_articles, docs.ufactory.cc support_articles/developer/
# kinematic-and-dynamic-parameters): a2 = sqrt(284.5^2 + 53.5^2) mm, T2_offset = -atan(284.5 / 53.5), T3_offset =
# -T2_offset. Frames 1, 3 .. 6 are the URDF's link1, link3 .. link6 (flange); frame 2 is link2 turned by T2_offset.
XARM6_A2 = float(np.hypot(0.2845, 0.0535))
XARM6_T2 = float(-np.arctan(284.5 / 53.5))


def xarm6_mdh(twist: float = HALF_PI) -> list[tuple[float, float, float, float]]:
    """The xArm 6 table; `twist` the value written for pi/2 (the maker's kinematics file writes 1.5708)."""
    return [
        (0, 0.267, 0, 0),
        (0, 0, -twist, XARM6_T2),
        (XARM6_A2, 0, 0, -XARM6_T2),
        (0.0775, 0.3425, -twist, 0),
        (0, 0, twist, 0),
        (0.076, 0.097, -twist, 0),
    ]


def rot_x(t: float) -> np.ndarray:
    c, s = np.cos(t), np.sin(t)
    return np.array([[1, 0, 0, 0], [0, c, -s, 0], [0, s, c, 0], [0, 0, 0, 1.0]])


def rot_z(t: float) -> np.ndarray:
    c, s = np.cos(t), np.sin(t)
    return np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])


def trans(x: float, y: float, z: float) -> np.ndarray:
    t = np.eye(4)
    t[:3, 3] = x, y, z
    return t


def craig(a: float, d: float, alpha: float, theta: float) -> np.ndarray:
    return rot_x(alpha) @ trans(a, 0, 0) @ rot_z(theta) @ trans(0, 0, d)


def standard(a: float, d: float, alpha: float, theta: float) -> np.ndarray:
    return rot_z(theta) @ trans(0, 0, d) @ trans(a, 0, 0) @ rot_x(alpha)


def xarm6_frames(q: np.ndarray, twist: float = HALF_PI) -> np.ndarray:
    """Every DH frame 1 .. 6 of the xArm 6 in link_base, (n, 6, 4, 4), for joints q (n, 6) in radians."""
    out = np.empty((len(q), 6, 4, 4))
    for n, row in enumerate(q):
        t = np.eye(4)
        for i, (a, d, alpha, offset) in enumerate(xarm6_mdh(twist)):
            t = t @ craig(a, d, alpha, row[i] + offset)
            out[n, i] = t
    return out
