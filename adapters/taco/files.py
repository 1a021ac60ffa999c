"""One TACO sequence's files, read without running them and checked into a typed `TacoSequence`.

Layout from the maker (leolyliu/TACO-Instructions@c06f82c): README.md:51-117 ("Data Organization") and the maker's
reader `dataset_utils/project_pose_to_egocentric_view.py:66-118`, each folder `<part>/<triplet>/<sequence>/`:
- `Hand_Poses/`: `{left,right}_hand.pkl`, a pickled dict keyed by frame, read in sorted key order, each
  `{"hand_pose": (48,), "hand_trans": (3,)}` torch tensors (`.detach().cpu().numpy()`,
  dataset_utils/hand_pose_loader.py:40-45); `{left,right}_hand_shape.pkl` `{"hand_shape": (1,10) or (10,)}`
  (`.reshape(10)`, project_pose_to_egocentric_view.py:99-100), zeros when absent (hand_pose_loader.py:10-15).
  The 48 values are 3 global + 45 axis-angle, `hand_trans` in metres (the MANO layer: `schemas.mano`), checked
  against TACO's own `mano_params_to_hand_info`, run: tests/adapters/taco/test_maker_code.py.
- `Object_Poses/`: `tool_<id>.npy` and `target_<id>.npy`, (T,4,4) object-to-world on models in metres (the `<id>_cm.obj`
  models scaled by 0.01, then `v @ R.T + t`, :87-96 and :36-40).
- `Egocentric_Camera_Parameters/`: `egocentric_intrinsic.txt` (3,3) and `egocentric_frame_extrinsic.npy` (T,4,4)
  world-to-camera (:75-76, :112-113), OpenCV axes: the renderer is pytorch3d's with both focal lengths negated and
  `R = extrinsic[:3,:3].T` (dataset_utils/pyt3d_wrapper.py:97-104), which is the OpenCV pinhole.
- `Egocentric_RGB_Videos/.../color.mp4` one frame per pose row (the maker skips a sequence whose video has another
  count, :114-117); `Allocentric_RGB_Videos/.../<serial>.mp4` with `Allocentric_Camera_Parameters/.../calibration.json`
  `{serial: {K, R, T, imgSize}}` world-to-camera (dataset_utils/visualize_world_coordinate_system.py:16-26).

The pickles are read by `adapters.torch_tensors.tensor_loads` (numpy arrays, torch never run, a GPU-saved storage
read as well); a tensor viewing a storage of every frame is read at its offset, the storage's bytes once per file.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from adapters.hostile import bounds
from adapters.pickles import UnsafePickle
from adapters.storage.location import Location
from adapters.torch_tensors import tensor_loads

SIDES = ("left", "right")
Fail = Callable[[str, str, Location], Exception]  # (message, field, file) -> the error to raise


def unpickle(path: Location, fail: Fail, field: str) -> Any:
    try:
        return tensor_loads(bounds.read_bounded(path, None, field))
    except FileNotFoundError as e:
        raise fail(f"missing {path.name}", field, path) from e
    except (UnsafePickle, ValueError, EOFError, OSError, RuntimeError, TypeError, AttributeError) as e:
        raise fail(f"unreadable {path.name}: {type(e).__name__}: {e}", field, path) from e


def as_array(x: Any) -> np.ndarray:
    """A tensor (detached, on the CPU) or array-like as float64."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


@dataclass(frozen=True)
class TacoHand:
    frames: tuple[str, ...]  # the pickle's keys, sorted: frame order
    pose: np.ndarray  # (T,48) global axis-angle + 45 axis-angle, flat mean
    trans: np.ndarray  # (T,3) the wrist joint, metres
    beta: np.ndarray  # (10,)
    beta_from: str  # the shape file, or why zeros


