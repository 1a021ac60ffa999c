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
  undistort_video_egoexo4d.py:52-57) is undistorted as it is decoded (`adapters.vitra.undistort`) with the
  calibration VITRA ships for it (`intrinsics/ego4d/{video}.npy`, `intrinsics/egoexo4d/{video}.json`, data.md
  "Camera Intrinsics"); without that calibration it is refused, naming the file missing and VITRA's script.
- EPIC-KITCHENS: `<P>/videos/{video}.MP4` as downloaded (data.md:84-98; human_dataset.py:325), no undistortion.
- Something-Something v2: `{video}.webm` as downloaded (data.md:118-125; human_dataset.py:331).
"""

from __future__ import annotations

from dataclasses import dataclass

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
