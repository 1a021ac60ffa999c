"""A shipped robot description as a forward-kinematics model over whole episodes, float64 throughout (MuJoCo computes
the poses: `engine.py`)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import numpy as np

from adapters.poses import se3
from ingest.kinematics.description import (
    MOVABLE,
    Description,
    description_path,
    read_declared,
    read_description,
    urdf_sha256,
)
from ingest.kinematics.engine import Engine


class KinematicModel:
    """Forward kinematics of one description.

    `joint_names` are the movable joints (revolute, continuous, prismatic) in depth-first order from the root link,
    children in the order their joints appear in the file: for a serial arm, base to tip, then the gripper joints.
    `lower`/`upper` are the URDF limits (radians or metres; +-inf for continuous joints). `links` lists every link,
    the root first, in the same depth-first order. Mimic joints (a gripper's second finger, a hand's coupled
    phalanges) are ordinary columns of q; `assemble` fills them from their master.
    """

    def __init__(self, desc: Description) -> None:
        self.description = desc.name
        self.source = "; ".join(desc.sources)
        self.root = desc.root
        self.links: tuple[str, ...] = desc.links
        movable = [j for j in desc.joints if j.type in MOVABLE]
        self.joint_names: tuple[str, ...] = tuple(j.name for j in movable)
        self.lower = _frozen(np.array([j.lower for j in movable], dtype=np.float64))
        self.upper = _frozen(np.array([j.upper for j in movable], dtype=np.float64))
        self.mimic: Mapping[str, tuple[str, float, float]] = MappingProxyType(
            {j.name: j.mimic for j in movable if j.mimic is not None}
        )
        self.parent: Mapping[str, str] = MappingProxyType({j.child: j.parent for j in desc.joints})
        self.joint_child: Mapping[str, str] = MappingProxyType({j.name: j.child for j in desc.joints})
        # child link -> the farthest its joint can move it from its parent: the origin's length, plus a prismatic
        # joint's travel (an upper bound on reach, `ingest.kinematics.invariants`)
        self.offset: Mapping[str, float] = MappingProxyType(
            {
                j.child: float(np.linalg.norm(j.xyz))
                + (max(abs(j.lower), abs(j.upper)) if j.type == "prismatic" else 0.0)
                for j in desc.joints
            }
        )
        self._col = {name: i for i, name in enumerate(self.joint_names)}
        self._order = {link: i for i, link in enumerate(self.links)}
        self._engine = Engine(desc, self.joint_names)

    @property
    def dof(self) -> int:
        return len(self.joint_names)

    def __repr__(self) -> str:
        return f"KinematicModel({self.description!r}, dof={self.dof}, links={len(self.links)})"

    def forward(self, q: np.ndarray, links: Sequence[str], base: str | None = None) -> np.ndarray:
        """Poses of `links` in the frame of `base` (default: the root link) for every row of q.

        q: [N, dof] in `joint_names` order. Returns [N, len(links), 4, 4] float64 homogeneous transforms
        T_base_link (a point in link coordinates maps to base coordinates). Rows with NaN give NaN poses.
        """
        q = np.asarray(q, dtype=np.float64)
        if q.ndim != 2 or q.shape[1] != self.dof:
            raise ValueError(
                f"{self.description}: q has shape {q.shape}, expected [N, {self.dof}] in the order {self.joint_names}"
            )
        if unknown := [link for link in (*links, base) if link is not None and link not in self._order]:
            raise KeyError(f"{self.description}: unknown link(s) {unknown}; links: {self.links}")
        base = base or self.root
        rot, pos = self._engine.poses(q, [*links, base])
        if base != self.root:  # T_base_link = T_base^-1 T_link, with the exact inverse of a rotation (its transpose)
            rb_t = np.swapaxes(rot[:, -1:], -1, -2)
            rot = rb_t @ rot
            pos = (rb_t @ (pos - pos[:, -1:])[..., None])[..., 0]
        return se3(rot[:, : len(links)], pos[:, : len(links)])

    def assemble(self, named: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """[n, dof] joint matrix from per-joint columns of length n.

        Joints not given are 0, except mimic joints not given, which follow their master as the URDF says
        (q = multiplier * q_master + offset). Unknown names raise, naming them and the joints this robot has.
        """
        if unknown := sorted(set(named) - set(self._col)):
            raise KeyError(f"{self.description}: unknown joint(s) {unknown}; this description has {self.joint_names}")
        q = np.zeros((n, self.dof), dtype=np.float64)
        for name, column in named.items():
            column = np.asarray(column, dtype=np.float64)
            if column.shape != (n,):
                raise ValueError(f"{self.description}: joint {name!r} has shape {column.shape}, expected ({n},)")
            q[:, self._col[name]] = column
        for name, (master, multiplier, offset) in self.mimic.items():
            if name not in named:
                q[:, self._col[name]] = multiplier * q[:, self._col[master]] + offset
        return q


def load_model(description: str) -> KinematicModel:
    """The model of `schemas/robots/descriptions/<description>.urdf`, or of the URDF at `description` when it is an
    absolute path (a description a job spec declares: `schemas.robots.declared`), built once per process (a declared
    file once per content: its SHA-256 is part of the key)."""
    if description.endswith(".urdf") and Path(description).is_absolute():
        return _declared(description, urdf_sha256(Path(description)))
    return _shipped(description)


@functools.cache  # lru_cache without a bound: one model per description per process
def _shipped(description: str) -> KinematicModel:
    return KinematicModel(read_description(description_path(description)))


@functools.cache
def _declared(path: str, sha256: str) -> KinematicModel:
    desc = read_declared(Path(path))
    if not desc.sources[0].endswith(sha256):  # the file changed between hashing and reading
        raise RuntimeError(f"{path}: the robot description changed while it was read")
    return KinematicModel(desc)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a
