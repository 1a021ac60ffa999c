"""VITRA-1M (microsoft/VITRA): reconstructed MANO hands, camera poses and per-hand language for episodes of Ego4D,
EPIC-KITCHENS, Ego-Exo4D and Something-Something v2, one pickled `.npy` per episode joined to the raw video.

| native | canonical | unit, frame |
| --- | --- | --- |
| raw video, frames `video_decode_frame` | camera `camera` -> `Camera.head`, intrinsics scaled to it | RGB, video fps |
| `extrinsics` (T,4,4) world-to-camera | `camera_poses["camera"]`, its inverse, OpenCV axes | `se3_4x4`, `vitra_world` |
| `<side>.joints_worldspace` (T,21,3), NaN where not kept | `states["joints/<side>"]`, the hand's keypoints | m |
| `<side>.transl_worldspace`, `global_orient_worldspace` | `states["wrist/<side>"]` (T,4,4), if ever kept | `se3_4x4` |
| `<side>.kept_frames` | `states["kept/<side>"]` | 0/1 |
| `<side>.hand_pose`, `beta` | `HandTrack.mano` with option `mano_model_dir` (checked against the joints) | rotmat |
| `text.<side>`, `text_rephrase.<side>` | `Language` per segment (`anno_type` first); `annotation` | [start, end) |

Every stream is at the video's rate, one row per `video_decode_frame` entry.

Conventions (files.py and this module cite the maker's code): extrinsics world-to-camera in OpenCV axes (the camera
frame the maker projects `joints_camspace` with `K`); intrinsics for a 2cx x 2cy video, scaled per axis to the video
read as VITRA's `compute_new_intrinsics_resize` does (microsoft/VITRA@c68b65e:vitra/datasets/dataset_utils.py:194-227:
the real sample's 480x368 mp4 of a 1440x1080 labelling is stretched, not padded: its bottom rows are picture);
frame times `(video_decode_frame - first) / fps` of the video's own rate. The world frame comes from VITRA's SLAM
and declares no up axis: up is the camera's image-up (`adapters.poses.image_up`, an assumption). The keypoints are
VITRA's joints (the truth). VITRA episodes are annotated action segments, often under 1 s: kept whole however short
(`RawEpisode.keep_short`). Embodiment `human`, tier `high`.

Where the raw video of a VITRA episode lies, per dataset, as the datasets' users keep them.

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

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from pydantic import Field

from adapters.aria import read_aria_calibration
from adapters.base import (
    AdapterError,
    AdapterOptions,
    CameraSource,
    EpisodeRef,
    HandSignals,
    HandTrack,
    Language,
    ManoParams,
    RawEpisode,
    Stream,
    reraised,
)
from adapters.cameras import VideoClipCamera, decoding, stream_fps
from adapters.hand_reading import VIDEO_ERRORS, HandSource, Reading, human_episode
from adapters.hostile import bounds
from adapters.pickles import UnsafePickle, unpickle_npy
from adapters.poses import image_up, se3
from adapters.storage.location import Location
from adapters.undistort import UndistortedCamera, Undistortion
from adapters.vitra.files import SIDES, VitraEpisode, vitra_episode
from schemas.camera_model import OmnidirCamera
from schemas.canonical import MANO21_NAMES, Camera, scale_intrinsics
from schemas.corpus import SourceAnnotation
from schemas.mano import MAKERS
from schemas.settings import limit

DATASETS = ("Ego4D", "EgoExo4D", "epic", "somethingsomethingv2")


@dataclasses.dataclass(frozen=True)
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


WORLD = "vitra_world"
CAMERA = "camera"
EPISODE_FILE = re.compile(rf"^({'|'.join(DATASETS)})_(.+)_ep_([^_]+)\.npy$")
KEEP_SHORT = (
    "VITRA episodes are annotated action segments (microsoft/VITRA data/data.md), often shorter than 1 s:"
    " kept whole, validity's min_length_frames lowered to 1 for them"
)


class VitraAnnotation(SourceAnnotation):
    """VITRA's own annotation of the episode, kept in its lineage."""

    kind: str = "vitra"
    dataset: str
    video_name: str
    video_decode_frame: tuple[int, int] = Field(description="first and last raw-video frame")
    anno_type: str = Field(description="the hand whose action the episode was cut for")
    text: dict[str, list[tuple[str, int, int]]] = Field(description="per hand: (text, start, end) over episode frames")
    text_rephrase: dict[str, list[tuple[list[str], int, int]]]
    kept_frames: dict[str, int] = Field(description="per hand: frames with a valid reconstruction")
    stats: dict[str, float] = Field(description="avg_speed, total_rotvec_degree, total_transl_dist as VITRA gives them")
    intrinsics: list[list[float]] = Field(description="VITRA's pinhole K, for a 2cx x 2cy undistorted video")
    intrinsics_scale: tuple[float, float] = Field(description="x, y scale of VITRA's intrinsics to the video read")
    video_size: tuple[int, int] = Field(description="width, height of the video read (its K is `camera.intrinsics`)")
    keep_short: str = Field(KEEP_SHORT, description="why the episode is kept however short (`RawEpisode.keep_short`)")


