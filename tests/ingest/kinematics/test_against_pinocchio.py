"""Every shipped description against an independent implementation: pinocchio (C++, its own URDF parser, urdfdom)
loads the same file; `load_model`'s FK (MuJoCo, on the model engine.py builds from our parse) and pinocchio's must
agree on every link to 1e-6 m and 1e-6 rad at random configurations within the limits. Mimic joints are free
columns on both sides (pinocchio builds them as independent joints by default), so a wrong axis or origin anywhere in
the tree shows up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ingest.kinematics import load_model, robots_dir
from tests.needs import tool_missing

DESCRIPTIONS = sorted(p.stem for p in robots_dir().glob("*.urdf"))
N = 64


def _pinocchio():
    try:
        import pinocchio
    except ImportError:
        tool_missing("pinocchio (pip package `pin`)", "the independent FK these tests compare against; pip install pin")
    return pinocchio


def pinocchio_fk(path: Path, joint_names: tuple[str, ...], q: np.ndarray, links: tuple[str, ...]) -> np.ndarray:
    """[N, links, 4, 4] from pinocchio, one configuration at a time, q columns matched to its joints by name."""
    pin = _pinocchio()
    model = pin.buildModelFromXML(path.read_text())
    data = model.createData()
    col = {name: i for i, name in enumerate(joint_names)}
    slots = []
    for jid in range(1, model.njoints):
        name, joint = model.names[jid], model.joints[jid]
        slots.append((col[name], joint.idx_q, joint.nq))
    assert len(slots) == len(joint_names), (model.names, joint_names)
    frame_ids = [model.getFrameId(link, pin.FrameType.BODY) for link in links]
    missing = [link for link, f in zip(links, frame_ids, strict=True) if f >= model.nframes]
    assert not missing, f"pinocchio has no body frame for {missing}"
    out = np.empty((len(q), len(links), 4, 4))
    for i, row in enumerate(q):
        qp = pin.neutral(model)
        for c, iq, nq in slots:
            qp[iq : iq + nq] = row[c] if nq == 1 else (np.cos(row[c]), np.sin(row[c]))  # continuous: (cos, sin)
        pin.framesForwardKinematics(model, data, qp)
        for k, f in enumerate(frame_ids):
            out[i, k] = data.oMf[f].homogeneous
    return out


def random_q(lower: np.ndarray, upper: np.ndarray, n: int, seed: int) -> np.ndarray:
    lo, hi = np.where(np.isfinite(lower), lower, -np.pi), np.where(np.isfinite(upper), upper, np.pi)
    return np.random.default_rng(seed).uniform(lo, hi, size=(n, len(lo)))


@pytest.mark.parametrize("name", DESCRIPTIONS)
def test_fk_agrees_with_pinocchio_on_every_link(name: str) -> None:
    m = load_model(name)
    q = random_q(m.lower, m.upper, N, seed=sum(map(ord, name)))
    ours = m.forward(q, m.links)
    theirs = pinocchio_fk(robots_dir() / f"{name}.urdf", m.joint_names, q, m.links)
    pos_err = np.abs(ours[..., :3, 3] - theirs[..., :3, 3]).max()
    rel = np.swapaxes(theirs[..., :3, :3], -1, -2) @ ours[..., :3, :3]
    rot_err = Rotation.from_matrix(rel.reshape(-1, 3, 3)).magnitude().max()
    assert pos_err < 1e-6, f"{name}: position differs from pinocchio by {pos_err:.3g} m"
    assert rot_err < 1e-6, f"{name}: orientation differs from pinocchio by {rot_err:.3g} rad"
    # the check is not vacuous: the configurations move links away from their zero poses
    zero = m.forward(np.zeros((1, m.dof)), m.links)
    assert np.abs(ours[..., :3, 3] - zero[..., :3, 3]).max() > 1e-2
