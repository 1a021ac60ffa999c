"""The TACO writer's layout is the maker's (`project_pose_to_egocentric_view.py`'s paths, pickles of torch tensors
keyed by frame), one video frame per pose row, and its wrists where the egocentric camera sees them."""

from __future__ import annotations

import pickle
from pathlib import Path

import av
import numpy as np

from adapters.synthetic.headcam import HEIGHT, WIDTH
from adapters.synthetic.taco import TacoSeqSpec, write_taco


def test_the_layout_and_the_wrists_in_view(tmp_path: Path) -> None:
    root = write_taco(tmp_path, [TacoSeqSpec(frames=12)])
    rel = Path("(stir, spoon, bowl)/20231105_019")
    hands = root / "Hand_Poses" / rel
    frames = pickle.loads((hands / "right_hand.pkl").read_bytes())
    assert sorted(frames)[:2] == ["00000", "00001"] and frames["00001"]["hand_pose"].storage_offset() == 48
    assert pickle.loads((hands / "left_hand_shape.pkl").read_bytes())["hand_shape"].shape == (1, 10)
    assert sorted(p.name for p in (root / "Object_Poses" / rel).iterdir()) == ["target_117.npy", "tool_042.npy"]
    params = root / "Egocentric_Camera_Parameters" / rel
    K = np.loadtxt(params / "egocentric_intrinsic.txt")
    world2cam = np.load(params / "egocentric_frame_extrinsic.npy")
    with av.open(str(root / "Egocentric_RGB_Videos" / rel / "color.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 12
    trans = np.stack([f["hand_trans"].numpy() for _, f in sorted(frames.items())])
    cam = np.einsum("tij,tj->ti", world2cam[:, :3, :3], trans) + world2cam[:, :3, 3]
    uv = cam @ K.T
    assert (cam[:, 2] > 0.3).all() and (cam[:, 0] > 0).all()  # the right wrist ahead, on the right
    assert ((uv[:, :2] / uv[:, 2:] >= 0) & (uv[:, :2] / uv[:, 2:] < [WIDTH, HEIGHT])).all()
    assert (root / "Allocentric_Camera_Parameters" / rel / "calibration.json").is_file()