class VitraOptions(AdapterOptions):
    mano_model_dir: Path | None = Field(
        None, description="folder with MANO_RIGHT.npz: the MANO parameters are evaluated and checked against the joints"
    )


class VitraAdapter(HandSource[VitraOptions]):
    name: ClassVar[str] = "vitra"
    camera_names: ClassVar[tuple[str, ...] | None] = (CAMERA,)
    expects: ClassVar[str] = (
        "<dataset>_<video>_ep_<id>.npy episode files (VITRA-1M Metadata/<dataset>/episodic_annotations/) under the"
        " root, with the raw videos (videos/<video>.mp4, or each dataset's own layout)"
    )

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        npys = sorted((p.name, p) for p in root.rglob("*.npy"))
        others = [p for name, p in npys if not EPISODE_FILE.match(name)]
        if others:  # VITRA's intrinsics (<video>.npy) or a dataset it does not name: said, never read
            msg = (
                f"{len(others)} .npy file(s) not named <dataset>_<video>_ep_<id>.npy with a dataset of {DATASETS}"
                f" (e.g. {others[0].relative_to(root).as_posix()}): not read as episodes"
            )
            self.note("files_not_read", msg, root=root, path=others[0])
        return (self._ref(root, name, npy) for name, npy in npys if EPISODE_FILE.match(name))

    def _ref(self, root: Location, name: str, npy: Location) -> EpisodeRef:
        m = EPISODE_FILE.match(name)
        assert m is not None
        dataset, video, raw_id = m.group(1), m.group(2), name[: -len(".npy")]
        error, paths = None, [str(npy)]
        try:
            paths += [str(p) for p in self._video(root, dataset, video, raw_id)]
        except AdapterError as e:
            error = e
        return self.new_ref(raw_id, paths, subset=dataset, locator={"dataset": dataset, "video": video}, error=error)

    def _video(self, root: Location, dataset: str, video: str, ep: str) -> tuple[Location, ...]:
        """The video read as it is, else the distorted original and its calibration."""
        layout = LAYOUTS[dataset]
        for rel in candidates(layout.kept, video):
            if (root / rel).is_file():
                return (root / rel,)
        for rel in candidates(layout.distorted, video):
            found = sorted(root.glob(rel))
            if not found:
                continue
            for cal in candidates(layout.calibration, video):
                if (root / cal).is_file():
                    return found[0], root / cal
            msg = (
                f"only the distorted original {found[0]} is here and no calibration to undistort it with: looked for"
                f" {' and '.join(candidates(layout.calibration, video))} (VITRA-1M intrinsics/, microsoft/VITRA"
                f" data/data.md 'Camera Intrinsics', as its {layout.undistort} reads them); or put the undistorted"
                f" copy that script writes at {candidates(layout.kept, video)[-1]}"
            )
            raise self.error(msg, file=found[0], episode=ep, field="video")
        where = ", ".join(candidates(layout.kept, video))
        raise self.error(f"no video {video!r} (looked for {where})", file=root, episode=ep, field="video")

    def read(self, ref: EpisodeRef) -> RawEpisode:
        npy, video = self.file(ref.paths[0]), self.file(ref.paths[1])
        reading = Reading.of(self, ref, npy)

        def parse(data: bytes) -> VitraEpisode:
            return vitra_episode(unpickle_npy(data), reading.fail)

        episode = reading.parsed(npy, "episode", parse, named="episode file")
        calibration = self.file(ref.paths[2]) if len(ref.paths) > 2 else None
        camera, fps = self._camera(video, episode, reading, calibration, ref.subset)
        ts = (episode.frames - episode.frames[0]) / fps
        world_from_camera = np.linalg.inv(episode.extrinsics)
        states: dict[str, Stream] = {}
        sig = HandSignals(
            frame=WORLD,
            apply_offset=False,
            camera=Stream(ts, world_from_camera, unit="se3_4x4", frame=WORLD),
            camera_convention="opencv",
            up_world=image_up(world_from_camera),
            notes=[KEEP_SHORT],
        )
        for hand, side in enumerate(SIDES):
            h = episode.hands[side]
            wrist = se3(h.orient, h.wrist)
            states[f"kept/{side}"] = Stream(ts, h.kept.astype(np.float64), unit="0..1")
            if not h.kept.any():  # its arrays hold placeholders (the camera's position): no native of them
                sig.notes.append(f"{side} hand: kept_frames all 0, no valid reconstruction in the episode: absent")
                continue
            # VITRA's values where `kept/<side>` is 0 are placeholders; natives hold no NaN (the behaviour QA)
            states[f"wrist/{side}"] = Stream(ts, wrist, unit="se3_4x4", frame=WORLD)
            joints = np.where(h.kept[:, None, None], h.joints, np.nan)
            kp = states[f"joints/{side}"] = Stream(ts, joints, names=MANO21_NAMES, unit="m", frame=WORLD)
            sig.hands[hand] = HandTrack(keypoints=kp, mano=self._mano(states[f"wrist/{side}"], h.pose, h.beta, side))
        sig.native_state_keys = [k for k in states if not k.startswith("joints/")]  # the joints are the keypoints
        dataset = ref.subset
        return human_episode(
            ref,
            fps,
            states=states,
            cameras={CAMERA: camera} if self.options.cameras is None or CAMERA in self.options.cameras else {},
            camera_poses={CAMERA: sig.camera},  # type: ignore[dict-item]
            language=_language(episode, fps),
            metadata={"dataset": dataset, "video_name": episode.video_name, "video_frames": len(camera)},
            hands=sig,
            annotation=_annotation(episode, dataset, camera),
            keep_short=KEEP_SHORT,
        )

    def _mano(self, wrist: Stream, pose: np.ndarray, beta: np.ndarray, side: str) -> ManoParams | None:
        if self.options.mano_model_dir is None:
            return None
        conv = dataclasses.replace(MAKERS["vitra"], left_on_right=side == "left")  # both hands on MANO_RIGHT
        return ManoParams(wrist, Stream(wrist.timestamps, pose), beta, str(self.options.mano_model_dir), conv)

    def _camera(
        self, video: Location, episode: VitraEpisode, reading: Reading, calibration: Location | None, dataset: str
    ) -> tuple[CameraSource, float]:
        first, last = int(episode.frames[0]), int(episode.frames[-1])
        cam: CameraSource
        # opened once: its header gives the rate, the window is read from it
        with reading.unreadable("video", "video", video, VIDEO_ERRORS), decoding(video) as (c, s):
            if not (fps := stream_fps(s)):
                raise ValueError("the video stream declares no frame rate")
            start, end, tol = first / fps, (last + 1) / fps, 0.5 / fps
            cam = VideoClipCamera(video, CAMERA, Camera.head, start, end, tolerance_s=tol, opened=(c, s))
        if calibration is not None:
            cam = self._undistorted(cam, calibration, dataset, reading)
        K = episode.intrinsics
        cam.intrinsics = scale_intrinsics(K, (2 * K[1, 2], 2 * K[0, 2]), (cam.height, cam.width))
        if len(cam) < last - first + 1:
            msg = f"video has {len(cam)} frames in {first}..{last} (video_decode_frame), expected {last - first + 1}"
            raise reading.fail(msg, "video_decode_frame", video)
        return cam, fps

    def _undistorted(self, cam: VideoClipCamera, calibration: Location, dataset: str, reading: Reading) -> CameraSource:
        """The original's frames undistorted as VITRA's script for `dataset` would (`ego4d`, `egoexo4d`)."""
        hw = (cam.height, cam.width)
        with reading.unreadable("calibration", "intrinsics", calibration, (UnsafePickle, ValueError, EOFError)):
            if dataset == "Ego4D":
                how = ego4d(bounds.read_bounded(calibration, limit("SIDECAR_BYTES"), "intrinsics"), hw)
            else:
                how = egoexo4d(calibration, hw)
        return cam if how is None else UndistortedCamera(cam, how)


