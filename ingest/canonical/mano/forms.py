"""Every form a maker ships a MANO hand pose in (`schemas.mano`), to the one the MANO layer takes here: the
full articulation as 45 axis-angle values (the mean pose already added), fed to a `flat_hand_mean` layer. Pure
functions of arrays; `ingest.canonical.mano.evaluate` is their one caller at ingest (the tests hold the inverse).

The mean is added in axis-angle space, as smplx adds `pose_mean` to the axis-angle pose before Rodrigues
(vchoutas/smplx@1265df7:smplx/body_models.py:1683-1688), whatever the form it came in.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from schemas.mano import ManoConvention

MIRROR_X = np.array([-1.0, 1.0, 1.0])  # a right hand's points mirrored into a left hand's (VITRA's x flip)


def rotmat_to_axis_angle(rot: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle, angles in [0, pi]."""
    rot = np.asarray(rot, np.float64)
    return Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_rotvec().reshape(*rot.shape[:-2], 3)


def quat_wxyz_to_rotmat(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (w, x, y, z), normalised here -> (..., 3, 3)."""
    q = np.asarray(q, np.float64)
    return Rotation.from_quat(q.reshape(-1, 4), scalar_first=True).as_matrix().reshape(*q.shape[:-1], 3, 3)


def articulation(pose: np.ndarray, conv: ManoConvention, components: np.ndarray, hands_mean: np.ndarray) -> np.ndarray:
    """(T, ...) a hand pose in `conv`'s form -> (T, 45) the whole articulation in axis-angle (mean added unless the
    pose is `flat_hand_mean`). `components` (>= k, 45) and `hands_mean` (45,) are the model's own."""
    pose = np.asarray(pose, np.float64)
    want = conv.row_shape()
    if pose.ndim != 1 + len(want) or pose.shape[1:] != want:
        raise ValueError(f"{conv.form} hand pose: shape {pose.shape}, expected (T, {', '.join(map(str, want))})")
    n = len(pose)
    if conv.form == "pca":
        aa = pose @ np.asarray(components, np.float64)[: conv.num_pca_comps]
    elif conv.form == "axis_angle":
        aa = pose
    elif conv.form == "rotmat":
        aa = rotmat_to_axis_angle(pose).reshape(n, -1)
    else:
        aa = rotmat_to_axis_angle(quat_wxyz_to_rotmat(pose)).reshape(n, -1)
    return aa if conv.flat_hand_mean else aa + np.asarray(hands_mean, np.float64)


def place(local: np.ndarray, wrist: np.ndarray, rest_wrist: np.ndarray, conv: ManoConvention) -> np.ndarray:
    """Posed points relative to the wrist joint (T, P, 3), at identity global orientation, -> the source's frame:
    mirrored across x for a left hand given on MANO_RIGHT, turned by the wrist rotation about the wrist joint, and
    moved to the wrist joint, which is the wrist stream's translation (`wrist_at` "joint") or MANO's rest wrist
    joint J0(betas) plus it (`wrist_at` "transl", smplx's `transl`). `wrist` (T, 4, 4), `rest_wrist` (T, 3)."""
    local = np.asarray(local, np.float64) * (MIRROR_X if conv.left_on_right else 1.0)
    origin = wrist[:, :3, 3] + (0.0 if conv.wrist_at == "joint" else rest_wrist)
    return np.einsum("tij,tpj->tpi", wrist[:, :3, :3], local) + origin[:, None]
