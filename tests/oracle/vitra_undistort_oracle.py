"""VITRA's own undistortion of one frame, run in a subprocess (never imported by pytest):

    python vitra_undistort_oracle.py ego4d <preprocessing dir> <frame.npy> <intrinsics.npy> <out.npz>
    python vitra_undistort_oracle.py egoexo4d <frame.npy> <params.json> <out.npz>

ego4d runs under an environment with OpenCV's contrib modules (`cv2.omnidir`, `make oracle-vitra`): it imports
`prepare_undistort_maps` from VITRA's `data/preprocessing/undistort_video.py` and remaps the frame as that file's
`process_single_video` does (INTER_CUBIC, BORDER_CONSTANT). egoexo4d runs under the project's venv
(projectaria_tools): the three calls of VITRA's `undistort_video_egoexo4d.py` (`get_camera_calib("camera-rgb")` of
the calibration, `get_linear_camera_calibration(1408, 1408, 412.5)`, `distort_by_calibration(frame, pinhole, calib)`)
on a `CameraCalibration` made from the FISHEYE624 parameter vector of the JSON file (`{"params", "width",
"height"}`); `device_calibration_from_json` is not run, as a full device calibration needs the device's IMU and
class fields that a test has no real file of."""

from __future__ import annotations

import json
import sys

import numpy as np


def ego4d(pre_dir: str, frame_path: str, intr_path: str, out: str) -> None:
    import cv2

    sys.path.insert(0, pre_dir)
    import undistort_video  # VITRA's own file

    frame = np.load(frame_path)
    info = np.load(intr_path, allow_pickle=True).item()
    h, w = frame.shape[:2]
    map1, map2, remap = undistort_video.prepare_undistort_maps(w, h, info)
    if remap:
        result = cv2.remap(frame, map1, map2, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT)
    else:
        result = frame
    maps = {} if map1 is None else {"map1": map1, "map2": map2}
    np.savez(out, frame=result, **maps)


def egoexo4d(frame_path: str, params_path: str, out: str) -> None:
    from projectaria_tools.core import calibration
    from projectaria_tools.core.sophus import SE3

    frame = np.load(frame_path)
    with open(params_path) as f:
        p = json.load(f)
    args = (calibration.FISHEYE624, np.array(p["params"]), SE3.from_matrix(np.eye(4)), p["width"], p["height"])
    calib = calibration.CameraCalibration("camera-rgb", *args, None, np.pi, "")
    pinhole = calibration.get_linear_camera_calibration(1408, 1408, 412.5)
    np.savez(out, frame=calibration.distort_by_calibration(frame, pinhole, calib))


if __name__ == "__main__":
    {"ego4d": ego4d, "egoexo4d": egoexo4d}[sys.argv[1]](*sys.argv[2:])
