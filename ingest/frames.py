"""Rotation representations used by the canonical state: the continuous 6D form (first two matrix columns)."""

from __future__ import annotations

import numpy as np


def matrix_to_rot6d(r: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 6): column 0 then column 1 (Zhou et al. 2019)."""
    r = np.asarray(r)
    return np.concatenate([r[..., :, 0], r[..., :, 1]], axis=-1)


def rot6d_to_matrix(d6: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt; tolerant of unnormalized or slightly skewed input."""
    d6 = np.asarray(d6, dtype=np.float64)
    a1, a2 = d6[..., 0:3], d6[..., 3:6]
    n1 = np.linalg.norm(a1, axis=-1, keepdims=True)
    if np.any(n1 < eps):
        raise ValueError("degenerate 6D rotation: first column has zero length")
    b1 = a1 / n1
    a2 = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    n2 = np.linalg.norm(a2, axis=-1, keepdims=True)
    if np.any(n2 < eps):
        raise ValueError("degenerate 6D rotation: columns are parallel")
    b2 = a2 / n2
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-1)
