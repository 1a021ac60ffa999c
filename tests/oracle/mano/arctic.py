"""ARCTIC's own reading of a sequence's MANO hands (zc-alexfan/arctic@49f3eb4), world frame, 21 joints per hand:

    python run.py arctic <code dir> <raw_seqs/<subject>/<seq>.mano.npy> <model dir> <out.npz>

- `construct_loader` (src/arctic/preprocess_dataset.py:77-171) reads the sequence's four files (.mano, .object,
  .egocam.dist, .smplx) into its `PreprocessDataset` and DataLoader (batches of 320);
- the hand layers as `construct_layers` (common/body_models.py:138-145) builds them: `build_mano_aa(is_rhand,
  create_transl=True, flat_hand=False)`, smplx's `MANO` on `MODEL_DIR` "./data/body_models/mano" (run from a folder
  where that path holds the pickles);
- `forward_gt_world` (src/arctic/processing.py:174-235) per batch: `joints.right`, `joints.left`.

smplx is used as ARCTIC's setup edits it (docs/setup.md:65-72: uncomment `joints = self.vertex_joint_selector(vertices,
joints)` in `MANO.forward`, so `joints` are the 16 MANO joints then smplx's 5 tip vertices, thumb..pinky): the same
edit is made here to smplx 0.1.28's own source of `MANO.forward`, in memory.

Not run: the SMPL-X body and the object layers that `forward_gt_world` also calls (their models are ARCTIC's own
downloads and touch no hand output): stand-ins of the right shapes. processing.py is not imported whole (at import it
reads meta/misc.json and imports cv2, loguru, trimesh): its `forward_gt_world` is taken from its text
(`common.their`), as are the other two files' definitions.
"""

from __future__ import annotations

import inspect
import os
import tempfile
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import smplx
import smplx.body_models
import torch
from common import their

SETUP_EDIT = "# joints = self.vertex_joint_selector(vertices, joints)"  # docs/setup.md:65-72: uncommented


def edited_smplx_mano() -> None:
    """smplx's `MANO.forward` with ARCTIC's documented one-line edit (module docstring)."""
    module = smplx.body_models
    source = textwrap.dedent(inspect.getsource(module.MANO.forward))
    if source.count(SETUP_EDIT) != 1:
        raise RuntimeError(f"smplx {smplx.__file__}: MANO.forward has no line {SETUP_EDIT!r} to uncomment")
    scope = dict(vars(module))
    exec(compile(source.replace(SETUP_EDIT, SETUP_EDIT[2:]), module.__file__, "exec"), scope)
    module.MANO.forward = scope["forward"]


def _object_layer(angles: torch.Tensor, **_: object) -> dict[str, torch.Tensor]:
    n = len(angles)
    return {"v": torch.zeros(n, 1, 3), "v_sub": torch.zeros(n, 1, 3), "parts_sub_ids": torch.zeros(n, 1)}


def _body(global_orient: torch.Tensor, **_: object) -> SimpleNamespace:
    n = len(global_orient)
    return SimpleNamespace(vertices=torch.zeros(n, 1, 3), joints=torch.zeros(n, 1, 3))


def run(code: str, mano_npy: str, model_dir: str, out: str) -> None:
    code_dir = Path(code)
    edited_smplx_mano()
    dataset = code_dir / "src/arctic/preprocess_dataset.py"
    loader = their(dataset, "PreprocessDataset", "construct_loader", np=np, torch=torch)["construct_loader"]
    bodies = their(code_dir / "common/body_models.py", "MODEL_DIR", "build_mano_aa", MANO=smplx.MANO)
    forward_gt_world = their(code_dir / "src/arctic/processing.py", "forward_gt_world", torch=torch)["forward_gt_world"]
    mano_p = str(Path(mano_npy).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        here = os.getcwd()
        os.chdir(tmp)
        try:
            Path(bodies["MODEL_DIR"]).parent.mkdir(parents=True)
            Path(bodies["MODEL_DIR"]).symlink_to(Path(model_dir).resolve(), target_is_directory=True)
            build = bodies["build_mano_aa"]
            layers = {
                "right": build(True, create_transl=True, flat_hand=False),  # construct_layers, body_models.py:140
                "left": build(False, create_transl=True, flat_hand=False),  # :141
                "object": _object_layer,
            }
            joints: dict[str, list[np.ndarray]] = {"right": [], "left": []}
            with torch.no_grad():
                for batch in loader(mano_p):
                    world = forward_gt_world(batch, layers, _body)
                    for side in joints:
                        joints[side].append(world[f"joints.{side}"].numpy())
        finally:
            os.chdir(here)
    np.savez(out, **{side: np.concatenate(j) for side, j in joints.items()})
