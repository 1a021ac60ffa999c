"""A robot description as a batched forward-kinematics model (pytorch-kinematics underneath, float64 throughout)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np
import pytorch_kinematics as pk
import torch

from ingest.kinematics.description import MOVABLE, Description, DescriptionError, description_path, origin_matrix
from ingest.kinematics.description import read_description as _read

# pytorch-kinematics builds each joint's fixed offset from float32 rpy/xyz (urdf.py `_convert_transform`), which
# leaves ~1e-7 of error per joint; we replace the offsets and axes with float64 ones computed from the same file, and
# check they agree with the library's to float32 precision, so that a change in its frame layout fails loudly here.
_F32_AGREEMENT = 1e-5


class KinematicModel:
    """Forward kinematics of one shipped description.

    `joint_names` are the movable joints (revolute, continuous, prismatic) in depth-first order from the root link,
    children in the order their joints appear in the file: for a serial arm, base to tip, then the gripper joints.
    `lower`/`upper` are the URDF limits (radians or metres; +-inf for continuous joints). Mimic joints (a gripper's
    second finger, a hand's coupled phalanges) are ordinary columns of q; `assemble` fills them from their master.
    """

    def __init__(self, desc: Description) -> None:
        self.description = desc.name
        self.source = "; ".join(desc.sources)
        self.root = desc.root
        self.links: tuple[str, ...] = desc.links
        movable = [j for j in desc.joints if j.type in MOVABLE]
        self.joint_names: tuple[str, ...] = tuple(j.name for j in movable)
        self.joint_types: tuple[str, ...] = tuple(j.type for j in movable)
        self.lower = _frozen(np.array([j.lower for j in movable], dtype=np.float64))
        self.upper = _frozen(np.array([j.upper for j in movable], dtype=np.float64))
        self.mimic: Mapping[str, tuple[str, float, float]] = MappingProxyType(
            {j.name: j.mimic for j in movable if j.mimic is not None}
        )
        self._col = {name: i for i, name in enumerate(self.joint_names)}
        self._chain = _float64_chain(desc)
        pk_order = list(self._chain.get_joint_parameter_names())
        self._perm = None if pk_order == list(self.joint_names) else np.array([self._col[n] for n in pk_order])
        self._frame = {name: int(self._chain.frame_to_idx[name]) for name in self.links}

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
        idx = torch.as_tensor([self._frame_index(name) for name in links], dtype=torch.long)
        if q.shape[0] == 0 or len(links) == 0:
            return np.zeros((q.shape[0], len(links), 4, 4))
        th = torch.from_numpy(np.ascontiguousarray(q if self._perm is None else q[:, self._perm]))
        with torch.inference_mode():
            frames = self._chain.forward_kinematics_tensor(th)  # [frames, N, 4, 4] in the root frame
            out = frames[idx]
            if base is not None and base != self.root:
                out = _rigid_inverse(frames[self._frame_index(base)]).unsqueeze(0) @ out
            return out.permute(1, 0, 2, 3).contiguous().numpy()

    def assemble(self, named: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """[n, dof] joint matrix from per-joint columns of length n.

        Joints not given are 0, except mimic joints not given, which follow their master as the URDF says
        (q = multiplier * q_master + offset). Unknown names raise, naming them and the joints this robot has.
        """
        unknown = sorted(set(named) - set(self._col))
        if unknown:
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

    def _frame_index(self, link: str) -> int:
        try:
            return self._frame[link]
        except KeyError:
            raise KeyError(f"{self.description}: unknown link {link!r}; links: {self.links}") from None


@functools.cache  # lru_cache without a bound: one model per description per process
def load_model(description: str) -> KinematicModel:
    """The model of `schemas/robots/<description>.urdf`, built once per process."""
    return KinematicModel(_read(description_path(description)))


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _rigid_inverse(t: torch.Tensor) -> torch.Tensor:
    """Inverse of [..., 4, 4] rigid transforms: exact transpose of the rotation, no general matrix inverse."""
    rt = t[..., :3, :3].transpose(-1, -2)
    out = torch.zeros_like(t)
    out[..., :3, :3] = rt
    out[..., :3, 3] = -(rt @ t[..., :3, 3:4])[..., 0]
    out[..., 3, 3] = 1.0
    return out


def _float64_chain(desc: Description) -> pk.Chain:
    try:
        chain = pk.build_chain_from_urdf(desc.text.encode("utf-8")).to(dtype=torch.float64)
    except Exception as e:  # the library's own parser: any failure is a bad file to the caller
        raise DescriptionError(f"{desc.path}: pytorch-kinematics cannot build a chain ({type(e).__name__}: {e})") from e
    by_child = {j.child: j for j in desc.joints}
    offsets = chain._static_offsets.clone()
    names = list(chain.get_joint_parameter_names())
    axes = chain.axes.clone()
    for idx, frame in chain.idx_to_frame.items():
        ours = np.eye(4) if frame == desc.root else origin_matrix(by_child[frame])
        if not np.allclose(offsets[idx].numpy(), ours, atol=_F32_AGREEMENT):
            raise DescriptionError(f"{desc.path}: frame {frame!r}: pytorch-kinematics' offset disagrees with the file")
        offsets[idx] = torch.from_numpy(ours)
        spec = by_child.get(frame)
        if spec is not None and spec.type in MOVABLE:
            axis = np.asarray(spec.axis, dtype=np.float64)
            axes[names.index(spec.name)] = torch.from_numpy(axis / np.linalg.norm(axis))
    chain._static_offsets = offsets
    chain.axes = axes
    return chain
