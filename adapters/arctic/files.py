"""One ARCTIC sequence's raw files (`raw_seqs/<subject>/<seq>.{mano,object,egocam.dist,smplx}.npy`) and its subject's
`meta/misc.json`, read without running them and checked into a typed `ArcticSequence`.

Layout and meanings from the maker (zc-alexfan/arctic@49f3eb4): docs/data/data_doc.md:20-40 (folders) and
:120-145 (fields); the maker's own reader `src/arctic/preprocess_dataset.py:77-160` (`construct_loader`), which loads
all four files of a sequence, each `.npy` but the object's a 0-d object array (`np.load(allow_pickle=True).item()`):
- `.mano.npy`: per side `rot` (T,3) axis-angle global rotation, `pose` (T,45) axis-angle, `trans` (T,3) smplx's
  `transl`, `shape` (10,) repeated over frames by the reader (:92, :98), `fitting_err` (T,); fed to smplx
  `MANO(use_pca=False, flat_hand_mean=False)` per side with `global_orient`, `hand_pose`, `betas`, `transl`
  (common/body_models.py:128-142, src/arctic/processing.py:176-190), metres (the ego camera's `T_k_cam_np` moves
  them into its frame unscaled).
- `.object.npy`: (T,7) float array, articulation (rad), rotation (axis-angle), translation in millimetres (the reader
  divides it by 1000, processing.py:209-215; data_doc.md:143-145). The object is the sequence name's first token
  (preprocess_dataset.py:106).
- `.egocam.dist.npy`: `R_k_cam_np` (T,3,3), `T_k_cam_np` (T,3,1) world-to-egocentric-camera (`world2ego`,
  preprocess_dataset.py:110-119), `intrinsics` (3,3), `dist8` (8,) the lens distortion of the egocentric images
  (processing.py:252-262 distorts points with it for the images; the undistorted projection uses `intrinsics` alone).
- `.smplx.npy`: SMPL-X `global_orient` (T,3) among others; read here for the body's up axis only (`body_up`).
- `meta/misc.json`, per subject: `ioi_offset` (the image index of frame 0, src/mesh_loaders/arctic.py:104-110),
  `world2cam` (8,4,4) and `intris_mat` (8,3,3) of the allocentric views 1..8 (scripts_data/process_seqs.py:39-44).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.hostile import bounds
from adapters.pickles import UnsafePickle, unpickle_npy
from adapters.poses import se3
from adapters.storage.location import Location

SIDES = ("left", "right")
SUFFIXES = {"mano": ".mano.npy", "object": ".object.npy", "egocam": ".egocam.dist.npy", "smplx": ".smplx.npy"}
HAND_SHAPES: dict[str, tuple[int, ...]] = {"rot": (3,), "pose": (45,), "trans": (3,), "fitting_err": ()}
ALLOCENTRIC_VIEWS = 8

Fail = Callable[[str, str, Location], Exception]  # (message, field, file) -> the error to raise


@dataclass(frozen=True)
class ArcticHand:
    rot: np.ndarray  # (T,3) axis-angle, world
    pose: np.ndarray  # (T,45) axis-angle, offsets from MANO's mean pose
    trans: np.ndarray  # (T,3) smplx `transl`, metres
    shape: np.ndarray  # (10,)
    fitting_err: np.ndarray  # (T,)


@dataclass(frozen=True)
class Subject:
    ioi_offset: int
    world2cam: np.ndarray  # (8,4,4) allocentric views 1..8
    intris_mat: np.ndarray  # (8,3,3)


@dataclass(frozen=True)
class ArcticSequence:
    hands: dict[str, ArcticHand]
    object_params: np.ndarray  # (T,7) articulation rad, axis-angle, translation mm
    world2ego: np.ndarray  # (T,4,4)
    K_ego: np.ndarray  # (3,3)
    dist8: np.ndarray  # (8,)
    body_up: np.ndarray  # (3,) unit

    def __len__(self) -> int:
        return len(self.world2ego)


def read_pickled(path: Location, fail: Fail, field: str) -> dict:
    """A 0-d object `.npy` of the maker's, unpickled with numpy's own globals only (`adapters.vitra.files`)."""
    try:
        d = unpickle_npy(bounds.read_bounded(path, None, field))
    except FileNotFoundError as e:
        raise fail(f"missing {path.name}", field, path) from e
    except (UnsafePickle, ValueError, EOFError, OSError) as e:
        raise fail(f"unreadable {path.name}: {e}", field, path) from e
    if not isinstance(d, dict):
        raise fail(f"a pickled {type(d).__name__}, not a dict", field, path)
    return d


def _array(d: dict, key: str, shape: tuple[int, ...], fail: Fail, field: str, path: Location) -> np.ndarray:
    if key not in d:
        raise fail(f"missing {key!r}", field, path)
    a = np.asarray(d[key])
    if a.dtype == object or a.ndim != len(shape) + 1 or a.shape[1:] != shape or not np.isfinite(a).all():
        want = ", ".join(("T", *map(str, shape)))
        raise fail(f"shape {a.shape} ({a.dtype}), expected finite ({want})", field, path)
    return a.astype(np.float64)


def _hand(d: dict, side: str, fail: Fail, path: Location) -> ArcticHand:
    h = d.get(side)
    if not isinstance(h, dict):
        raise fail("missing hand", side, path)
    arrays = {k: _array(h, k, s, fail, f"{side}.{k}", path) for k, s in HAND_SHAPES.items()}
    shape = np.asarray(h.get("shape", np.zeros(0)), dtype=np.float64)
    shape = shape[0] if shape.ndim == 2 and len(shape) else shape  # `frames x 10` in data_doc.md: one per sequence
    if shape.shape != (10,) or not np.isfinite(shape).all():
        raise fail(f"shape {shape.shape}, expected 10 MANO betas", f"{side}.shape", path)
    return ArcticHand(arrays["rot"], arrays["pose"], arrays["trans"], shape, arrays["fitting_err"])


def body_up(global_orient: np.ndarray) -> np.ndarray:
    """The world's up axis as the SMPL-X body's +y (its template's up) turned by `global_orient`, averaged over the
    sequence: ARCTIC's subjects sit or stand at a table (module docstring of `adapters.arctic.adapter`)."""
    up = Rotation.from_rotvec(global_orient).apply([0.0, 1.0, 0.0]).mean(axis=0)
    return up / np.linalg.norm(up)


def read_sequence(stem: Location, fail: Fail) -> ArcticSequence:
    """The four files of `<seq>` beside `stem` (`raw_seqs/<subject>/<seq>`), checked to share one frame count."""
    paths = {k: stem.parent / f"{stem.name}{s}" for k, s in SUFFIXES.items()}
    mano = read_pickled(paths["mano"], fail, "mano")
    hands = {side: _hand(mano, side, fail, paths["mano"]) for side in SIDES}
    ego = read_pickled(paths["egocam"], fail, "egocam")
    R = _array(ego, "R_k_cam_np", (3, 3), fail, "R_k_cam_np", paths["egocam"])
    T = _array(ego, "T_k_cam_np", (3, 1), fail, "T_k_cam_np", paths["egocam"])
    K = np.asarray(ego.get("intrinsics"), dtype=np.float64)
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise fail(f"not a 3x3 pinhole matrix: {K.tolist()}", "intrinsics", paths["egocam"])
    dist8 = np.asarray(ego.get("dist8", np.zeros(8)), dtype=np.float64).reshape(-1)
    world2ego = se3(R, T[..., 0])
    smplx = read_pickled(paths["smplx"], fail, "smplx")
    orient = _array(smplx, "global_orient", (3,), fail, "global_orient", paths["smplx"])
    try:
        data = bounds.read_bounded(paths["object"], None, "object")
        obj = np.load(io.BytesIO(data), allow_pickle=False)
    except FileNotFoundError as e:
        raise fail(f"missing {paths['object'].name}", "object", paths["object"]) from e
    except (ValueError, OSError) as e:
        raise fail(f"unreadable {paths['object'].name}: {e}", "object", paths["object"]) from e
    if obj.ndim != 2 or obj.shape[1] != 7 or not np.isfinite(obj).all():
        raise fail(f"shape {obj.shape}, expected finite (T, 7)", "object", paths["object"])
    n = len(hands["right"].rot)
    counts = {f"{s}.{k}": len(getattr(hands[s], k)) for s in SIDES for k in HAND_SHAPES}
    counts |= {"R_k_cam_np": len(R), "T_k_cam_np": len(T), "object": len(obj), "global_orient": len(orient)}
    files = {"R_k_cam_np": "egocam", "T_k_cam_np": "egocam", "object": "object", "global_orient": "smplx"}
    for field, count in counts.items():
        if count != n:
            raise fail(f"{count} frames where right.rot has {n}", field, paths[files.get(field, "mano")])
    return ArcticSequence(hands, obj.astype(np.float64), world2ego, K, dist8, body_up(orient))


def read_subject(misc: Location, subject: str, fail: Fail) -> Subject:
    """`meta/misc.json`'s entry of `subject`."""
    try:
        entry: Any = bounds.load_json(misc, "misc.json")[subject]
        subj = Subject(
            int(entry["ioi_offset"]),
            np.asarray(entry["world2cam"], dtype=np.float64).reshape(ALLOCENTRIC_VIEWS, 4, 4),
            np.asarray(entry["intris_mat"], dtype=np.float64).reshape(ALLOCENTRIC_VIEWS, 3, 3),
        )
    except FileNotFoundError as e:
        raise fail("missing meta/misc.json (the subjects' image offsets and cameras)", "misc", misc) from e
    except (KeyError, TypeError, ValueError, OSError) as e:
        raise fail(f"no usable entry for subject {subject!r}: {type(e).__name__}: {e}", f"misc.{subject}", misc) from e
    return subj
