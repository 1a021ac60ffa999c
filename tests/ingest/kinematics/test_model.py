"""The KinematicModel API: shapes, dtype, joint order, base frames, assemble and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.kinematics import DescriptionError, load_model


def test_load_model_is_cached_and_cites_its_source() -> None:
    m = load_model("panda")
    assert load_model("panda") is m
    assert "frankaemika/franka_ros/franka_description/robots/panda_arm.xacro@" in m.source
    assert m.joint_names[:7] == tuple(f"panda_joint{i}" for i in range(1, 8))
    assert m.links[0] == m.root == "panda_link0"
    assert m.lower.dtype == np.float64 and m.lower.shape == (m.dof,) and not m.lower.flags.writeable


def test_missing_description_names_the_file() -> None:
    with pytest.raises(DescriptionError, match=r"no_such_arm\.urdf: no such robot description"):
        load_model("no_such_arm")
    with pytest.raises(DescriptionError, match="not a file stem"):
        load_model("../panda")


def test_forward_shape_dtype_and_base() -> None:
    m = load_model("panda")
    rng = np.random.default_rng(0)
    q = rng.uniform(m.lower, m.upper, size=(5, m.dof))
    out = m.forward(q, ["panda_link8", "panda_hand_tcp"])
    assert out.shape == (5, 2, 4, 4) and out.dtype == np.float64
    np.testing.assert_array_equal(out[:, :, 3], np.broadcast_to([0.0, 0.0, 0.0, 1.0], (5, 2, 4)))
    # a pose in another base is the root pose composed with that base's inverse
    in_link8 = m.forward(q, ["panda_hand_tcp"], base="panda_link8")[:, 0]
    np.testing.assert_allclose(np.linalg.inv(out[:, 0]) @ out[:, 1], in_link8, atol=1e-12)
    # the TCP is fixed in the flange: 0.1034 m along z, whatever the joints
    np.testing.assert_allclose(in_link8[:, :3, 3], np.broadcast_to([0.0, 0.0, 0.1034], (5, 3)), atol=1e-12)
    assert m.forward(q[:0], ["panda_link8"]).shape == (0, 1, 4, 4)


def test_forward_rejects_bad_shapes_and_unknown_links() -> None:
    m = load_model("panda")
    with pytest.raises(ValueError, match=r"expected \[N, 9\]"):
        m.forward(np.zeros((3, 7)), ["panda_link8"])
    with pytest.raises(KeyError, match=r"unknown link\(s\) \['panda_link9'\]"):
        m.forward(np.zeros((3, 9)), ["panda_link9"])
    with pytest.raises(KeyError, match=r"unknown link\(s\) \['world'\]"):
        m.forward(np.zeros((3, 9)), ["panda_link8"], base="world")


def test_assemble_fills_zeros_mimics_and_refuses_unknown_joints() -> None:
    m = load_model("panda")
    q = m.assemble({"panda_joint2": np.array([0.1, 0.2]), "panda_finger_joint1": np.array([0.01, 0.03])}, 2)
    assert q.shape == (2, 9)
    np.testing.assert_array_equal(q[:, 1], [0.1, 0.2])
    np.testing.assert_array_equal(q[:, [0, 2, 3, 4, 5, 6]], 0.0)
    np.testing.assert_array_equal(q[:, 8], [0.01, 0.03])  # finger_joint2 mimics finger_joint1 (multiplier 1)
    with pytest.raises(KeyError, match=r"unknown joint\(s\) \['kLeftShoulderPitch'\]"):
        m.assemble({"kLeftShoulderPitch": np.zeros(2)}, 2)
    with pytest.raises(ValueError, match="expected \\(2,\\)"):
        m.assemble({"panda_joint1": np.zeros(3)}, 2)


def test_a_nan_frame_gives_a_nan_pose_and_leaves_the_others_alone() -> None:
    m = load_model("panda")
    q = np.zeros((3, m.dof))
    q[1, 3] = np.nan
    out = m.forward(q, ["panda_link8", "panda_link2"])
    assert np.isnan(out[1, 0]).any() and not np.isnan(out[1, 1]).any()  # link2 is above joint4: unaffected
    np.testing.assert_array_equal(out[0], out[2])


_DECLARED = """<robot name="stick">
  <link name="base"/><link name="tip"/>
  <joint name="yaw" type="revolute"><parent link="base"/><child link="tip"/>
    <origin xyz="{x} 0 0"/><axis xyz="0 0 1"/><limit lower="-1" upper="1"/></joint>
</robot>
"""


def test_a_declared_urdf_loads_by_its_absolute_path_named_by_its_hash(tmp_path) -> None:
    """A job spec's URDF (no citation header: its source is its path and SHA-256); a changed file is a new model."""
    import hashlib

    path = tmp_path / "stick.urdf"
    path.write_text(_DECLARED.format(x=0.5))
    model = load_model(str(path))
    assert model.joint_names == ("yaw",)
    assert model.source == f"{path} sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}"
    assert model.forward(np.zeros((1, 1)), ["tip"])[0, 0, 0, 3] == pytest.approx(0.5)
    path.write_text(_DECLARED.format(x=0.7))
    assert load_model(str(path)).forward(np.zeros((1, 1)), ["tip"])[0, 0, 0, 3] == pytest.approx(0.7)
    with pytest.raises(Exception, match="no such robot description"):
        load_model("stick")  # a stem is a shipped description only
