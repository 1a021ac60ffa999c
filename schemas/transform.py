"""A rigid transform (SE(3)) as a validated boundary type: translation in metres, rotation as a unit quaternion."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator


class RigidTransform(BaseModel):
    """`T = [R t; 0 1]` with R from the quaternion (x, y, z, w). Maps points of the child frame into the parent."""

    model_config = ConfigDict(frozen=True)

    translation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation_xyzw: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)

    @field_validator("rotation_xyzw")
    @classmethod
    def _unit(cls, q: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        n = float(np.linalg.norm(q))
        if not np.isfinite(n) or abs(n - 1.0) > 1e-6:
            raise ValueError(f"rotation_xyzw must be a unit quaternion, norm is {n}")
        return q

    @classmethod
    def identity(cls) -> RigidTransform:
        return cls()

    @classmethod
    def from_matrix(cls, m: np.ndarray) -> RigidTransform:
        from scipy.spatial.transform import Rotation

        m = np.asarray(m, dtype=np.float64)
        if m.shape != (4, 4) or not np.allclose(m[3], (0, 0, 0, 1)):
            raise ValueError(f"expected a homogeneous 4x4 matrix, got shape {m.shape}")
        r = m[:3, :3]
        # scipy projects a scaled or sheared block onto the nearest rotation without a word: refuse it here
        if not (np.allclose(r.T @ r, np.eye(3), atol=1e-6) and np.linalg.det(r) > 0):
            raise ValueError(f"the 3x3 block is not a rotation (orthonormal, det +1): {r.tolist()}")
        q = Rotation.from_matrix(r).as_quat()
        return cls(translation=tuple(m[:3, 3]), rotation_xyzw=tuple(q / np.linalg.norm(q)))

    def matrix(self) -> np.ndarray:
        from scipy.spatial.transform import Rotation

        m = np.eye(4)
        m[:3, :3] = Rotation.from_quat(self.rotation_xyzw).as_matrix()
        m[:3, 3] = self.translation
        return m
