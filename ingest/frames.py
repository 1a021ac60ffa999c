"""SE(3) geometry for the canonical state: homogeneous poses, the continuous 6D rotation, EEF offsets and deltas.

Conventions (every function here follows them):
- A pose is a homogeneous `(..., 4, 4)` float64 matrix `parent_from_child = [R t; 0 1]`: it maps points of the child
  frame into the parent frame. Names say which way: `world_from_camera @ p_camera = p_world`.
- Batches broadcast over the leading axes; time is axis 0 where a function speaks of trajectories.
- Quaternions are scalar-last `(x, y, z, w)`, as scipy and ROS write them; they are normalized here.
- 6D rotation = the first two columns of the rotation matrix (Zhou et al. 2019), decoded by Gram-Schmidt.
- Invalid input (NaN, a zero quaternion) becomes NaN output instead of raising, so one bad sample marks one frame
  invalid (the validity step masks it) rather than failing the episode.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.poses import se3
from schemas.transform import RigidTransform

IDENTITY_ROT6D = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])


def matrix_to_rot6d(r: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 6): column 0 then column 1 (Zhou et al. 2019)."""
    r = np.asarray(r)
    return np.concatenate([r[..., :, 0], r[..., :, 1]], axis=-1)


def rot6d_to_matrix(d6: np.ndarray, eps: float = 1e-9, *, bad_as_nan: bool = False) -> np.ndarray:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt; tolerant of unnormalized or slightly skewed input. A zero first
    column or parallel columns raise, or with `bad_as_nan` give a NaN matrix: the QA's reading of stored rows, where
    one degenerate frame costs that frame, not the episode."""
    d6 = np.asarray(d6, dtype=np.float64)
    a1, a2 = d6[..., 0:3], d6[..., 3:6]
    with np.errstate(invalid="ignore", divide="ignore"):
        b1 = a1 / _column_norm(a1, eps, bad_as_nan, "first column has zero length")
        a2 = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
        b2 = a2 / _column_norm(a2, eps, bad_as_nan, "columns are parallel")
    return np.stack([b1, b2, np.cross(b1, b2)], axis=-1)


def _column_norm(a: np.ndarray, eps: float, bad_as_nan: bool, why: str) -> np.ndarray:
    n = np.linalg.norm(a, axis=-1, keepdims=True)
    if bad_as_nan:
        return np.where(n > eps, n, np.nan)
    if np.any(n < eps):
        raise ValueError(f"degenerate 6D rotation: {why}")
    return n


def se3_inverse(T: np.ndarray) -> np.ndarray:
    """(..., 4, 4) -> inverse in closed form `[R^T, -R^T t]` (exact for rigid poses, no general matrix inverse)."""
    T = _as_poses(T)
    rt = np.swapaxes(T[..., :3, :3], -1, -2)
    return se3(rt, -np.einsum("...ij,...j->...i", rt, T[..., :3, 3]))


def compose(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """`A @ B` with broadcasting: `a_from_b` composed with `b_from_c` gives `a_from_c`."""
    return np.matmul(_as_poses(A), _as_poses(B))


def transform_points(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply (..., 4, 4) poses to (..., 3) points; batch axes broadcast (e.g. (T,4,4) with (T,21,3) via T[:, None])."""
    T = _as_poses(T)
    points = np.asarray(points, dtype=np.float64)
    _check_tail(points, (3,), "points")
    return np.einsum("...ij,...j->...i", T[..., :3, :3], points) + T[..., :3, 3]


def is_rotation(R: np.ndarray, atol: float = 1e-5) -> np.ndarray:
    """Bool per (..., 3, 3) matrix: orthonormal (R^T R = I) with det +1, within `atol`; NaN gives False."""
    R = np.asarray(R, dtype=np.float64)
    _check_tail(R, (3, 3), "R")
    gram = np.swapaxes(R, -1, -2) @ R
    ortho = np.all(np.abs(gram - np.eye(3)) <= atol, axis=(-2, -1))
    with np.errstate(invalid="ignore"):  # NaN matrices are simply not rotations
        return ortho & (np.abs(np.linalg.det(R) - 1.0) <= atol)


