"""Camera-motion decoupling: express hand/EEF poses in a frame that does not move with the wearer's head.

A moving egocentric camera (EgoDex's `transforms/camera`, an AgiBot head camera) films hands that are tracked in some
world frame. Expressed per frame in the camera, a hand held still moves whenever the head turns. `decouple` instead
expresses everything in ONE reference frame fixed at the first camera pose (`gravity_aligned_frame`): hand motion
stays hand motion, and the camera trajectory itself is kept, expressed in the same reference frame.

Camera axis conventions: OpenGL cameras (ARKit's camera API) look along -z with +y up and +x right (`OPENGL_FORWARD`);
OpenCV cameras look along +z with +y down (`OPENCV_FORWARD`; EgoDex's `transforms/camera`, `adapters/egodex`).
Which one a pose stream uses is the source's fact, declared by its adapter (`HandSignals.camera_convention`); callers
pass the viewing axis as `forward_axis` (`FORWARD_AXIS[convention]`). A wrong one turns the heading around: hands in
front of the wearer come out behind, mirrored left/right. `as_opencv` re-expresses camera poses in OpenCV axes, the
one convention the canonical camera trajectory is stored in.
"""

from __future__ import annotations

import numpy as np

from adapters.poses import se3
from ingest.frames import compose, se3_inverse

OPENGL_FORWARD = np.array([0.0, 0.0, -1.0])  # ARKit / OpenGL camera: looks along -z, +y up
OPENCV_FORWARD = np.array([0.0, 0.0, 1.0])  # OpenCV camera: looks along +z, +y down
FORWARD_AXIS: dict[str, np.ndarray] = {"opencv": OPENCV_FORWARD, "opengl": OPENGL_FORWARD}
# camera_from_opencv axes per convention: an OpenGL camera's y and z are the OpenCV camera's -y and -z
_FROM_OPENCV: dict[str, np.ndarray] = {"opencv": np.eye(4), "opengl": np.diag([1.0, -1.0, -1.0, 1.0])}

_EPS = 1e-6


def gravity_aligned_frame(
    world_from_camera0: np.ndarray, up_world: np.ndarray | None, forward_axis: np.ndarray = OPENGL_FORWARD
) -> np.ndarray:
    """The reference frame for a moving egocentric camera: origin at the first camera position; with `up_world` (the
    world's up axis, e.g. ARKit +y) the frame is gravity-aligned (z up) with its x axis the camera's forward direction
    projected on the horizontal plane; without it, the first camera frame itself. Returns world_from_ref (4, 4).

    `forward_axis` is the camera's viewing direction in its own frame (ARKit/OpenGL: -z). When the camera looks straight
    up or down, the heading falls back to the camera axis orthogonal to `forward_axis` with the largest horizontal
    component (deterministic; only the heading about z is arbitrary then).
    """
    cam = np.asarray(world_from_camera0, dtype=np.float64)
    if cam.shape != (4, 4):
        raise ValueError(f"world_from_camera0 must be (4, 4), got {cam.shape}")
    if not np.isfinite(cam).all():
        raise ValueError("world_from_camera0 is not finite")
    if up_world is None:
        return cam.copy()
    z = _unit(np.asarray(up_world, dtype=np.float64), "up_world")
    fwd = _unit(np.asarray(forward_axis, dtype=np.float64), "forward_axis")
    R = cam[:3, :3]
    heading = _horizontal(R @ fwd, z)
    if np.linalg.norm(heading) < _EPS:
        axes = [e for e in np.eye(3) if abs(e @ fwd) < 1 - _EPS]  # camera axes orthogonal to the viewing direction
        heading = max((_horizontal(R @ e, z) for e in axes), key=np.linalg.norm)
    x = heading / np.linalg.norm(heading)
    return se3(np.stack([x, np.cross(z, x), z], axis=-1), cam[:3, 3])


def decouple(
    world_from_poses: np.ndarray,
    world_from_camera: np.ndarray,
    up_world: np.ndarray | None = None,
    forward_axis: np.ndarray = OPENGL_FORWARD,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Express (T,4,4) or (T,K,4,4) hand/EEF poses in the reference frame of the first camera pose (gravity-aligned
    when up_world is given), so head motion does not appear as hand motion. Returns (ref_from_poses, ref_from_camera
    trajectory (kept), world_from_ref).

    The reference is the first camera pose that is finite (tracking may start late); NaN poses stay NaN. The result is
    the world trajectory moved by one fixed rigid transform, so deltas between frames are the world deltas rotated.
    """
    poses = _poses(world_from_poses, "world_from_poses")
    cams = _camera_track(world_from_camera, poses)
    finite = np.isfinite(cams).all(axis=(1, 2))
    if not finite.any():
        raise ValueError("no finite camera pose to anchor the reference frame")
    world_from_ref = gravity_aligned_frame(cams[int(np.argmax(finite))], up_world, forward_axis)
    ref_from_world = se3_inverse(world_from_ref)
    return compose(ref_from_world, poses), compose(ref_from_world, cams), world_from_ref


def as_opencv(world_from_camera: np.ndarray, convention: str) -> np.ndarray:
    """(..., 4, 4) camera poses of the given convention ("opencv" or "opengl") as poses of the same physical camera
    in OpenCV axes (x right, y down, looking along +z): the position is kept, the axes are re-labelled."""
    if convention not in _FROM_OPENCV:
        raise ValueError(f"unknown camera convention {convention!r}; known: {sorted(_FROM_OPENCV)}")
    return np.asarray(world_from_camera, dtype=np.float64) @ _FROM_OPENCV[convention]


def _unit(v: np.ndarray, name: str) -> np.ndarray:
    n = float(np.linalg.norm(v)) if v.shape == (3,) else 0.0
    if not np.isfinite(n) or n < _EPS:
        raise ValueError(f"{name} must be a finite non-zero 3-vector, got {v.tolist()}")
    return v / n


def _horizontal(v: np.ndarray, up: np.ndarray) -> np.ndarray:
    return v - (v @ up) * up


def _poses(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim not in (3, 4) or a.shape[-2:] != (4, 4):
        raise ValueError(f"{name} must be (T,4,4) or (T,K,4,4), got {a.shape}")
    return a


def _camera_track(world_from_camera: np.ndarray, poses: np.ndarray) -> np.ndarray:
    cams = np.asarray(world_from_camera, dtype=np.float64)
    if cams.ndim != 3 or cams.shape[-2:] != (4, 4):
        raise ValueError(f"world_from_camera must be (T,4,4), got {cams.shape}")
    if len(cams) != len(poses):
        raise ValueError(f"{len(cams)} camera poses for {len(poses)} pose frames: resample both onto one grid first")
    return cams
