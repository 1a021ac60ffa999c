"""Reading the shipped robot descriptions (`schemas/robots/descriptions/*.urdf`) with ElementTree and scipy alone, so
that the schema tests check the robot data against the makers' files without the kinematics engine."""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

DESCRIPTIONS = Path(__file__).resolve().parents[3] / "schemas" / "robots" / "descriptions"


@dataclass(frozen=True)
class Joint:
    name: str
    type: str
    parent: str
    child: str
    origin: np.ndarray  # 4x4, parent_from_child at q = 0
    lower: float | None
    upper: float | None
    axis: np.ndarray  # unit axis in the child frame (URDF default x)


@functools.cache
def joints(description: str) -> dict[str, Joint]:
    """Every joint of `<description>.urdf`, by name (parsed once; do not modify the result)."""
    out = {}
    for j in ET.parse(DESCRIPTIONS / f"{description}.urdf").getroot().iter("joint"):
        o = j.find("origin")
        xyz = [float(v) for v in (o.get("xyz", "0 0 0") if o is not None else "0 0 0").split()]
        rpy = [float(v) for v in (o.get("rpy", "0 0 0") if o is not None else "0 0 0").split()]
        m = np.eye(4)
        m[:3, :3] = Rotation.from_euler("xyz", rpy).as_matrix()  # URDF rpy: fixed axes x, then y, then z
        m[:3, 3] = xyz
        ax = j.find("axis")
        axis = np.array([float(v) for v in (ax.get("xyz") if ax is not None else "1 0 0").split()])
        lim = j.find("limit")
        lo, hi = (lim.get("lower"), lim.get("upper")) if lim is not None else (None, None)
        out[j.get("name")] = Joint(
            name=j.get("name"),
            type=j.get("type"),
            parent=j.find("parent").get("link"),
            child=j.find("child").get("link"),
            origin=m,
            lower=None if lo is None else float(lo),
            upper=None if hi is None else float(hi),
            axis=axis / np.linalg.norm(axis),
        )
    return out


def chain(description: str, link: str) -> list[Joint]:
    """The joints from the root down to `link`, in order."""
    by_child = {j.child: j for j in joints(description).values()}
    path = []
    while link in by_child:
        path.append(by_child[link])
        link = by_child[link].parent
    return path[::-1]


def fixed_transform(description: str, ancestor: str, link: str) -> np.ndarray:
    """ancestor_from_link at q = 0, through fixed joints only (raises if a movable joint lies between)."""
    path = chain(description, link)
    names = [j.parent for j in path]
    assert ancestor in names, f"{ancestor} is not above {link} in {description}.urdf"
    m = np.eye(4)
    for j in path[names.index(ancestor) :]:
        assert j.type == "fixed", f"{j.name} ({j.type}) lies between {ancestor} and {link}"
        m = m @ j.origin
    return m


def forward(description: str, link: str, q: dict[str, float]) -> np.ndarray:
    """root_from_link with the movable joints at `q` (absent ones at 0): each joint's origin, then its motion about or
    along its axis, down the chain (the URDF joint model)."""
    m = np.eye(4)
    for j in chain(description, link):
        m = m @ j.origin
        value = q.get(j.name, 0.0)
        if j.type in ("revolute", "continuous"):
            motion = np.eye(4)
            motion[:3, :3] = Rotation.from_rotvec(j.axis * value).as_matrix()
            m = m @ motion
        elif j.type == "prismatic":
            m[:3, 3] += m[:3, :3] @ (j.axis * value)
    return m
