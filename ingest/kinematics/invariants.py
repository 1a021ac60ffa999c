"""What every joint-space robot is held to, shipped (`schemas/robots/joint_space.yaml`) or declared in a job spec
(`schemas.robots.declared`): one copy of each check, which the shipped robots' tests and the job spec's validation
both run.

- `spec_problems`: the spec names joints and links its description has (the base, each arm's joints, its wrist link,
  a gripper joint, a hand's mount), and each arm's joints lie on the chain from the base to its wrist link.
- `reach_problems`: the wrists lie within reach of the base: at the zero pose and at random configurations within the
  joint limits, every wrist is finite and no farther from the base than the sum of the joint offsets on the path
  between them (plus the wrist's own offset): the triangle inequality, which FK of a rigid chain cannot break.
"""

from __future__ import annotations

import numpy as np

from ingest.frames import offset_matrix
from ingest.kinematics.model import KinematicModel
from schemas.robots.joint_space import ArmMap, JointSpaceSpec

Problem = tuple[str, str]  # (the field it is about: "base_link", "<side>.joints", "<side>.link", ...), the cause


def _up(model: KinematicModel, link: str) -> list[str]:
    """`link` and its ancestors up to the root."""
    out = [link]
    while out[-1] in model.parent:
        out.append(model.parent[out[-1]])
    return out


def _path_joints(model: KinematicModel, base: str, link: str) -> list[str]:
    """The child links of the joints on the tree path between `base` and `link` (each joint named by its child)."""
    a, b = _up(model, link), _up(model, base)
    common = next(x for x in a if x in b)
    return a[: a.index(common)] + b[: b.index(common)]


def spec_problems(spec: JointSpaceSpec, model: KinematicModel, *, gripper_columns: bool = False) -> list[Problem]:
    """Names the spec gives that its description lacks (`gripper_columns`: a gripper may be a dataset column that is
    no joint of the description, as a declared robot's may)."""
    links, joints = set(model.links), set(model.joint_names)
    out: list[Problem] = []
    if spec.base_link is not None and spec.base_link not in links:
        out.append(("base_link", f"link {spec.base_link!r} is not in the description; links: {sorted(links)}"))
    for arm in spec.arms:
        if missing := [j.urdf for j in arm.joints if j.urdf not in joints]:
            out.append((f"{arm.side}.joints", f"joint(s) {missing} not in the description; joints: {sorted(joints)}"))
        if arm.link not in links:
            out.append((f"{arm.side}.link", f"link {arm.link!r} is not in the description; links: {sorted(links)}"))
        elif not out:
            base = spec.base_link or model.root
            on_path = set(_path_joints(model, base, arm.link))
            off = [j.urdf for j in arm.joints if model.joint_child.get(j.urdf) not in on_path]
            if off:
                out.append((f"{arm.side}.joints", f"joint(s) {off} do not move {arm.link!r} (not on its chain)"))
        # a gripper recorded only as a percent or a fraction is a dataset column, no joint of the description
        column = arm.gripper is not None and arm.gripper.unit != "joint"
        if arm.gripper is not None and not (gripper_columns or column) and arm.gripper.joint.urdf not in joints:
            out.append((f"{arm.side}.gripper", f"joint {arm.gripper.joint.urdf!r} is not in the description"))
        if arm.hand is not None:
            hand = arm.hand.spec()
            mounts = {m.arm: m.mount_link for m in hand.mounts}
            if spec.description not in mounts:
                why = f"{hand.description} has no mount on {spec.description!r}, only on {sorted(mounts)}"
                out.append((f"{arm.side}.hand", why))
            elif mounts[spec.description] not in links:
                out.append((f"{arm.side}.hand", f"mount link {mounts[spec.description]!r} is not in the description"))
    return out


def reach(model: KinematicModel, base: str, arm: ArmMap) -> float:
    """The farthest the wrist of `arm` can be from `base`: the joint offsets on the path between them, and the
    wrist's offset from its link."""
    path = _path_joints(model, base, arm.link)
    return sum(model.offset[c] for c in path) + float(np.linalg.norm(arm.link_from_wrist.translation))


def reach_problems(spec: JointSpaceSpec, model: KinematicModel, samples: int = 64, seed: int = 0) -> list[Problem]:
    """Wrists beyond reach of the base, or not finite, at the zero pose and `samples` random poses in the limits."""
    lo = np.where(np.isfinite(model.lower), model.lower, -np.pi)
    hi = np.where(np.isfinite(model.upper), model.upper, np.pi)
    rng = np.random.default_rng(seed)
    q = np.vstack([np.clip(np.zeros(model.dof), lo, hi), rng.uniform(lo, hi, size=(samples, model.dof))])
    base = spec.base_link or model.root
    poses = model.forward(q, [a.link for a in spec.arms], base=base)
    out: list[Problem] = []
    for k, arm in enumerate(spec.arms):
        wrist = (poses[:, k] @ offset_matrix(arm.link_from_wrist))[:, :3, 3]
        limit = reach(model, base, arm)
        dist = np.linalg.norm(wrist, axis=1)
        if not np.isfinite(dist).all():
            out.append((f"{arm.side}.link", f"the wrist at {arm.link!r} is not finite at some configurations"))
        elif (far := dist.max()) > limit + 1e-9:
            out.append((f"{arm.side}.link", f"the wrist is {far:.4f} m from {base!r}, beyond its reach {limit:.4f} m"))
    return out
