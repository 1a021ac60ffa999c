"""Batched forward kinematics: every frame of an episode at once, only along the links asked for.

A joint's child frame is T_parent @ S @ J(q), with S the joint's fixed origin and J its motion. For a revolute joint
about unit axis a, Rodrigues gives S_R J_R = S_R + sin(q) S_R K + (1 - cos(q)) S_R K^2 (K the cross-product matrix
of a), so each step is three precomputed 3x3 constants blended per frame and one 3x3 product. Arrays are laid out
[3, 3, N] so that each of those is a handful of vectorised numpy operations over the N frames, float64 throughout.
Only the ancestors of the requested links (and of the base) are evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ingest.kinematics.description import MOVABLE, Description, origin_matrix


@dataclass(frozen=True)
class Step:
    """One joint as the kernel needs it: the origin translation and the rotation constants of its motion."""

    child: str
    parent: str
    offset: np.ndarray  # [3] origin translation in the parent frame
    a0: np.ndarray  # [3, 3] origin rotation S_R
    a1: np.ndarray | None  # [3, 3] S_R K (revolute/continuous), None otherwise
    a2: np.ndarray | None  # [3, 3] S_R K^2
    slide: np.ndarray | None  # [3] S_R a (prismatic), None otherwise
    column: int  # q column of the joint, -1 for fixed


def compile_steps(desc: Description, columns: dict[str, int]) -> dict[str, Step]:
    """Per child link, the constants of the joint that moves it."""
    steps = {}
    for j in desc.joints:
        s = origin_matrix(j)
        rot, off = s[:3, :3], s[:3, 3].copy()
        a1 = a2 = slide = None
        if j.type in MOVABLE:
            axis = np.asarray(j.axis, dtype=np.float64)
            axis = axis / np.linalg.norm(axis)
            if j.type == "prismatic":
                slide = rot @ axis
            else:
                k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
                a1, a2 = rot @ k, rot @ k @ k
        column = columns[j.name] if j.type in MOVABLE else -1
        steps[j.child] = Step(j.child, j.parent, off, rot.copy(), a1, a2, slide, column)
    return steps


def needed(links: Sequence[str], steps: dict[str, Step], order: dict[str, int]) -> list[str]:
    """The requested links and all their ancestors, parents before children."""
    out: set[str] = set()
    for link in links:
        while link not in out:
            out.add(link)
            if link not in steps:  # the root
                break
            link = steps[link].parent
    return sorted(out, key=order.__getitem__)


def poses(q: np.ndarray, frames: list[str], steps: dict[str, Step]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(R [3, 3, N], p [3, N]) in the root frame for each of `frames` (ancestors first) at the N rows of q."""
    n = q.shape[0]
    qt = np.ascontiguousarray(q.T)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for link in frames:
        step = steps.get(link)
        if step is None:  # the root
            out[link] = (np.broadcast_to(np.eye(3)[:, :, None], (3, 3, n)), np.zeros((3, n)))
            continue
        r, p = out[step.parent]
        offset = step.offset[:, None]
        if step.slide is not None:  # prismatic: the child origin slides along S_R a by q
            offset = offset + step.slide[:, None] * qt[step.column]
        p = p + (r * offset[None, :, :]).sum(1)
        if step.a1 is not None:
            angle = qt[step.column]
            local = step.a0[:, :, None] + step.a1[:, :, None] * np.sin(angle)
            local = local + step.a2[:, :, None] * (1 - np.cos(angle))
            r = (r[:, :, None, :] * local[None, :, :, :]).sum(1)
        else:
            r = (r[:, :, None, :] * step.a0[None, :, :, None]).sum(1)
        out[link] = (r, p)
    return out


def to_matrices(r: np.ndarray, p: np.ndarray) -> np.ndarray:
    """[N, 4, 4] homogeneous transforms from R [3, 3, N] and p [3, N]."""
    n = p.shape[1]
    m = np.zeros((n, 4, 4))
    m[:, :3, :3] = np.moveaxis(r, 2, 0)
    m[:, :3, 3] = p.T
    m[:, 3, 3] = 1.0
    return m


def relative(base: tuple[np.ndarray, np.ndarray], link: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """link's pose in base's frame: R_b^T R_l, R_b^T (p_l - p_b); the transpose is exact, no matrix inverse."""
    rb, pb = base
    rl, pl = link
    rbt = np.swapaxes(rb, 0, 1)
    r = (rbt[:, :, None, :] * rl[None, :, :, :]).sum(1)
    p = (rbt * (pl - pb)[None, :, :]).sum(1)
    return r, p
