"""RigidTransform (schemas/transform.py): matrix round trips, a known rotation, and the quaternion and shape checks
at the boundary."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from schemas.transform import RigidTransform


def test_transform_matrix_round_trip() -> None:
    q = np.array([0.1, -0.3, 0.5, 0.8])
    t = RigidTransform(translation=(0.2, -1.0, 0.35), rotation_xyzw=tuple(q / np.linalg.norm(q)))
    back = RigidTransform.from_matrix(t.matrix())
    np.testing.assert_allclose(back.matrix(), t.matrix(), atol=1e-12)
    np.testing.assert_allclose(back.translation, t.translation)
    sign = np.sign(np.dot(back.rotation_xyzw, t.rotation_xyzw))  # q and -q are the same rotation
    np.testing.assert_allclose(sign * np.array(back.rotation_xyzw), t.rotation_xyzw, atol=1e-12)
    assert RigidTransform.from_matrix(np.eye(4)) == RigidTransform.identity()


def test_transform_known_pose_90_degrees_about_z() -> None:
    s = np.sqrt(0.5)
    t = RigidTransform(rotation_xyzw=(0.0, 0.0, s, s))
    np.testing.assert_allclose(t.matrix() @ [1, 0, 0, 1], [0, 1, 0, 1], atol=1e-12)
    np.testing.assert_allclose(t.matrix() @ [0, 1, 0, 1], [-1, 0, 0, 1], atol=1e-12)
    moved = RigidTransform(translation=(1.0, 2.0, 3.0), rotation_xyzw=(0.0, 0.0, s, s))
    np.testing.assert_allclose(moved.matrix() @ [1, 0, 0, 1], [1, 3, 3, 1], atol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [{"rotation_xyzw": (0.0, 0.0, 0.0, 2.0)}, {"rotation_xyzw": (0.0, 0.0, 0.0, float("nan"))}],
    ids=["not_unit", "nan"],
)
def test_transform_rejects_non_unit_quaternion(kwargs: dict) -> None:
    with pytest.raises(ValidationError, match="unit quaternion"):
        RigidTransform(**kwargs)


def test_transform_from_matrix_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="4x4"):
        RigidTransform.from_matrix(np.eye(3))
    bad = np.eye(4)
    bad[3, 0] = 1.0
    with pytest.raises(ValueError, match="4x4"):
        RigidTransform.from_matrix(bad)
