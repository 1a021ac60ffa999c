"""The OakInk2 writer (`adapters.synthetic.oakink2`) lays out what the maker's toolkit reads: the annotation pickle
that plain `pickle.load` opens into the README's keys with torch tensors of its shapes, four cameras' images named by
image frame id, the program files keyed by pairs of intervals."""

from __future__ import annotations

import ast
import json
import pickle
from pathlib import Path

import torch

from adapters.synthetic.oakink2 import CAMERAS, OakInk2SequenceSpec, write_oakink2


def test_the_makers_layout(tmp_path: Path) -> None:
    spec = OakInk2SequenceSpec(frames=12)
    root = write_oakink2(tmp_path, [spec])
    with open(root / "anno_preview" / f"{spec.token}.pkl", "rb") as f:
        d = pickle.load(f)  # the toolkit's own reading
    assert {"cam_def", "frame_id_list", "cam_intr", "cam_extr", "mocap_frame_id_list", "raw_mano"} <= set(d)
    frame = d["raw_mano"][5]
    assert isinstance(frame["rh__pose_coeffs"], torch.Tensor) and tuple(frame["rh__pose_coeffs"].shape) == (1, 16, 4)
    assert tuple(frame["lh__tsl"].shape) == (1, 3) and tuple(frame["lh__betas"].shape) == (1, 10)
    assert d["frame_id_list"] == [0, 4, 8] and d["cam_def"] == CAMERAS
    for serial in CAMERAS:
        assert sorted(p.name for p in (root / "data" / spec.token / serial).iterdir()) == [
            "000000.png",
            "000004.png",
            "000008.png",
        ]
    info = json.loads((root / "program" / "program_info" / f"{spec.token}.json").read_text())
    assert all(isinstance(ast.literal_eval(k), tuple) for k in info)
    targets = json.loads((root / "program" / "task_target.json").read_text())
    assert list(targets) == [spec.token.replace("++", "/")]
