"""MuJoCo as the forward-kinematics engine: a checked `Description` as an `MjModel`, and poses for many frames.

The model is built with `mujoco.MjSpec` from the description we already parsed and checked, not with MuJoCo's URDF
importer: the importer fuses bodies joined by fixed joints (its `fusestatic` defaults on for URDF), so a TCP or a
fingertip link would vanish into its parent, and it needs `<inertial>` elements our trimmed kinematic files do not
carry. What we build follows the importer's own reading of URDF (google-deepmind/mujoco src/xml/xml_urdf.cc @
015bdeb756d6946ac5f20168952cdee8a5fb5bf0, `mjXURDF::Joint` and `mjXURDF::Origin`): one body per link placed at
the joint origin, `rpy` resolved as extrinsic "XYZ" Euler angles in radians, a hinge (revolute, continuous) or
slide (prismatic) joint at the body origin about the URDF axis, and no joint for a fixed joint. Joints are not
limited: real data goes past the file's limits (the GR1 sample's elbow) and the pose must follow it.

Every frame of an episode runs through `mujoco.batch.Batch` (on the calling thread only) with
`forward(stage=mjSTAGE_POS)`: one C call for a chunk of frames. MuJoCo has no kinematics-only batch call; the position
stage adds what it derives from positions (centre of mass, mass matrix), and collisions, constraints, sensors and
actuation are switched off. In our measurements it was about 3.2 to 3.8x a Python loop over `mj_kinematics` per core
(BENCHMARKS.md, "Forward kinematics").
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import mujoco
import numpy as np
from mujoco.batch import Batch

from ingest.kinematics.description import MOVABLE, Description

CHUNK = 2048  # frames per batch call: bounds memory (nbody x 12 float64 per frame) on long episodes
# every stage of mj_fwdPosition we do not need; kinematics itself cannot be disabled
_DISABLED = (
    mujoco.mjtDisableBit.mjDSBL_CONSTRAINT
    | mujoco.mjtDisableBit.mjDSBL_CONTACT
    | mujoco.mjtDisableBit.mjDSBL_SENSOR
    | mujoco.mjtDisableBit.mjDSBL_ACTUATION
    | mujoco.mjtDisableBit.mjDSBL_ISLAND
    | mujoco.mjtDisableBit.mjDSBL_MIDPHASE
)


def build_model(desc: Description) -> mujoco.MjModel:
    """The description as a compiled MjModel: a body per link (the root one fixed to the world), named as the links,
    and a joint per movable joint, named as in the file."""
    spec = mujoco.MjSpec()
    spec.modelname = desc.name
    spec.compiler.degree = False  # URDF angles are radians
    spec.compiler.eulerseq = "XYZ"  # URDF rpy: fixed-axis roll, pitch, yaw (xml_urdf.cc resolves it as "XYZ")
    # the files carry no inertials; MuJoCo refuses massless moving bodies, and mass never enters kinematics
    spec.compiler.boundmass = 1e-3
    spec.compiler.boundinertia = 1e-6
    spec.option.disableflags = int(_DISABLED)
    bodies = {desc.root: spec.worldbody.add_body(name=desc.root)}
    for joint in desc.joints:  # parents before children (depth-first), so qpos follows the joints' order
        body = bodies[joint.parent].add_body(name=joint.child, pos=list(joint.xyz))
        body.alt.type = mujoco.mjtOrientation.mjORIENTATION_EULER
        body.alt.euler = list(joint.rpy)
        if joint.type in MOVABLE:
            kind = mujoco.mjtJoint.mjJNT_SLIDE if joint.type == "prismatic" else mujoco.mjtJoint.mjJNT_HINGE
            body.add_joint(name=joint.name, type=kind, axis=list(joint.axis), limited=mujoco.mjtLimited.mjLIMITED_FALSE)
        bodies[joint.child] = body
    try:
        return spec.compile()
    except ValueError as e:  # the description passed our checks, so this is MuJoCo refusing something we build
        raise RuntimeError(f"{desc.path}: MuJoCo cannot compile the description ({e})") from e


class Engine:
    """Poses of named bodies for many configurations. The MjModel is shared; each thread gets its own batch (a
    `Batch` must not be used from two threads at once), made on its first call."""

    def __init__(self, desc: Description, joint_names: Sequence[str]) -> None:
        self.model = build_model(desc)
        self.body = {desc.root: self.model.body(desc.root).id}
        self.body.update({j.child: self.model.body(j.child).id for j in desc.joints})
        # MuJoCo lays qpos out body by body, depth-first in insertion order: the description's joint order
        qpos_order = [self.model.joint(i).name for i in np.argsort(self.model.jnt_qposadr)]
        if qpos_order != list(joint_names) or self.model.nq != len(joint_names):
            raise RuntimeError(f"{desc.path}: MuJoCo's qpos order {qpos_order} is not the joint order {joint_names}")
        # moved_by[body, column]: the joint in that q column is on the body's chain from the root
        self._moved_by = np.zeros((self.model.nbody, len(joint_names)), dtype=bool)
        for joint in desc.joints:  # parents first
            row = self._moved_by[self.body[joint.child]]
            row[:] = self._moved_by[self.body[joint.parent]]
            if joint.type in MOVABLE:
                row[joint_names.index(joint.name)] = True
        self._local = threading.local()

    def _batch(self) -> tuple[Batch, np.ndarray, np.ndarray, np.ndarray]:
        held = getattr(self._local, "batch", None)
        if held is None:
            batch = Batch(self.model, CHUNK, nthread=1)  # 1: the calling thread only
            held = (batch, batch.bind("qpos"), batch.bind("xpos"), batch.bind("xmat"))
            self._local.batch = held
        return held

    def poses(self, q: np.ndarray, bodies: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """World (= root link) rotations [N, B, 3, 3] and positions [N, B, 3] of `bodies` for each row of q
        ([N, dof] in the model's joint order). A NaN in a row gives NaN for the bodies below that joint only."""
        ids = np.array([self.body[b] for b in bodies], dtype=np.intp)
        n = q.shape[0]
        rot, pos = np.empty((n, len(ids), 3, 3)), np.empty((n, len(ids), 3))
        # MuJoCo resets a simulation whose qpos is NaN, infinite or beyond mjMAXVAL (and prints a warning), which
        # would give the zero pose; such values run as 0 and the bodies they move are set to NaN afterwards
        bad = ~(np.abs(q) <= mujoco.mjMAXVAL)
        if bad.any():
            q = np.where(bad, 0.0, q)
        batch, qpos, xpos, xmat = self._batch()
        for start in range(0, n, CHUNK):
            k = min(CHUNK, n - start)
            qpos[:k] = q[start : start + k]
            batch.forward(ids=None if k == CHUNK else np.arange(k), stage=mujoco.mjtStage.mjSTAGE_POS.value)
            rot[start : start + k] = xmat[:k, ids].reshape(k, len(ids), 3, 3)
            pos[start : start + k] = xpos[:k, ids]
        if bad.any():
            poisoned = bad @ self._moved_by[ids].T  # [N, B], boolean matmul: any bad joint on the chain
            rot[poisoned], pos[poisoned] = np.nan, np.nan
        return rot, pos
