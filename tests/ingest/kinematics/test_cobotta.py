"""DENSO COBOTTA (`cobotta.urdf`, DENSORobot/denso_cobotta_ros cobotta.urdf.xacro @ cb105d6), checked on its makers'
real recordings: Tokyo's LSMO raw states (real sample `lsmo_raw_states`, TakaOsa/rlds_dataset_builder@952d7b7
data/<i>/state_cart_joint_gripper_<i>.txt, the files lsmo_dataset_dataset_builder.py turns into the
tokyo_u_lsmo_converted_externally_to_rlds `state`: [3x end-effector position, 3x Euler angles, 6x joint angles, 1x
gripper position]).

What the recordings settle, by fitting the recorded pose to FK of the recorded joints (`eef_agreement.fit_residuals`:
constant base and tool transforms fitted, the rest is disagreement): the joints are J1 .. J6 in radians, but J3
counted from the upright forearm, pi/2 below DENSO's description (its J3 limits 0.314 .. 2.443 rad hold the recorded
J3 + pi/2, not the recorded J3); the angles are scipy's extrinsic "zyx" (R = Rx(e2)·Ry(e1)·Rz(e0)); the position in
metres; and the pose is in another base and on another point than FK's (the fitted transforms are not the identity),
so the joints, not the pose, give the wrist (the oxe row's `joint_zero` adds the pi/2). Read as is, or with another
Euler order, they disagree by tens of degrees. The gripper column is 0 in every frame.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from ingest.canonical.eef_agreement import fit_residuals
from ingest.kinematics import load_model
from tests.realdata import realdata

J3_ZERO = np.array([0, 0, np.pi / 2, 0, 0, 0])  # DENSO's J3 at the recorder's zero


def _episodes() -> list[np.ndarray]:
    return [np.loadtxt(realdata(f"lsmo_raw_states/state_cart_joint_gripper_{i}.txt")) for i in range(10)]


def _residuals(state: np.ndarray, q: np.ndarray, seq: str) -> tuple[float, float]:
    """p95 rotation (deg) and position (m) residuals of the recorded pose read as `seq` against FK of `q`."""
    fk = load_model("cobotta").forward(q, ["J6"])[:, 0]
    rec = np.tile(np.eye(4), (len(state), 1, 1))
    rec[:, :3, :3] = Rotation.from_euler(seq, state[:, 3:6]).as_matrix()
    rec[:, :3, 3] = state[:, :3]
    rot, pos = fit_residuals(rec, fk)
    return float(np.percentile(rot, 95)), float(np.percentile(pos, 95))


def test_the_recorded_pose_is_fk_of_the_joints_with_j3_counted_from_upright() -> None:
    model = load_model("cobotta")
    for state in _episodes():
        q = state[:, 6:12]
        assert state.shape[1] == 13 and len(state) > 100
        rot, pos = _residuals(state, q + J3_ZERO, "zyx")
        assert rot < 0.01 and pos < 1e-5, (rot, pos)
        inside = (q + J3_ZERO >= model.lower - 1e-6) & (q + J3_ZERO <= model.upper + 1e-6)
        assert inside.all()  # DENSO's limits hold the shifted joints
        assert (q[:, 2] < model.lower[2]).any()  # and not the recorded J3 itself
        assert _residuals(state, q, "zyx")[0] > 20  # J3 as recorded
        for seq in ("xyz", "XYZ", "ZYX", "zxy"):  # another Euler reading
            assert _residuals(state, q + J3_ZERO, seq)[0] > 0.5, seq
        assert not state[:, 12].any()  # the gripper column says nothing
