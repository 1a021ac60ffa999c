"""VITRA's own reading of an episode's MANO hands (microsoft/VITRA@c68b65e), world frame, metres:

    python run.py vitra <code dir> <episode .npy> <model dir> <out.npz>

`get_hand_labels` and `process_single_hand_labels` (visualization/visualize_core.py:355-416) on the episode as the
visualizer loads it (`np.load(label_path, allow_pickle=True).item()`, :211), with VITRA's `MANO` (libs/models/
mano_wrapper.py, HaMeR's wrapper of smplx's `MANOLayer`: 16 joints, smplx's 5 tip vertices, OpenPose order) built as
the visualizer builds it, `MANO(model_path=<folder of MANO_RIGHT.pkl>)` (:55): both hands on MANO_RIGHT, the left one
mirrored across x, then `R @ (V - J0) + T`.

That function returns vertices, not joints: it is handed VITRA's MANO with its output's `vertices` replaced by its
`joints` (`JointsAsVertices`), so the same rigid placement lands the 21 joints. It runs on the CPU: it moves its
tensors with `.cuda()`, made the identity here (`common.on_cpu`); visualize_core.py is not imported whole (its module
imports pytorch3d's renderer and cv2): the two functions are taken from its text (`common.their`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from common import on_cpu, on_path, their


class JointsAsVertices:
    """VITRA's MANO whose output carries its joints as the vertices (module docstring)."""

    def __init__(self, mano: torch.nn.Module) -> None:
        self.mano = mano

    def __call__(self, **kwargs: object) -> object:
        out = self.mano(**kwargs)
        out.vertices = out.joints.clone()  # its own memory: the function flips a left hand's vertices and joints apart
        return out


def run(code: str, episode: str, model_dir: str, out: str) -> None:
    with on_path(code):
        from libs.models.mano_wrapper import MANO

        labels = their(
            Path(code) / "visualization/visualize_core.py",
            "get_hand_labels",
            "process_single_hand_labels",
            np=np,
            torch=torch,
            MANO=MANO,
        )
        episode_info = np.load(episode, allow_pickle=True).item()  # visualize_core.py:211
        with on_cpu(), torch.no_grad():
            mano = MANO(model_path=model_dir).cuda()  # :55
            (left, left_mask), (right, right_mask) = labels["get_hand_labels"](episode_info, JointsAsVertices(mano))
    np.savez(out, left=left, right=right, left_mask=left_mask, right_mask=right_mask)
