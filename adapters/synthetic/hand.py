"""A synthetic adult hand: 21 rest keypoints (MANO-21 names, `schemas.canonical.MANO21_NAMES`) in metres, shared by
the fixture writers of hand-tracking sources (`synthetic/egodex.py`) and the synthetic MANO model of the tests.

Right hand in its own frame: wrist at the origin, straight fingers along +x, thumb towards +y, palm facing -z (the
back of the hand is +z). Wrist to middle tip is 18.5 cm. The left hand is the mirror image (x -> -x).
"""

from __future__ import annotations

import numpy as np

MIRROR = np.array([-1.0, 1.0, 1.0])  # right -> left

# Per finger: first joint position, direction, and the three bone lengths (j1->j2, j2->j3, j3->tip).
FINGER_GEOMETRY = {
    "thumb": ((0.025, 0.022, -0.010), (0.60, 0.80, -0.10), (0.035, 0.030, 0.025)),
    "index": ((0.085, 0.022, 0.000), (1.00, 0.08, 0.00), (0.040, 0.024, 0.020)),
    "middle": ((0.090, 0.002, 0.000), (1.00, 0.00, 0.00), (0.045, 0.028, 0.022)),
    "ring": ((0.085, -0.017, 0.000), (1.00, -0.08, 0.00), (0.042, 0.027, 0.021)),
    "pinky": ((0.075, -0.034, 0.000), (1.00, -0.18, 0.00), (0.033, 0.020, 0.018)),
}


def look_at(forward: np.ndarray, down: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations with columns x, y, z: an OpenCV-style frame looking along `forward`, y towards `down`."""
    z = forward / np.linalg.norm(forward, axis=-1, keepdims=True)
    y = down - np.sum(down * z, axis=-1, keepdims=True) * z
    y /= np.linalg.norm(y, axis=-1, keepdims=True)
    return np.stack([np.cross(y, z), y, z], axis=-1)


def hand_layout(side: str = "right") -> dict[str, np.ndarray]:
    """The 21 named rest keypoints (MANO21 names) of the synthetic hand."""
    out = {"wrist": np.zeros(3)}
    for finger, (base, direction, lengths) in FINGER_GEOMETRY.items():
        d = np.asarray(direction) / np.linalg.norm(direction)
        p = np.asarray(base, dtype=np.float64)
        names = (f"{finger}1", f"{finger}2", f"{finger}3", f"{finger}_tip")
        for name, length in zip(names, (0, *lengths), strict=True):
            p = p + length * d
            out[name] = p.copy()
    if side == "left":
        out = {k: v * MIRROR for k, v in out.items()}
    return out
