"""The MANO hand model evaluated through smplx: MANO parameters to the 21 keypoints in OpenPose/MediaPipe order
(`schemas.canonical.MANO21_NAMES`) and, on request, the 778-vertex mesh, from a local folder of `.npz` files converted
once from the licensed pickles (`python -m ingest.canonical.mano.convert`); nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ingest.canonical.hands import Side
from ingest.canonical.mano.convert import MANOModelError, validate_model
from schemas.canonical import NUM_KEYPOINTS

# MANO native joints (wrist, index1-3, middle1-3, pinky1-3, ring1-3, thumb1-3) + 5 tips (thumb..pinky) as 16..20,
# reordered to OpenPose (manopth `ManoLayer.forward`).
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
            f"python -m ingest.canonical.mano.convert {model_dir} {model_dir.with_suffix('.npz')}"
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
                f"python -m ingest.canonical.mano.convert {pkl} {pkl.with_suffix('.npz')}"
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
        self, layer: Any, side: Side, tip_vertices: Sequence[int], path: Path | None = None, reduced: bool = False
    ) -> None:
        self.layer, self.side, self.path, self.reduced = layer, side, path, reduced
        # the model's whole PCA basis (45,45) and mean pose (45,), for `ingest.canonical.mano.evaluate`
        self.basis: tuple[np.ndarray, np.ndarray] = (np.eye(45), np.zeros(45))
        self.tip_vertices = tuple(int(i) for i in tip_vertices)
        if len(self.tip_vertices) != 5:
            raise ValueError(f"tip_vertices must name 5 vertices (thumb..pinky), got {self.tip_vertices}")

    @property
    def num_betas(self) -> int:
        return int(self.layer.num_betas)

    @classmethod
    def load(
        cls,
        model_dir: Path,
        side: Side,
        *,
        flat_hand_mean: bool = False,
        tips: Literal["manopth", "smplx"] | Sequence[int] = "manopth",
        fix_left_shapedirs: bool = True,
        mesh: bool = False,
        dtype: Literal["float32", "float64"] = "float32",
    ) -> ManoHand:
        """From a local folder holding MANO_RIGHT.npz / MANO_LEFT.npz (converted once with
        `python -m ingest.canonical.mano.convert`); refuses .pkl files (never unpickles).

        `hand_pose` is 45 axis-angle values (a PCA pose is projected by `evaluate.articulation`). `flat_hand_mean`
        False adds the model's mean pose, as smplx does. `tips` picks the fingertip vertices (see `TIP_VERTICES`) or
        gives 5 ids.
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
        hand = cls(layer, side, tip_ids, path, reduced=not mesh)
        hand.basis = (arrays["hands_components"], arrays["hands_mean"])
        return hand

    def keypoints(
        self,
        global_orient: np.ndarray,
        hand_pose: np.ndarray,
        betas: np.ndarray | None = None,
        transl: np.ndarray | None = None,
    ) -> np.ndarray:
        """(B,3),(B,45),(B,10),(B,3) -> (B,21,3) in OpenPose/MediaPipe order (wrist first), metres.
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
        pose = _rows(hand_pose, 45, "hand_pose", b)
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
