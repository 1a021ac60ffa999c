"""A head-mounted camera and two hands in front of it, for the fixture writers of the hand-object sets (ARCTIC, TACO):
the geometry every such fixture needs so the hand invariants (ahead of the wearer, below the eyes, the left hand on
the left, projecting inside the image) hold when their MANO parameters are evaluated on the test model.

Camera in OpenCV axes (x right, y down, z forward), the image level, pitched 35 degrees down, its heading turning
0.3 rad. Hands in the synthetic MANO hand's axes (`synthetic/hand.py`: fingers +x, thumb +y, back of the hand +z;
MANO_LEFT the mirror image across x): fingers forward, back of the hand up, the right wrist 12 cm right of and 10 cm
under the line of sight at 42 cm, the left one its mirror image, each moving about 5 cm. A K of focal `FOCAL` for a
`WIDTH` x `HEIGHT` image sees both hands whole.
"""

from __future__ import annotations

import numpy as np

from adapters.synthetic.hand import MIRROR, se3

WIDTH, HEIGHT, FOCAL = 320, 240, 250.0
K = np.array([[FOCAL, 0.0, WIDTH / 2], [0.0, FOCAL, HEIGHT / 2], [0.0, 0.0, 1.0]])
# the right hand's axes (fingers, thumb, back) in camera axes: forward, towards the image's middle (-x), up (-y)
RIGHT_IN_CAMERA = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])


def look(forward: np.ndarray, up: np.ndarray) -> np.ndarray:
    """(n,3,3) OpenCV camera axes looking along `forward` (n,3), the image level about the world's `up`."""
    z = forward / np.linalg.norm(forward, axis=-1, keepdims=True)
    y = -up - (z @ -up)[:, None] * z
    y /= np.linalg.norm(y, axis=-1, keepdims=True)
    return np.stack([np.cross(y, z), y, z], axis=-1)


def head_camera(n: int, fps: float, up: np.ndarray, seed: int, eyes: np.ndarray | None = None) -> np.ndarray:
    """(n,4,4) world_from_camera: the eyes near `eyes` (default the origin), pitched 35 degrees down, turning."""
    rng = np.random.default_rng(seed)
    up = np.asarray(up, np.float64)
    t = np.arange(n) / fps
    a = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(up, a)
    yaw = rng.uniform(-1, 1) + 0.3 * np.sin(1.5 * t)
    heading = np.cos(yaw)[:, None] * a + np.sin(yaw)[:, None] * b
    pitch = np.radians(35)
    forward = np.cos(pitch) * heading - np.sin(pitch) * up
    pos = (np.zeros(3) if eyes is None else eyes) + 0.02 * np.sin(t[:, None] * np.array([1.0, 1.3, 0.7]))
    return se3(look(forward, up), pos)


def hand_in_camera(n: int, fps: float, side: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n,3) wrist positions and (n,3,3) rotations of a MANO hand in the camera frame (module docstring)."""
    rng = np.random.default_rng(seed + (side == "left"))
    t = np.arange(n)[:, None] / fps
    wrist = np.array([0.12, 0.10, 0.42]) + 0.05 * np.sin(t * rng.uniform(2, 4, 3) + rng.uniform(0, 6, 3))
    R = RIGHT_IN_CAMERA
    if side == "left":
        wrist, R = wrist * MIRROR, np.diag(MIRROR) @ R @ np.diag(MIRROR)
    return wrist, np.broadcast_to(R, (n, 3, 3)).copy()


def hand_in_world(world_from_camera: np.ndarray, side: str, fps: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n,3) wrist positions and (n,3,3) rotations of a hand in the world of `world_from_camera`."""
    wrist, R = hand_in_camera(len(world_from_camera), fps, side, seed)
    Rw, tw = world_from_camera[:, :3, :3], world_from_camera[:, :3, 3]
    return np.einsum("tij,tj->ti", Rw, wrist) + tw, Rw @ R
