"""The end effector's pose from a bag's TF tree: the chain of transforms from a base frame to the effector's frame.

`tf2_msgs/TFMessage` on `/tf` (and `/tf_static`, latched, one message) carries `TransformStamped`s, each the pose of
`child_frame_id` in `header.frame_id` (REP 105 / tf2: translation in metres, rotation a quaternion x, y, z, w). An
edge is (parent, child); `chain` finds the path between two frames through the tree, walking an edge backwards where
the path goes child -> parent (the inverse transform). `compose` gives the pose of `frame` in `base` at the times of
the chain's moving edges, from the first time all of them have sent one: each moving edge holds its last transform at
or before each time (zero-order, as tf2's lookup between two samples would interpolate: holding never invents a pose
the tree did not send), a static edge is constant. The chain (frames in order, which edges move) is what the
episode's metadata records.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.poses import se3

Edge = tuple[str, str]


@dataclass
class TfTree:
    moving: dict[Edge, tuple[list[int], list[np.ndarray]]] = field(default_factory=dict)  # edge -> times ns, xyzq
    static: dict[Edge, np.ndarray] = field(default_factory=dict)

    def add(self, parent: str, child: str, t_ns: int, xyzq: np.ndarray, static: bool) -> None:
        edge = (parent.lstrip("/"), child.lstrip("/"))
        if static:
            self.static[edge] = xyzq
        else:
            times, vals = self.moving.setdefault(edge, ([], []))
            times.append(t_ns)
            vals.append(xyzq)

    def chain(self, base: str, frame: str) -> list[tuple[Edge, bool]] | None:
        """The edges from `base` to `frame` with their direction (True: parent -> child), or None if unconnected."""
        adj: dict[str, list[tuple[str, Edge, bool]]] = {}
        for a, b in (*self.moving, *self.static):
            adj.setdefault(a, []).append((b, (a, b), True))
            adj.setdefault(b, []).append((a, (a, b), False))
        paths: dict[str, list[tuple[Edge, bool]]] = {base: []}  # breadth first: the shortest path to each frame
        todo = deque([base])
        while todo:
            n = todo.popleft()
            for m, e, fwd in adj.get(n, []):
                if m not in paths:
                    paths[m] = [*paths[n], (e, fwd)]
                    todo.append(m)
        return paths.get(frame)

    def compose(self, chain: list[tuple[Edge, bool]]) -> tuple[np.ndarray, np.ndarray]:
        """(times ns, (T, 4, 4) base_from_frame) along `chain`, at the union of its moving edges' times from the first
        at which each of them has sent one."""
        moving = [np.asarray(self.moving[e][0], np.int64) for e, _ in chain if e in self.moving]
        times = np.zeros(1, np.int64)
        if moving:  # from the first time every moving edge has sent a transform: none is taken from the future
            times = np.unique(np.concatenate(moving))
            times = times[times >= max(t.min() for t in moving)]
        out = np.broadcast_to(np.eye(4), (len(times), 4, 4)).copy()
        for e, forward in chain:
            if e in self.moving:
                t, v = np.asarray(self.moving[e][0], np.int64), np.stack(self.moving[e][1])
                order = np.argsort(t, kind="stable")
                idx = np.searchsorted(t[order], times, side="right") - 1
                m = matrices(v[order][idx])
            else:
                m = np.broadcast_to(matrices(self.static[e][None])[0], (len(times), 4, 4))
            out = out @ (m if forward else np.linalg.inv(m))
        return times, out


def matrices(xyzq: np.ndarray) -> np.ndarray:
    """(N, 7) translation + quaternion xyzw -> (N, 4, 4)."""
    return se3(Rotation.from_quat(xyzq[:, 3:7]).as_matrix(), xyzq[:, :3])
