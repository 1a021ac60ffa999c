"""The Ego-Exo4D ego-pose writer (`adapters/synthetic/egoexo4d_egopose.py`): its hands pass the maker's own
biomechanical distance limits (EGO4D/ego-exo4d-egopose@2494c0d handpose/data_preparation/utils/utils.py:210-215:
5-80 mm a bone, 60-120 mm for the wrist to the four finger bases), lie ahead of the camera through the written
extrinsics, and every file takes.json and the annotation name is written where the maker's loader looks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from adapters.egoexo4d_egopose.files import JOINT_OF, SIDES
from adapters.synthetic.egoexo4d_egopose import CAMERA, write_egopose

# the maker's parent of joints 1..20 (wrist, then each finger's chain)
PARENT = [0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19]
LONG = {4, 8, 12, 16}  # indices into the 20 distances: wrist -> index_1, middle_1, ring_1, pinky_1


def test_written_hands_pass_the_makers_distance_limits_and_face_the_camera(tmp_path: Path) -> None:
    fx = write_egopose(tmp_path, frames=6)
    for uid, folder in zip(fx.takes, ("annotation", "automatic"), strict=True):
        ann = json.loads((tmp_path / f"annotations/ego_pose/train/hand/{folder}/{uid}.json").read_text())
        cams = json.loads((tmp_path / f"annotations/ego_pose/train/camera_pose/{uid}.json").read_text())[CAMERA]
        assert sorted(ann, key=int) == sorted(cams["camera_extrinsics"], key=int)
        for frame, entries in ann.items():
            joints = entries[0]["annotation3D"]
            extr = np.array(cams["camera_extrinsics"][frame])
            np.testing.assert_allclose(extr[:, :3] @ extr[:, :3].T, np.eye(3), atol=1e-9)
            for side in SIDES:
                if f"{side}_wrist" not in joints:
                    continue
                p = np.array([[joints[f"{side}_{j}"][a] for a in "xyz"] for j in JOINT_OF.values()])
                d = np.linalg.norm(p[1:] - p[PARENT], axis=1)
                for i, dist in enumerate(d):
                    lo, hi = (0.06, 0.12) if i in LONG else (0.005, 0.08)
                    assert lo <= dist <= hi, (side, i, dist)
                cam = p @ extr[:, :3].T + extr[:, 3]
                assert (cam[:, 2] > 0.2).all()


def test_takes_json_names_the_written_video(tmp_path: Path) -> None:
    write_egopose(tmp_path, frames=4)
    takes = json.loads((tmp_path / "takes.json").read_text())
    rel = takes[0]["frame_aligned_videos"][CAMERA]["rgb"]["relative_path"]
    assert (tmp_path / takes[0]["root_dir"] / rel).is_file()
    assert [c["cam_id"] for c in takes[0]["capture"]["cameras"] if c["is_ego"]] == [CAMERA]
