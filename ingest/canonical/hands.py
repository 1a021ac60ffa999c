"""MANO-21 hand keypoints and the canonical hand configuration (wrist frame + 5 fingertips in it).

Keypoints are 21 points in OpenPose/MediaPipe order (`schemas.canonical.MANO21_NAMES`: wrist, then thumb, index,
middle, ring, pinky, each base to tip), in metres. They come either from MANO parameters through smplx
(`ManoHand`, a local model folder converted once with `python -m ingest.canonical.mano_convert`) or from any tracked
skeleton
by an explicit joint map (`keypoints_from_joints`, e.g. `adapters.egodex.MANO21_JOINTS`).

The wrist frame (`wrist_frames_from_keypoints`) is defined from keypoints alone, so every human source gets the same
frame whatever its native joint conventions:
  z (approach) = wrist -> middle1, like a gripper's approach axis;
  y (palmar)   = the palm normal, pointing out of the palm (where grasped objects are), from index1 and pinky1;
  x            = y cross z: towards the little finger on a right hand and towards the thumb on a left hand.
A left hand is thus the mirror image of a right one: mirroring a right hand's keypoints gives a left hand whose
fingertips in its wrist frame differ only by the sign of x.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ingest.canonical.mano_convert import MANOModelError, validate_model
from schemas.canonical import MANO21_NAMES, NUM_KEYPOINTS

Side = Literal["left", "right"]

FINGERTIPS = (4, 8, 12, 16, 20)  # thumb..pinky tips in MANO-21 (OpenPose) order
WRIST, INDEX1, MIDDLE1, PINKY1 = (MANO21_NAMES.index(n) for n in ("wrist", "index1", "middle1", "pinky1"))

# MANO native joints (wrist, index1-3, middle1-3, pinky1-3, ring1-3, thumb1-3) + 5 tips (thumb..pinky) as 16..20,
# reordered to OpenPose (FORMATS.md 6e; manopth `ManoLayer.forward`).
MANO_TO_OPENPOSE = (0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20)

# Fingertip mesh vertices, thumb..pinky. "manopth" (default) is the selection of manopth/manotorch and of the
# 21-keypoint annotations of FreiHAND, HO3D, DexYCB and InterHand-style regressors, so our keypoints match theirs;
# its left hand uses 445 for the middle tip. "smplx" is `smplx.vertex_ids.vertex_ids["mano"]` (SMPL-X extra joints).
# The two differ by a few millimetres at the tips.
TIP_VERTICES: dict[str, dict[str, tuple[int, ...]]] = {
    "manopth": {"right": (745, 317, 444, 556, 673), "left": (745, 317, 445, 556, 673)},
    "smplx": {"right": (744, 320, 443, 554, 671), "left": (744, 320, 443, 554, 671)},
}

_CHUNK = 8192  # frames per torch forward: bounds memory (778 x 3 floats x 16 joint transforms per frame)


def _model_file(model_dir: Path, side: Side) -> Path:
    """The npz of `side` in `model_dir` (or `model_dir/mano`, smplx.create's layout), or `model_dir` itself."""
    model_dir = Path(model_dir)
    name = f"MANO_{side.upper()}"
    if model_dir.suffix == ".pkl":
        raise MANOModelError(
            f"{model_dir}: refusing to unpickle; convert it once: "
            f"python -m ingest.canonical.mano_convert {model_dir} {model_dir.with_suffix('.npz')}"
        )
    if model_dir.is_file():
        return model_dir
    for folder in (model_dir, model_dir / "mano"):
        if (folder / f"{name}.npz").is_file():
            return folder / f"{name}.npz"
    for folder in (model_dir, model_dir / "mano"):
        pkl = folder / f"{name}.pkl"
        if pkl.is_file():
            raise MANOModelError(
                f"{pkl}: only a pickle found; pickles are never loaded here. Convert it once: "
                f"python -m ingest.canonical.mano_convert {pkl} {pkl.with_suffix('.npz')}"
            )
    raise FileNotFoundError(f"no {name}.npz in {model_dir} (or {model_dir / 'mano'})")


def read_model(path: Path | str) -> dict[str, np.ndarray]:
    """The MANO arrays of an npz, read with `allow_pickle=False` (object arrays are refused) and validated."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as e:  # "Object arrays cannot be loaded when allow_pickle=False"
        raise MANOModelError(f"{path}: not a plain-array npz ({e})") from e
    return validate_model(arrays, source=str(path))


class ManoHand:
    """smplx's MANO layer for one side, returning MANO-21 keypoints in OpenPose order (metres)."""

    def __init__(
        self,
        layer: Any,
        side: Side,
        components: np.ndarray | None,
        tip_vertices: Sequence[int],
        path: Path | None = None,
        reduced: bool = False,
    ) -> None:
        self.layer, self.side, self.path, self.reduced = layer, side, path, reduced
        self.components = components  # (k,45) PCA rows, or None for 45-dim axis-angle poses
        self.tip_vertices = tuple(int(i) for i in tip_vertices)
        if len(self.tip_vertices) != 5:
            raise ValueError(f"tip_vertices must name 5 vertices (thumb..pinky), got {self.tip_vertices}")

    @property
    def pose_dim(self) -> int:
        """Width of `hand_pose`: the number of PCA components, or 45 axis-angle values."""
        return 45 if self.components is None else len(self.components)

    @property
    def num_betas(self) -> int:
        return int(self.layer.num_betas)

    @classmethod
    def load(
        cls,
        model_dir: Path,
        side: Side,
        *,
        num_pca_comps: int | None = None,
        flat_hand_mean: bool = False,
        tips: Literal["manopth", "smplx"] | Sequence[int] = "manopth",
        fix_left_shapedirs: bool = True,
        mesh: bool = False,
        dtype: Literal["float32", "float64"] = "float32",
    ) -> ManoHand:
        """From a local folder holding MANO_RIGHT.npz / MANO_LEFT.npz (converted once with
        `python -m ingest.canonical.mano_convert`); refuses .pkl files (never unpickles).

        `num_pca_comps` None: `hand_pose` is 45 axis-angle values; k: k PCA coefficients (projected here, so k = 45
        still means PCA, unlike smplx which then switches to axis-angle). `flat_hand_mean` False adds the model's
        mean pose, as smplx does. `tips` picks the fingertip vertices (see `TIP_VERTICES`) or gives 5 ids.
        `fix_left_shapedirs` repairs the official MANO_LEFT flaw (smplx issue #48: its shape directions' x component
        equals the right one) when MANO_RIGHT.npz sits beside it. `mesh` False (default) skins only the 21 points
        needed (see `reduced_model`, ~20x faster, identical keypoints); True keeps all 778 vertices for `forward`.
        `dtype` float64 computes in float64, but smplx rounds the model arrays to float32 first (~1e-8 m).
        smplx is handed the arrays, never the path, because its own npz reader allows pickles.
        """
        import smplx
        import torch
        from smplx.utils import Struct

        if side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        path = _model_file(model_dir, side)
        arrays = read_model(path)
        right = path.with_name("MANO_RIGHT.npz")
        if side == "left" and fix_left_shapedirs and right.is_file() and path.name == "MANO_LEFT.npz":
            right_x, left_x = read_model(right)["shapedirs"][:, 0], arrays["shapedirs"][:, 0]
            if np.linalg.norm(left_x - right_x) < np.linalg.norm(left_x + right_x):  # a mirror would negate it
                left_x *= -1
        components = None
        if num_pca_comps is not None:
            if not 1 <= num_pca_comps <= len(arrays["hands_components"]):
                raise ValueError(f"num_pca_comps must be in 1..{len(arrays['hands_components'])}, got {num_pca_comps}")
            components = arrays["hands_components"][:num_pca_comps]
        tip_ids = TIP_VERTICES[tips][side] if isinstance(tips, str) else tuple(tips)
        if not mesh:
            arrays = reduced_model(arrays, tip_ids)
        with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a 10-shape-coefficients warning
            layer = smplx.MANO(
                model_path=str(path),
                data_struct=Struct(**arrays),
                is_rhand=side == "right",
                use_pca=False,
                num_pca_comps=45,
                flat_hand_mean=flat_hand_mean,
                create_global_orient=False,
                create_hand_pose=False,
                create_betas=False,
                create_transl=False,
                create_body_pose=False,
                dtype=torch.float64 if dtype == "float64" else torch.float32,
            )
        layer.eval().requires_grad_(False)
        return cls(layer, side, components, tip_ids, path, reduced=not mesh)

    def keypoints(
        self,
        global_orient: np.ndarray,
        hand_pose: np.ndarray,
        betas: np.ndarray | None = None,
        transl: np.ndarray | None = None,
    ) -> np.ndarray:
        """(B,3),(B,45 or PCA),(B,10),(B,3) -> (B,21,3) in OpenPose/MediaPipe order (wrist first), metres.
        Batched through torch, no grad.

        `global_orient` and `hand_pose` are axis-angle (radians); MANO rotates about the wrist joint, so the wrist
        stays put under `global_orient`. `betas` may be one (n,) vector for the whole batch and may have fewer than
        10 values (the rest are 0). NaN in a row gives NaN in that row only.
        """
        return self.forward(global_orient, hand_pose, betas, transl)[1]

    def forward(
        self,
        global_orient: np.ndarray,
        hand_pose: np.ndarray,
        betas: np.ndarray | None = None,
        transl: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like `keypoints`, also returning the (B,V,3) skinned vertices: (vertices, keypoints). V = 778 for a hand
        loaded with `mesh=True`; for a reduced one the vertices are the 16 joint points then the 5 tips."""
        import torch

        go = _rows(global_orient, 3, "global_orient")
        b = len(go)
        pose = _rows(hand_pose, self.pose_dim, "hand_pose", b)
        if self.components is not None:
            pose = pose @ self.components
        shape = np.zeros((b, self.num_betas))
        if betas is not None:
            betas = np.asarray(betas, dtype=np.float64)
            betas = np.broadcast_to(betas, (b, betas.shape[-1])) if betas.ndim == 1 else betas
            if betas.ndim != 2 or len(betas) != b or betas.shape[1] > self.num_betas:
                raise ValueError(f"betas: shape {betas.shape}, expected ({b}, <= {self.num_betas}) or (n,)")
            shape[:, : betas.shape[1]] = betas
        trans = np.zeros((b, 3)) if transl is None else _rows(transl, 3, "transl", b)
        dtype = self.layer.shapedirs.dtype
        verts, keys = np.empty((b, self.layer.v_template.shape[0], 3)), np.empty((b, NUM_KEYPOINTS, 3))
        tips = torch.as_tensor(_REDUCED_TIPS if self.reduced else self.tip_vertices)
        order = torch.as_tensor(MANO_TO_OPENPOSE)
        with torch.inference_mode():
            for s in range(0, b, _CHUNK):
                t = {
                    k: torch.as_tensor(v[s : s + _CHUNK], dtype=dtype)
                    for k, v in (("global_orient", go), ("hand_pose", pose), ("betas", shape), ("transl", trans))
                }
                out = self.layer(**t)
                joints = torch.cat([out.joints, out.vertices[:, tips]], dim=1)[:, order]
                verts[s : s + _CHUNK], keys[s : s + _CHUNK] = out.vertices.numpy(), joints.numpy()
        return verts, keys


_REDUCED_TIPS = tuple(range(16, 21))


def reduced_model(arrays: Mapping[str, np.ndarray], tip_vertices: Sequence[int]) -> dict[str, np.ndarray]:
    """A MANO model whose 21 "vertices" are the 16 rest joints then the 5 tip vertices, giving identical keypoints.

    Rest joints are linear in the shaped template (J = J_regressor (v_template + shapedirs betas)), so the joint
    regressor is folded into 16 virtual vertices and becomes [I | 0]. Skinning then touches 21 points, not 778.
    """
    reg, tips = arrays["J_regressor"], list(tip_vertices)
    n = len(reg)
    return {
        **arrays,
        "v_template": np.concatenate([reg @ arrays["v_template"], arrays["v_template"][tips]]),
        "shapedirs": np.concatenate([np.einsum("jv,vcb->jcb", reg, arrays["shapedirs"]), arrays["shapedirs"][tips]]),
        "posedirs": np.concatenate([np.zeros((n, *arrays["posedirs"].shape[1:])), arrays["posedirs"][tips]]),
        "J_regressor": np.eye(n, n + len(tips)),
        "weights": np.concatenate([np.eye(n), arrays["weights"][tips]]),
        "f": np.array([[n, n + 1, n + 2]]),
    }


def _rows(x: np.ndarray, width: int, name: str, n: int | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != width or (n is not None and len(x) != n):
        want = f"({'B' if n is None else n}, {width})"
        raise ValueError(f"{name}: shape {x.shape}, expected {want}")
    return x


def keypoints_from_joints(joint_positions: Mapping[str, np.ndarray], joint_map: Sequence[str]) -> np.ndarray:
    """Any skeleton -> (T,21,3) by an explicit list of 21 source joint names in MANO-21 order; raises KeyError
    naming missing joints.

    Values are (T,3) positions or (T,4,4) world_from_joint poses (their translation is used).
    """
    if len(joint_map) != NUM_KEYPOINTS:
        raise ValueError(f"joint_map names {len(joint_map)} joints, expected {NUM_KEYPOINTS} (MANO21_NAMES order)")
    missing = [j for j in joint_map if j not in joint_positions]
    if missing:
        raise KeyError(f"missing joint(s) {missing} of the 21-joint map")
    points = []
    for j in joint_map:
        a = np.asarray(joint_positions[j])
        if a.shape[-2:] == (4, 4):
            a = a[..., :3, 3]
        if a.ndim != 2 or a.shape[1] != 3:
            raise ValueError(f"joint {j!r}: shape {np.shape(joint_positions[j])}, expected (T,3) or (T,4,4)")
        points.append(a)
    lengths = {len(p) for p in points}
    if len(lengths) > 1:
        raise ValueError(f"joints of different lengths {sorted(lengths)}")
    return np.stack(points, axis=1).astype(np.float64)


def wrist_frames_from_keypoints(keypoints: np.ndarray, side: Side, eps: float = 1e-6) -> np.ndarray:
    """(T,21,3) -> (T,4,4) world_from_wrist: origin at keypoint 0, axes from the palm (wrist->middle1 as one axis,
    palm normal from index1/pinky1 (ring1) as another), handedness-consistent for left/right. Used when only
    keypoints are known.

    Axes as in the module docstring (z approach, y palmar, x = y cross z). Frames whose palm is degenerate (middle1
    within `eps` metres of the wrist, or the palm normal within `eps` radians of the approach axis or of zero
    length) or holding NaN are NaN, for validity to count.
    """
    k = np.asarray(keypoints, dtype=np.float64)
    if k.ndim != 3 or k.shape[1:] != (NUM_KEYPOINTS, 3):
        raise ValueError(f"keypoints: shape {k.shape}, expected (T, {NUM_KEYPOINTS}, 3)")
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    wrist = k[:, WRIST]
    z = k[:, MIDDLE1] - wrist
    # Right hand: index x pinky (both from the wrist) points out of the palm; a mirror image flips the cross product.
    a, b = k[:, INDEX1] - wrist, k[:, PINKY1] - wrist
    palmar = np.cross(a, b) if side == "right" else np.cross(b, a)
    with np.errstate(invalid="ignore", divide="ignore"):
        zn = np.linalg.norm(z, axis=-1, keepdims=True)
        z = z / zn
        # Scale-free: divide by |a||b| so the length left after removing the z part is a sine.
        palmar = palmar / (np.linalg.norm(a, axis=-1, keepdims=True) * np.linalg.norm(b, axis=-1, keepdims=True))
        y = palmar - np.sum(palmar * z, axis=-1, keepdims=True) * z
        yn = np.linalg.norm(y, axis=-1, keepdims=True)
        y = y / yn
    bad = (zn[:, 0] < eps) | ~(yn[:, 0] >= eps)
    x = np.cross(y, z)
    out = np.zeros((len(k), 4, 4))
    out[:, :3, 0], out[:, :3, 1], out[:, :3, 2], out[:, :3, 3] = x, y, z, wrist
    out[:, 3, 3] = 1.0
    out[bad | ~np.isfinite(out).all(axis=(1, 2))] = np.nan
    return out


def fingertips_in_wrist(keypoints: np.ndarray, world_from_wrist: np.ndarray) -> np.ndarray:
    """(T,21,3),(T,4,4) -> (T,15): the 5 fingertips expressed in the wrist frame, thumb..pinky, xyz each: the
    canonical hand configuration."""
    k = np.asarray(keypoints, dtype=np.float64)
    pose = np.asarray(world_from_wrist, dtype=np.float64)
    if k.ndim != 3 or k.shape[1:] != (NUM_KEYPOINTS, 3) or pose.shape != (len(k), 4, 4):
        raise ValueError(f"keypoints {k.shape} and world_from_wrist {pose.shape}: expected (T,21,3) and (T,4,4)")
    rel = k[:, FINGERTIPS] - pose[:, None, :3, 3]
    local = np.einsum("tji,tkj->tki", pose[:, :3, :3], rel)  # R^T (p - t) per tip
    return local.reshape(len(k), 3 * len(FINGERTIPS))


def hand_motion(keypoints: np.ndarray, fps: float | None = None) -> np.ndarray:
    """(T,21,3) (or (T,...,3)) -> (T,) mean keypoint displacement from the previous frame: metres per frame, or
    m/s when `fps` is given. Frame 0 takes frame 1's value (0 for a single frame); NaN keypoints are skipped, a
    frame with none finite is NaN. For validity: fragments without hand motion."""
    k = np.asarray(keypoints, dtype=np.float64)
    if k.ndim < 2 or k.shape[-1] != 3:
        raise ValueError(f"keypoints: shape {k.shape}, expected (T, ..., 3)")
    t = len(k)
    if t < 2:
        return np.zeros(t)
    step = np.linalg.norm(np.diff(k, axis=0), axis=-1).reshape(t - 1, -1)
    finite = np.isfinite(step)
    with np.errstate(invalid="ignore"):
        speed = np.where(finite, step, 0.0).sum(axis=1) / finite.sum(axis=1)
    speed = np.concatenate([speed[:1], speed])
    return speed * fps if fps is not None else speed
