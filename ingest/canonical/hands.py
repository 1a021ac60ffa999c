"""MANO-21 hand keypoints and the canonical hand configuration (wrist frame + 5 fingertips in it).

Keypoints are 21 points in OpenPose/MediaPipe order (`schemas.canonical.MANO21_NAMES`: wrist, then thumb, index,
middle, ring, pinky, each base to tip), in metres. They come either from MANO parameters through smplx
(`ingest.canonical.mano.model.ManoHand`, a local model folder converted once with
`python -m ingest.canonical.mano.convert`) or from any tracked skeleton by an explicit joint map (e.g.
`adapters.egodex.adapter.MANO21_JOINTS`).

The wrist frame (`wrist_frames_from_keypoints`) is defined from keypoints alone, so every human source gets the same
frame whatever its native joint conventions:
  z (approach) = wrist -> middle1, like a gripper's approach axis;
  y (palmar)   = the palm normal, pointing out of the palm (where grasped objects are), from index1 and pinky1;
  x            = y cross z: towards the little finger on a right hand and towards the thumb on a left hand.
A left hand is thus the mirror image of a right one: mirroring a right hand's keypoints gives a left hand whose
fingertips in its wrist frame differ only by the sign of x.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from schemas.canonical import MANO21_NAMES, NUM_KEYPOINTS

Side = Literal["left", "right"]

FINGERTIPS = (4, 8, 12, 16, 20)  # thumb..pinky tips in MANO-21 (OpenPose) order
WRIST, INDEX1, MIDDLE1, PINKY1 = (MANO21_NAMES.index(n) for n in ("wrist", "index1", "middle1", "pinky1"))


def wrist_frames_from_keypoints(keypoints: np.ndarray, side: Side, eps: float = 1e-6) -> np.ndarray:
    """(T,21,3) -> (T,4,4) world_from_wrist: origin at keypoint 0, axes from the palm (wrist->middle1 as one axis,
    palm normal from index1/pinky1 (ring1) as another), handedness-consistent for left/right. Used when only
    keypoints are known.

    Axes as in the module docstring (z approach, y palmar, x = y cross z). Frames whose palm is degenerate (middle1
    within `eps` metres of the wrist, or the palm normal within `eps` radians of the approach axis or of zero
    length) or holding NaN are NaN, for validity to count.
    """
    k = np.asarray(keypoints, dtype=np.float64)
    if k.ndim != 3 or k.shape[1:] != (NUM_KEYPOINTS, 3):
        raise ValueError(f"keypoints: shape {k.shape}, expected (T, {NUM_KEYPOINTS}, 3)")
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    wrist = k[:, WRIST]
    z = k[:, MIDDLE1] - wrist
    # Right hand: index x pinky (both from the wrist) points out of the palm; a mirror image flips the cross product.
    a, b = k[:, INDEX1] - wrist, k[:, PINKY1] - wrist
    palmar = np.cross(a, b) if side == "right" else np.cross(b, a)
    with np.errstate(invalid="ignore", divide="ignore"):
        zn = np.linalg.norm(z, axis=-1, keepdims=True)
        z = z / zn
        # Scale-free: divide by |a||b| so the length left after removing the z part is a sine.
        palmar = palmar / (np.linalg.norm(a, axis=-1, keepdims=True) * np.linalg.norm(b, axis=-1, keepdims=True))
        y = palmar - np.sum(palmar * z, axis=-1, keepdims=True) * z
        yn = np.linalg.norm(y, axis=-1, keepdims=True)
        y = y / yn
    bad = (zn[:, 0] < eps) | ~(yn[:, 0] >= eps)
    x = np.cross(y, z)
    out = np.zeros((len(k), 4, 4))
    out[:, :3, 0], out[:, :3, 1], out[:, :3, 2], out[:, :3, 3] = x, y, z, wrist
    out[:, 3, 3] = 1.0
    out[bad | ~np.isfinite(out).all(axis=(1, 2))] = np.nan
    return out


def fingertips_in_wrist(keypoints: np.ndarray, world_from_wrist: np.ndarray) -> np.ndarray:
    """(T,21,3),(T,4,4) -> (T,15): the 5 fingertips expressed in the wrist frame, thumb..pinky, xyz each: the
    canonical hand configuration."""
    k = np.asarray(keypoints, dtype=np.float64)
    pose = np.asarray(world_from_wrist, dtype=np.float64)
    if k.ndim != 3 or k.shape[1:] != (NUM_KEYPOINTS, 3) or pose.shape != (len(k), 4, 4):
        raise ValueError(f"keypoints {k.shape} and world_from_wrist {pose.shape}: expected (T,21,3) and (T,4,4)")
    rel = k[:, FINGERTIPS] - pose[:, None, :3, 3]
    local = np.einsum("tji,tkj->tki", pose[:, :3, :3], rel)  # R^T (p - t) per tip
    return local.reshape(len(k), 3 * len(FINGERTIPS))