def quat_to_matrix(quat_xyzw: np.ndarray) -> np.ndarray:
    """(..., 4) scalar-last quaternions (normalized here; zero or non-finite -> NaN) -> (..., 3, 3)."""
    q = np.asarray(quat_xyzw, dtype=np.float64)
    _check_tail(q, (4,), "quat_xyzw")
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(n > 1e-12, q / n, np.nan)
    x, y, z, w = np.moveaxis(q, -1, 0)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def matrix_to_quat_xyzw(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 4) unit quaternions (x, y, z, w) with w >= 0; NaN rows stay NaN."""
    R = np.asarray(R, dtype=np.float64)
    _check_tail(R, (3, 3), "R")
    flat = R.reshape(-1, 3, 3)
    ok = np.isfinite(flat).all(axis=(1, 2))
    out = np.full((len(flat), 4), np.nan)
    if ok.any():
        q = Rotation.from_matrix(flat[ok]).as_quat()
        out[ok] = q * np.where(q[:, 3:] < 0, -1.0, 1.0)
    return out.reshape(*R.shape[:-2], 4)


def pose_from_pos_quat(pos: np.ndarray, quat_xyzw: np.ndarray) -> np.ndarray:
    """(..., 3) positions and (..., 4) quaternions (x, y, z, w) -> (..., 4, 4) poses."""
    return se3(quat_to_matrix(quat_xyzw), pos)


def pose_from_pos_euler(pos: np.ndarray, euler: np.ndarray, seq: str = "xyz") -> np.ndarray:
    """(..., 3) positions and (..., 3) Euler angles in radians -> (..., 4, 4) poses.

    `seq` is scipy's convention string: lowercase = extrinsic (rotations about the fixed parent axes, applied in
    order), uppercase = intrinsic (about the moving axes). Roll/pitch/yaw in the robot base (OXE, DROID) is `"xyz"`.
    """
    euler = np.asarray(euler, dtype=np.float64)
    _check_tail(euler, (3,), "euler")
    R = Rotation.from_euler(seq, euler.reshape(-1, 3)).as_matrix().reshape(*euler.shape[:-1], 3, 3)
    return se3(R, pos)


def pose_to_pos_rot6d(T: np.ndarray) -> np.ndarray:
    """(..., 4, 4) -> (..., 9): position xyz then the 6D rotation (the canonical wrist state layout)."""
    T = _as_poses(T)
    return np.concatenate([T[..., :3, 3], matrix_to_rot6d(T[..., :3, :3])], axis=-1)


def pos_rot6d_to_pose(x9: np.ndarray) -> np.ndarray:
    """Inverse of `pose_to_pos_rot6d`: (..., 9) -> (..., 4, 4), the rotation re-orthonormalized by Gram-Schmidt."""
    x9 = np.asarray(x9, dtype=np.float64)
    _check_tail(x9, (9,), "x9")
    return se3(rot6d_to_matrix(x9[..., 3:]), x9[..., :3])


def offset_matrix(offset: RigidTransform | np.ndarray) -> np.ndarray:
    """A `RigidTransform` or a 4x4 array -> validated (4, 4) float64 rigid transform."""
    m = offset.matrix() if isinstance(offset, RigidTransform) else np.asarray(offset, dtype=np.float64)
    if m.shape != (4, 4) or not np.allclose(m[3], (0, 0, 0, 1)) or not is_rotation(m[:3, :3], atol=1e-6):
        raise ValueError(f"EEF offset must be a rigid 4x4 transform, got {m.tolist() if m.size <= 16 else m.shape}")
    return m


def apply_eef_offset(poses: np.ndarray, offset: RigidTransform | np.ndarray) -> np.ndarray:
    """Source EEF frame -> canonical wrist frame: poses @ offset (offset = eef_from_wrist, maps wrist-frame points into
    the EEF frame), so `base_from_eef @ eef_from_wrist = base_from_wrist`."""
    return compose(poses, offset_matrix(offset))


def pose_deltas(poses: np.ndarray, nxt: np.ndarray | None = None) -> np.ndarray:
    """(N,4,4) -> (N,9): for each t, p_{nxt[t]} - p_t in the canonical frame (3) and the relative rotation
    R_t^T R_{nxt[t]} as 6D (6). `nxt` defaults to t+1, the last frame to itself: zero motion (identity 6D =
    [1,0,0,0,1,0]); a frame whose next pose was not measured goes to itself too. Deltas are always computed from
    resampled poses, never resampled.

    Extra batch axes after time are kept: (N,K,4,4) -> (N,K,9). The translation is a difference of positions in the
    canonical (parent) frame, the rotation is expressed in the wrist frame at t (body frame), as `apply_delta` inverts.
    """
    poses = _as_poses(poses)
    if poses.ndim < 3:
        raise ValueError(f"pose_deltas needs a time axis: (N, ..., 4, 4), got {poses.shape}")
    nxt = np.minimum(np.arange(len(poses)) + 1, len(poses) - 1) if nxt is None else nxt
    rel = np.swapaxes(poses[..., :3, :3], -1, -2) @ poses[nxt, ..., :3, :3]
    return np.concatenate([poses[nxt, ..., :3, 3] - poses[..., :3, 3], matrix_to_rot6d(rel)], axis=-1)


def apply_delta(poses_t: np.ndarray, delta9: np.ndarray) -> np.ndarray:
    """Inverse of `pose_deltas`: (..., 4, 4) poses at t and (..., 9) deltas -> (..., 4, 4) poses at t+1."""
    poses_t = _as_poses(poses_t)
    delta9 = np.asarray(delta9, dtype=np.float64)
    _check_tail(delta9, (9,), "delta9")
    R = poses_t[..., :3, :3] @ rot6d_to_matrix(delta9[..., 3:])
    return se3(R, poses_t[..., :3, 3] + delta9[..., :3])


def _check_tail(a: np.ndarray, tail: tuple[int, ...], name: str) -> None:
    if a.ndim < len(tail) or a.shape[a.ndim - len(tail) :] != tail:
        raise ValueError(f"{name} must have shape (..., {', '.join(map(str, tail))}), got {a.shape}")


def _as_poses(T: np.ndarray) -> np.ndarray:
    T = np.asarray(T, dtype=np.float64)
    _check_tail(T, (4, 4), "pose")
    return T
