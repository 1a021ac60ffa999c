"""VITRA's MANO parameters through our conversion, checked against VITRA's joints (the truth). The real sample's
parameters (15 rotation matrices per hand on MANO_RIGHT, betas, world orientation and wrist) are kept; its joints are
replaced by what VITRA's own recipe gives on the test's MANO model (the licensed one is not here): smplx's
`MANOLayer` fed rotation matrices at identity orientation, HaMeR's tip vertices and OpenPose order, the left hand
mirrored across x, then `R @ (J - J0) + T` (microsoft/VITRA@c68b65e:visualization/visualize_core.py:373-416,
libs/models/mano_wrapper.py). With option `mano_model_dir` our path (rotation matrices -> axis-angle -> a flat-mean
layer, `left_on_right`, `wrist_at` joint) must land on those joints; reading the left hand as a right one must not."""

from __future__ import annotations

import contextlib
import io
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from adapters.pickles import unpickle_npy
from adapters.registry import get_adapter
from ingest.canonical.mano.evaluate import mano_hands
from schemas.mano import ManoConvention
from tests.fixtures.mano import mano_arrays, write_mano_npz
from tests.realdata import realdata

UID = "03cc49c3-a7d1-445b-9a2a-545c4fae6843"
NAME = f"Ego4D_{UID}_ep_example.npy"
HAMER_TIPS = (744, 320, 443, 554, 671)  # smplx `vertex_ids["mano"]`, which HaMeR's wrapper appends
MANO_TO_OPENPOSE = (0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20)  # mano_wrapper.py:18


def _vitra_joints(hand: dict, is_left: bool) -> np.ndarray:
    """VITRA's `process_single_hand_labels` on the test's MANO_RIGHT, with smplx's MANOLayer (rotation matrices)."""
    import smplx
    from smplx.utils import Struct

    with contextlib.redirect_stdout(io.StringIO()):
        layer = smplx.MANOLayer(
            model_path="MANO_RIGHT.npz",
            data_struct=Struct(**mano_arrays("right")),
            is_rhand=True,
            use_pca=False,
            dtype=torch.float64,
        )
    n = len(hand["hand_pose"])
    out = layer(
        betas=torch.as_tensor(np.broadcast_to(hand["beta"], (n, 10)).copy()),
        hand_pose=torch.as_tensor(hand["hand_pose"]),
        global_orient=torch.eye(3, dtype=torch.float64).expand(n, 1, 3, 3),
    )
    joints = torch.cat([out.joints, out.vertices[:, list(HAMER_TIPS)]], dim=1)[:, list(MANO_TO_OPENPOSE)].numpy()
    if is_left:
        joints[..., 0] *= -1
    local = joints - joints[:, :1]
    return np.einsum("tij,tpj->tpi", hand["global_orient_worldspace"], local) + hand["transl_worldspace"][:, None]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real episode with both hands kept and its joints made by VITRA's recipe on the test model."""
    episode = unpickle_npy(realdata(f"vitra_ego4d_example/annotations/{NAME}").read_bytes())
    episode["left"] = {**episode["right"], "kept_frames": np.ones(25, dtype=np.int64)}  # the right's motion, mirrored
    for side in ("left", "right"):
        episode[side]["joints_worldspace"] = _vitra_joints(episode[side], side == "left")
    root = tmp_path_factory.mktemp("vitra")
    (root / "annotations").mkdir()
    np.save(root / "annotations" / NAME, np.array(episode, dtype=object), allow_pickle=True)
    (root / "videos").mkdir()
    shutil.copy(realdata(f"vitra_ego4d_example/videos/{UID}.mp4"), root / "videos")
    write_mano_npz(root / "mano")  # VITRA needs only MANO_RIGHT; MANO_LEFT is there for the wrong reading
    return root


def _mm(note: str) -> float:
    return float(note.split("joints within ")[1].split(" mm")[0])


def test_the_conversion_lands_on_vitras_joints(root: Path) -> None:
    adapter = get_adapter("vitra", {"mano_model_dir": str(root / "mano")})
    (ref,) = adapter.discover(root)
    raw = adapter.read(ref)
    assert raw.hands.hands[0].mano is not None and raw.hands.hands[0].mano.convention.left_on_right
    notes = [n for n in mano_hands(raw).notes if n.startswith("MANO ")]
    assert len(notes) == 2 and all("on 25 frames" in n for n in notes)
    assert max(_mm(n) for n in notes) < 0.01  # within 10 micrometres of VITRA's joints, both hands
    # the left hand's pose read on MANO_LEFT (not VITRA's MANO_RIGHT mirrored) is a different hand: the check says so
    left = raw.hands.hands[0]
    wrong = replace(left.mano, convention=ManoConvention("rotmat", flat_hand_mean=True, wrist_at="joint", tips="smplx"))
    unmirrored = replace(raw, hands=replace(raw.hands, hands={0: replace(left, mano=wrong)}, notes=[]))
    (note,) = mano_hands(unmirrored).notes
    assert _mm(note) > 20.0
