"""Where the raw video of a VITRA episode lies, per dataset, as the datasets' users keep them.

Dataset names are VITRA's episode-file prefixes (microsoft/VITRA@c68b65e:vitra/datasets/human_dataset.py:307-334,
`_resolve_video_path`). Looked for under the root, first match wins (patterns `{video}` = `video_name`, `{p}` = its
participant prefix before the first `_`):
- `videos/{video}.<ext>`: one flat folder of videos, VITRA's `--video_root` (data/data.md:250-262; the examples'
  `data/examples/videos/`).
- Ego4D and EgoExo4D: the undistorted copies VITRA's scripts write, `<save_root>/{video}.mp4`
  (data/preprocessing/utils.py:9-20 `concatenate_ts_files`), read from `Ego4D_undistorted/` / `EgoExo4D_undistorted/`.
  VITRA's labels are on those pinhole videos (data.md:134-136). Without the copy, the distorted original
  (`v2/full_scale/{video}.mp4`, data.md:74-82; `takes/{video}/frame_aligned_videos/<aria>_214-1.mp4`,
  undistort_video_egoexo4d.py:52-57) is undistorted as it is decoded (below) with the
  calibration VITRA ships for it (`intrinsics/ego4d/{video}.npy`, `intrinsics/egoexo4d/{video}.json`, data.md
  "Camera Intrinsics"); without that calibration it is refused, naming the file missing and VITRA's script.
- EPIC-KITCHENS: `<P>/videos/{video}.MP4` as downloaded (data.md:84-98; human_dataset.py:325), no undistortion.
- Something-Something v2: `{video}.webm` as downloaded (data.md:118-125; human_dataset.py:331).

VITRA's undistortion of the fisheye Ego4D and Ego-Exo4D videos, done on the originals as their frames are decoded
(`adapters.undistort`), with the calibrations VITRA ships (VITRA-1M `intrinsics/`, microsoft/VITRA@c68b65e:
data/data.md "Camera Intrinsics"):

- Ego4D, `ego4d/<video>.npy`: a pickled dict {"intrinsics_ori": {"K", "D", "xi"}, "intrinsics_new": {"K"}}: Mei's
  omnidirectional model (`schemas.camera_model.OmnidirCamera`, D = k1 k2 p1 p2) to the pinhole `intrinsics_new.K`
  at the video's own size, OpenCV maps in CV_16SC2, bicubic; a video with `xi` <= 0 is kept as it is
  (data/preprocessing/undistort_video.py `prepare_undistort_maps`, `process_single_video`).
- Ego-Exo4D, `egoexo4d/<take>.json`: the Aria device calibration (the VRS's `calib_json`), its `camera-rgb`
  FISHEYE624 taken in the pixels of the video as the script takes it, to projectaria_tools'
  `get_linear_camera_calibration(1408, 1408, 412.5)` (principal point (1408 - 1) / 2 = 703.5), bilinear, as
  `distort_by_calibration` samples (data/preprocessing/undistort_video_egoexo4d.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from adapters.aria import read_aria_calibration
from adapters.base import reraised
from adapters.pickles import unpickle_npy
from adapters.storage.location import Location
from adapters.undistort import Undistortion
from schemas.camera_model import OmnidirCamera

DATASETS = ("Ego4D", "EgoExo4D", "epic", "somethingsomethingv2")


@dataclass(frozen=True)
class VideoLayout:
    kept: tuple[str, ...]  # patterns of videos read as they are
    distorted: tuple[str, ...] = ()  # patterns of originals VITRA's labels are not on
    undistort: str = ""  # the VITRA script that makes the copy
    calibration: tuple[str, ...] = ()  # patterns of the calibration VITRA's script undistorts the original with


LAYOUTS: dict[str, VideoLayout] = {
    "Ego4D": VideoLayout(
        ("videos/{video}.mp4", "Ego4D_undistorted/{video}.mp4"),
        ("v2/full_scale/{video}.mp4", "Ego4D/v2/full_scale/{video}.mp4"),
        "data/preprocessing/undistort_video.py",
        ("intrinsics/ego4d/{video}.npy", "camera_intrinsics_root/ego4d/{video}.npy"),
    ),
    "EgoExo4D": VideoLayout(
        ("videos/{video}.mp4", "EgoExo4D_undistorted/{video}.mp4"),
        ("takes/{video}/frame_aligned_videos/*_214-1.mp4", "EgoExo4D/takes/{video}/frame_aligned_videos/*_214-1.mp4"),
        "data/preprocessing/undistort_video_egoexo4d.py",
        ("intrinsics/egoexo4d/{video}.json", "camera_intrinsics_root/egoexo4d/{video}.json"),
    ),
    "epic": VideoLayout(
        ("videos/{video}.MP4", "videos/{video}.mp4", "{p}/videos/{video}.MP4", "EPIC-KITCHENS/{p}/videos/{video}.MP4")
    ),
    "somethingsomethingv2": VideoLayout(("videos/{video}.webm", "{video}.webm", "somethingsomethingv2/{video}.webm")),
}  # fmt: skip


def candidates(patterns: tuple[str, ...], video: str) -> list[str]:
    return [p.format(video=video, p=video.split("_", 1)[0]) for p in patterns]


# undistort_video_egoexo4d.py: `calibration.get_linear_camera_calibration(1408, 1408, 412.5)`
EGOEXO_SIDE, EGOEXO_FOCAL = 1408, 412.5


def _matrix(d: Any, key: str, shape: tuple[int, ...]) -> np.ndarray:
    with reraised((KeyError, TypeError, ValueError), lambda e: ValueError(f"field {key!r}: {e!r}")):
        a = np.asarray(d[key], dtype=np.float64)
    if a.size != int(np.prod(shape)) or not np.isfinite(a).all():
        raise ValueError(f"field {key!r}: {a.shape} {a.ravel()[:9].tolist()}, expected {shape} finite")
    return a.reshape(shape)


def ego4d(data: bytes, hw: tuple[int, int]) -> Undistortion | None:
    """The undistortion of VITRA's Ego4D intrinsics file for frames of (height, width) `hw`; None when VITRA keeps
    the video as it is (`xi` <= 0). A ValueError names the field that is missing or malformed."""
    d = unpickle_npy(data)
    if not isinstance(d, dict) or not {"intrinsics_ori", "intrinsics_new"} <= d.keys():
        raise ValueError("not a dict with 'intrinsics_ori' and 'intrinsics_new'")
    ori = d["intrinsics_ori"]
    K, D = _matrix(ori, "K", (3, 3)), _matrix(ori, "D", (4,))
    xi = float(_matrix(ori, "xi", (1,))[0])
    K_new = _matrix(d["intrinsics_new"], "K", (3, 3))
    if K[0, 1] != 0:
        raise ValueError(f"field 'intrinsics_ori.K': skew {K[0, 1]} (the lens model here has none)")
    if xi <= 0:
        return None
    k1, k2, p1, p2 = (float(v) for v in D)
    lens = OmnidirCamera(
        width=hw[1], height=hw[0], fx=K[0, 0], fy=K[1, 1], cx=K[0, 2], cy=K[1, 2], xi=xi, k1=k1, k2=k2, p1=p1, p2=p2
    )
    return Undistortion(lens, K_new, hw, interpolation=cv2.INTER_CUBIC, fixed_point=True)


def egoexo4d(path: Location, hw: tuple[int, int]) -> Undistortion:
    """The undistortion of an Aria device calibration JSON's camera-rgb for frames of (height, width) `hw`."""
    lens = read_aria_calibration(path, "camera-rgb").lens(hw[1], hw[0])
    c = (EGOEXO_SIDE - 1) / 2.0
    K_new = np.array([[EGOEXO_FOCAL, 0.0, c], [0.0, EGOEXO_FOCAL, c], [0.0, 0.0, 1.0]])
    return Undistortion(lens, K_new, (EGOEXO_SIDE, EGOEXO_SIDE), interpolation=cv2.INTER_LINEAR)
