"""The HOI4D writer (`adapters.synthetic.hoi4d`) lays out what the maker's instructions and its users' loaders read:
the paths, hand-pose pickles that `pickle.load(f, encoding='latin1')` opens with the README's keys and shapes,
`intrin.npy` as a plain 3x3, an Open3D LOG with one pose per frame, one object pose and the action file per frame."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

from adapters.synthetic.hoi4d import K_1080P, Hoi4dSequenceSpec, write_hoi4d

SEQ = "ZY20210800001/H1/C5/N12/S100/s01/T2"


def test_the_makers_layout(tmp_path: Path) -> None:
    root = write_hoi4d(tmp_path, [Hoi4dSequenceSpec(frames=6, hands={"right": (0, 6), "left": (2, 4)})])
    right = sorted((root / "handpose/refinehandpose_right" / SEQ).glob("*.pickle"))
    left = sorted((root / "handpose/refinehandpose_left" / SEQ).glob("*.pickle"))
    assert [p.name for p in right] == [f"{i}.pickle" for i in range(6)] and [p.name for p in left] == [
        "2.pickle",
        "3.pickle",
    ]
    with open(right[0], "rb") as f:
        d = pickle.load(f, encoding="latin1")  # the README's own reading
    assert {k: np.shape(v) for k, v in d.items()} == {
        "poseCoeff": (48,),
        "beta": (10,),
        "trans": (3,),
        "kps2D": (21, 2),
    }
    assert 0.3 < d["trans"][2] < 0.5  # metres ahead of the camera
    np.testing.assert_array_equal(np.load(root / "camera_params/ZY20210800001/intrin.npy"), K_1080P)
    log = (root / "HOI4D_annotations" / SEQ / "3Dseg/output.log").read_text().splitlines()
    assert len(log) == 6 * 5 and log[5] == "1 1 2"
    assert len(list((root / "HOI4D_annotations" / SEQ / "objpose").glob("*.json"))) == 6
    actions = json.loads((root / "HOI4D_annotations" / SEQ / "action/color.json").read_text())
    assert actions["info"]["duration"] == 6 / 15 and [e["event"] for e in actions["events"]] == ["Reach out", "Pick up"]
    assert (root / "HOI4D_release" / SEQ / "align_rgb/image.mp4").is_file()