def _language(episode: VitraEpisode, fps: float) -> list[Language]:
    """Each hand's segments over their frames (end exclusive), the `anno_type` hand's first; empty ranges left out
    (they stay in the annotation)."""
    n = len(episode.frames)
    order = sorted(SIDES, key=lambda s: s != episode.anno_type)
    out = []
    for side in order:
        for seg in episode.hands[side].text:
            start, end = max(seg.start, 0), min(seg.end, n)
            if end > start and seg.texts and seg.texts[0]:
                t0, t1 = (
                    (episode.frames[start] - episode.frames[0]) / fps,
                    (episode.frames[end - 1] - episode.frames[0]) / fps,
                )
                out.append(Language(seg.texts[0], "instruction", float(t0), float(t1)))
    return out


def _annotation(episode: VitraEpisode, dataset: str, camera: CameraSource) -> VitraAnnotation:
    K = episode.intrinsics
    return VitraAnnotation(
        dataset=dataset,
        video_name=episode.video_name,
        video_decode_frame=(int(episode.frames[0]), int(episode.frames[-1])),
        anno_type=episode.anno_type,
        text={s: [(g.texts[0] if g.texts else "", g.start, g.end) for g in episode.hands[s].text] for s in SIDES},
        text_rephrase={s: [(list(g.texts), g.start, g.end) for g in episode.hands[s].rephrase] for s in SIDES},
        kept_frames={s: int(episode.hands[s].kept.sum()) for s in SIDES},
        stats=episode.stats,
        intrinsics=K.tolist(),
        intrinsics_scale=(camera.width / (2 * K[0, 2]), camera.height / (2 * K[1, 2])),
        video_size=(camera.width, camera.height),
    )
