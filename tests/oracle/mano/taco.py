"""TACO's own reading of a sequence's MANO hands (leolyliu/TACO-Instructions@c06f82c), world frame, metres:

    python run.py taco <code dir> <Hand_Poses/<triplet>/<sequence>> <model dir> <out.npz>

per side, the two statements of `process` (dataset_utils/project_pose_to_egocentric_view.py:99-102) that read the
betas (`pickle.load(...)["hand_shape"].reshape(10)`) and call `mano_params_to_hand_info` (dataset_utils/
hand_pose_loader.py:19-76), which builds TACO's vendored manopth `ManoLayer(mano_root=<its folder>/manopth/mano/models,
use_pca=False, ncomps=45, side=side, center_idx=0)` (flat_hand_mean its default True) and returns joints / 1000 +
`hand_trans`: (T,21,3) in manopth's order (OpenPose).

`hand_pose_loader.py` is imported from a copy of TACO's `dataset_utils/` whose `manopth/mano/models/` holds the
pickles, where the maker's layout puts them (the release leaves that folder empty: the model is licensed). `open3d`,
which that file imports at its top for its `__main__` demo only, is an empty stand-in (a ~400 MB wheel, not run).
The device is the function's own argument: "cpu".
"""

from __future__ import annotations

import pickle
import shutil
import sys
import tempfile
import types
from os.path import join
from pathlib import Path

import numpy as np
from common import on_path


def run(code: str, hand_dir: str, model_dir: str, out: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        utils = Path(tmp) / "dataset_utils"
        shutil.copytree(Path(code) / "dataset_utils", utils)
        models = utils / "manopth" / "mano" / "models"
        models.mkdir(parents=True, exist_ok=True)
        for name in ("MANO_RIGHT.pkl", "MANO_LEFT.pkl"):
            shutil.copy(Path(model_dir) / name, models / name)
        sys.modules.setdefault("open3d", types.ModuleType("open3d"))
        with on_path(utils):
            import hand_pose_loader

            joints = {}
            for side in ("right", "left"):
                with open(join(hand_dir, f"{side}_hand_shape.pkl"), "rb") as f:  # :99-100
                    beta = pickle.load(f)["hand_shape"].reshape(10).detach().cpu().numpy()
                _, joints[side] = hand_pose_loader.mano_params_to_hand_info(  # :101-102, the joints kept
                    join(hand_dir, f"{side}_hand.pkl"), mano_beta=beta, side=side, max_cnt=None, device="cpu"
                )
    np.savez(out, **joints)
