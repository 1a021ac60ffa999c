"""Rotation matrices from 6D rotations as the QA reads them: a bad frame is NaN, never an error (one degenerate row
of a stored trajectory or wrist costs that frame, not the episode)."""

from __future__ import annotations

import numpy as np


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a x b over the last axis (np.cross costs more in axis bookkeeping than in arithmetic at these sizes)."""
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], axis=-1)


def rotations(rot6d: np.ndarray) -> np.ndarray:
    """(..., 6) -> (..., 3, 3) by the Gram-Schmidt of `frames.rot6d_to_matrix`, but NaN for a non-finite, zero or
    parallel-column row instead of an error: one bad frame is one NaN, not a failed episode."""
    a1, a2 = np.asarray(rot6d[..., :3], np.float64), np.asarray(rot6d[..., 3:], np.float64)
    n1 = np.linalg.norm(a1, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        b1 = a1 / np.where(n1 > 1e-9, n1, np.nan)
        a2 = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
        n2 = np.linalg.norm(a2, axis=-1, keepdims=True)
        b2 = a2 / np.where(n2 > 1e-9, n2, np.nan)
    return np.stack([b1, b2, _cross(b1, b2)], axis=-1)
