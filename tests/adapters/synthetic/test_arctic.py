"""The ARCTIC writer's layout is the maker's (`construct_loader` reads all four files of a sequence, the images by
`ioi_offset`), and its MANO parameters put the wrists where the head camera sees them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adapters.synthetic.arctic import ArcticSeqSpec, write_arctic
from adapters.synthetic.headcam import HEIGHT, WIDTH, K
from adapters.vitra.files import unpickle_npy


def test_the_layout_and_the_wrists_in_view(tmp_path: Path) -> None:
    data = write_arctic(tmp_path, [ArcticSeqSpec(frames=10, views=(0,), ioi_offset=3)])
    stem = data / "raw_seqs/s01/box_grab_01"
    mano = unpickle_npy(Path(f"{stem}.mano.npy").read_bytes())
    ego = unpickle_npy(Path(f"{stem}.egocam.dist.npy").read_bytes())
    assert np.load(f"{stem}.object.npy").shape == (10, 7) and Path(f"{stem}.smplx.npy").is_file()
    assert mano["right"]["pose"].shape == (10, 45) and mano["right"]["shape"].shape == (10,)
    assert sorted(p.name for p in (data / "images/s01/box_grab_01/0").iterdir())[0] == "00003.jpg"
    assert (data / "meta/misc.json").is_file()
    for side, sign in (("left", -1), ("right", 1)):
        wrist = mano[side]["trans"]  # the rest wrist is at the origin of the tests' model
        cam = np.einsum("tij,tj->ti", ego["R_k_cam_np"], wrist) + ego["T_k_cam_np"][..., 0]
        uv = cam @ K.T
        uv = uv[:, :2] / uv[:, 2:]
        assert (cam[:, 2] > 0.3).all() and (sign * cam[:, 0] > 0).all()
        assert ((uv >= 0) & (uv < [WIDTH, HEIGHT])).all()
