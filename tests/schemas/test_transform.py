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


def _random(rng: np.random.Generator) -> RigidTransform:
    q = rng.normal(size=4)
    return RigidTransform(translation=tuple(rng.normal(size=3)), rotation_xyzw=tuple(q / np.linalg.norm(q)))


@pytest.mark.parametrize("seed", range(5))
def test_composition_and_inverse_stay_rigid_and_are_the_matrix_identities(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = _random(rng), _random(rng)
    ab = RigidTransform.from_matrix(a.matrix() @ b.matrix())  # a rigid transform after a rigid transform is one
    np.testing.assert_allclose(ab.matrix(), a.matrix() @ b.matrix(), atol=1e-12)
    inv = RigidTransform.from_matrix(np.linalg.inv(a.matrix()))
    np.testing.assert_allclose(inv.matrix() @ a.matrix(), np.eye(4), atol=1e-12)
    r, t = a.matrix()[:3, :3], np.array(a.translation)
    np.testing.assert_allclose(inv.translation, -r.T @ t, atol=1e-12)  # the inverse's translation is -R^T t
    # distances between points survive: the rotation block is orthonormal with det +1
    p = rng.normal(size=(2, 3))
    moved = (a.matrix() @ np.c_[p, np.ones(2)].T).T[:, :3]
    assert np.linalg.norm(moved[0] - moved[1]) == pytest.approx(np.linalg.norm(p[0] - p[1]), rel=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    "block",
    [np.eye(3) * 2.0, np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), np.diag([1.0, 1.0, -1.0])],
    ids=["scaled", "sheared", "reflection"],
)
def test_from_matrix_refuses_a_block_that_is_no_rotation(block: np.ndarray) -> None:
    """scipy would project a scaled or sheared block onto the nearest rotation; the boundary type refuses it."""
    m = np.eye(4)
    m[:3, :3] = block
    with pytest.raises(ValueError, match="not a rotation"):
        RigidTransform.from_matrix(m)


def test_json_round_trip_and_immutability() -> None:
    t = _random(np.random.default_rng(7))
    assert RigidTransform.model_validate_json(t.model_dump_json()) == t
    with pytest.raises(ValidationError, match="frozen"):
        t.translation = (0.0, 0.0, 0.0)  # type: ignore[misc]
    with pytest.raises(ValidationError) as err:
        RigidTransform(translation=(0.0, 1.0))  # type: ignore[arg-type]
    assert err.value.errors()[0]["loc"][0] == "translation"