def read_hand(folder: Location, side: str, fail: Fail) -> TacoHand:
    path = folder / f"{side}_hand.pkl"
    d = unpickle(path, fail, f"{side}_hand")
    if not isinstance(d, dict) or not d:
        raise fail(f"a pickled {type(d).__name__} of {len(d) if isinstance(d, dict) else 0}, not frames", side, path)
    keys = sorted(d)
    pose, trans = [], []
    for key in keys:
        frame = d[key]
        try:
            p, t = as_array(frame["hand_pose"]).reshape(-1), as_array(frame["hand_trans"]).reshape(-1)
        except (KeyError, TypeError, ValueError) as e:
            raise fail(f"frame {key!r}: no hand_pose / hand_trans ({type(e).__name__}: {e})", side, path) from e
        if p.shape != (48,) or t.shape != (3,):
            msg = f"frame {key!r}: hand_pose {p.shape}, hand_trans {t.shape}; expected (48,) = 3 global + 45, and (3,)"
            raise fail(msg, f"{side}_hand.hand_pose", path)
        pose.append(p)
        trans.append(t)
    pose_a, trans_a = np.stack(pose), np.stack(trans)
    if not (np.isfinite(pose_a).all() and np.isfinite(trans_a).all()):
        raise fail("non-finite hand_pose or hand_trans", f"{side}_hand", path)
    shape_path = folder / f"{side}_hand_shape.pkl"
    if not shape_path.is_file():  # the maker's read_hand_shape gives zeros (hand_pose_loader.py:10-15)
        return TacoHand(tuple(map(str, keys)), pose_a, trans_a, np.zeros(10), f"no {shape_path.name}: zeros")
    s = unpickle(shape_path, fail, f"{side}_hand_shape")
    try:
        beta = as_array(s["hand_shape"]).reshape(10)
    except (KeyError, TypeError, ValueError) as e:
        raise fail(f"no 10 hand_shape values ({type(e).__name__}: {e})", f"{side}_hand_shape", shape_path) from e
    return TacoHand(tuple(map(str, keys)), pose_a, trans_a, beta, shape_path.name)


def read_npy(path: Location, shape: tuple[int, ...], fail: Fail, field: str) -> np.ndarray:
    """A plain `.npy` (no pickle) of (T, *shape), finite."""
    try:
        a = np.load(io.BytesIO(bounds.read_bounded(path, None, field)), allow_pickle=False)
    except FileNotFoundError as e:
        raise fail(f"missing {path.name}", field, path) from e
    except (ValueError, OSError) as e:
        raise fail(f"unreadable {path.name}: {e}", field, path) from e
    if a.ndim != len(shape) + 1 or a.shape[1:] != shape or not np.isfinite(a).all():
        raise fail(f"shape {a.shape}, expected finite (T, {', '.join(map(str, shape))})", field, path)
    return a.astype(np.float64)


def read_intrinsic(path: Location, fail: Fail) -> np.ndarray:
    try:
        K = np.loadtxt(io.StringIO(bounds.read_bounded(path, None, "intrinsic").decode()))
    except FileNotFoundError as e:
        raise fail(f"missing {path.name}", "egocentric_intrinsic", path) from e
    except (ValueError, OSError, UnicodeDecodeError) as e:
        raise fail(f"unreadable {path.name}: {e}", "egocentric_intrinsic", path) from e
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise fail(f"not a 3x3 pinhole matrix: {K.tolist()}", "egocentric_intrinsic", path)
    return K


@dataclass(frozen=True)
class AllocentricCamera:
    serial: str
    K: np.ndarray
    world_from_camera: np.ndarray  # (4,4)


def read_calibration(path: Location, fail: Fail) -> dict[str, AllocentricCamera]:
    try:
        raw = bounds.load_json(path, "calibration")
        out = {}
        for serial, c in raw.items():
            extr = np.eye(4)
            extr[:3, :3] = np.asarray(c["R"], dtype=np.float64).reshape(3, 3)
            extr[:3, 3] = np.asarray(c["T"], dtype=np.float64).reshape(3)
            K = np.asarray(c["K"], dtype=np.float64).reshape(3, 3)
            out[str(serial)] = AllocentricCamera(str(serial), K, np.linalg.inv(extr))
    except (KeyError, TypeError, ValueError, AttributeError, OSError, np.linalg.LinAlgError) as e:
        raise fail(f"unreadable {path.name}: {type(e).__name__}: {e}", "calibration", path) from e
    return out


def triplet_words(triplet: str) -> tuple[str, str, str] | None:
    """`(action, tool, object)` of a triplet folder such as "(stir, spoon, bowl)" (the maker's examples, README.md:146
    and :165, "(brush, brush, box)": the action first); None when the name is not three comma-separated words."""
    parts = [p.strip() for p in triplet.strip().removeprefix("(").removesuffix(")").split(",")]
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None
