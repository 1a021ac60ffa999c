"""HoloAssist (Microsoft, HoloLens 2): per recording `<name>/Export_py/` with the mp4, the HoloLens hand tracking
and the camera poses, as the maker's code reads them (every layout, unit, axis and time fact cited below).

| native | canonical | unit, frame |
| --- | --- | --- |
| `Video_pitchshift.mp4` (else `Video_compress.mp4`) | camera `video` -> `Camera.head`, lazy | RGB, video fps |
| `Video/Intrinsics.txt` | `cameras["video"].intrinsics`, scaled per axis to the mp4 read | pixels |
| `Video/Pose_sync.txt` | `camera_poses["video"]` world_from_camera, psi's axes turned to OpenCV's | `se3_4x4` |
| `Hands/{Left,Right}_sync.txt` IsActive | `states["active/<side>"]` | 0/1, 30 Hz |
| 21 of the 26 joint poses, NaN when masked | `states["mano21_keypoints"]` (T,2,21,3), derived, 0 = left | m |

Frame `psi_world` for every pose; the rows are at 30 Hz. The 26 joints (psi's `HandJointIndex`, the OpenXR order)
onto MANO-21: `MANO21_FROM_HOLOASSIST` (the thumb's metacarpal is MANO's first thumb joint; the palm and the
four finger metacarpals are not used). A hand is masked (NaN) where `HandFile.mano21` says, counted in
`metadata["masked_frames"]`.

Time: every file's times are .NET ticks (100 ns) on one clock; seconds are `(ticks - t0) / 1e7` with t0 the mp4's
first frame (`Video/VideoMp4Timing.txt` line 1), so frame i of the mp4 (its pts, i / fps) and the hand row of the
same instant share one time axis, as the maker matches them (hand_eye_project.py:209-251). World: psi's MathNet
basis, z up. Embodiment `human`, tier `high`; no action field: actions are the hand trajectory (derived downstream).

HoloAssist's `Export_py/` text files, parsed into arrays (pure functions of the bytes; errors through `fail`).

Every fact below is the maker's code, cited as owner/repo@commit:path:lines:

- Text written by microsoft/psi's HoloLensCapture exporter, tab-separated: a time is `DateTime.Ticks`, 100 ns units
  (microsoft/psi@7ee7963a:Sources/MixedReality/HoloLensCapture/HoloLensCaptureInterop/Operators.cs:81); a 4x4
  `CoordinateSystem` is 16 values row by row, and a missing one (a joint or a hand not tracked) is 16 `NaN`
  (ibid.:100-108; a null hand is written as `OpenXR.Hand.Empty`, ibid.:456). An OpenXR hand line is time, IsActive,
  26 joint poses, 26 valid flags, 26 tracked flags (ibid.:446-476).
- The `_sync` files HoloAssist ships carry one more leading column: the hand poses are `line[3:-52]` reshaped to
  (26,4,4) and the time in ticks is column 1 (taeinkwon/PyHoloAssist@9d0dfe2:hand_eye_project.py:96-121, 261);
  `Video/Pose_sync.txt` is column 1 the time in ticks and columns 2: the 4x4 camera pose (ibid.:199-207, 304);
  `Video/Intrinsics.txt` one line whose first 9 values are the 3x3 pinhole matrix and whose last two are the width
  and height (ibid.:124-130, from psi's `ICameraIntrinsics` text, Operators.cs:115-124); `Video/VideoMp4Timing.txt`
  the mp4's first and last frame times in ticks, frame i at first + i / fps (hand_eye_project.py:209-228).
- Row i of the hand files is row i of `Video/Pose_sync.txt` (the maker indexes all three by the same `frame`,
  hand_eye_project.py:282-304). Column 0 of the `_sync` files is not read by the maker's code and not by us.
- Joint order: psi's `HandJointIndex` (microsoft/psi@7ee7963a:Sources/MixedReality/Microsoft.Psi.MixedReality/
  HandJointIndex.cs:9-145), the OpenXR order: Palm, Wrist, then per finger Metacarpal, Proximal, Intermediate (the
  thumb has none), Distal, Tip; the maker's skeleton joins them so (hand_eye_project.py:37-75).
- Axes: psi poses are in the MathNet basis, x forward, y left, z up (microsoft/psi@7ee7963a:Sources/MixedReality/
  Microsoft.Psi.MixedReality/Operators.cs:106-130, rebasing from HoloLens' -z forward, y up); the maker turns a world
  point into OpenCV camera axes as `inv(A) @ inv(pose) @ p` with A = [[0,0,1],[-1,0,0],[0,-1,0]]
  (hand_eye_project.py:12-13, 310-313) and projects it with the intrinsics (ibid.:336-339).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar

import av
import numpy as np
from pydantic import Field

from adapters.base import AdapterError, AdapterOptions, EpisodeRef, HandSignals, HandTrack, RawEpisode, Stream, reraised
from adapters.cameras import VideoFileCamera
from adapters.hand_reading import HandSource, Reading, human_episode
from adapters.storage.location import Location
from schemas.canonical import HANDS, MANO21_NAMES, Camera, scale_intrinsics

TICKS_PER_SECOND = 10_000_000  # .NET DateTime.Ticks (Operators.cs:81)
N_JOINTS = 26
HAND_LEAD = 3  # sync column, time in ticks, IsActive (hand_eye_project.py:107; Operators.cs:458-460)
HAND_FIELDS = HAND_LEAD + 16 * N_JOINTS + 2 * N_JOINTS  # 471: then 26 valid flags, 26 tracked flags
POSE_FIELDS = 2 + 16  # sync column, time in ticks, the 4x4 pose

# psi's HandJointIndex, index = position in a line (HandJointIndex.cs:9-145).
JOINTS: tuple[str, ...] = (
    "Palm", "Wrist",
    "ThumbMetacarpal", "ThumbProximal", "ThumbDistal", "ThumbTip",
    "IndexMetacarpal", "IndexProximal", "IndexIntermediate", "IndexDistal", "IndexTip",
    "MiddleMetacarpal", "MiddleProximal", "MiddleIntermediate", "MiddleDistal", "MiddleTip",
    "RingMetacarpal", "RingProximal", "RingIntermediate", "RingDistal", "RingTip",
    "PinkyMetacarpal", "PinkyProximal", "PinkyIntermediate", "PinkyDistal", "PinkyTip",
)  # fmt: skip
assert len(JOINTS) == N_JOINTS

# MANO-21 keypoint <- HoloAssist joint. The thumb has no intermediate phalanx: its metacarpal is the MANO thumb's
# first joint (the CMC), as MediaPipe/OpenPose do; the four finger metacarpals and the palm are not MANO keypoints.
MANO21_FROM_HOLOASSIST: dict[str, str] = {
    "wrist": "Wrist",
    "thumb1": "ThumbMetacarpal", "thumb2": "ThumbProximal", "thumb3": "ThumbDistal", "thumb_tip": "ThumbTip",
    "index1": "IndexProximal", "index2": "IndexIntermediate", "index3": "IndexDistal", "index_tip": "IndexTip",
    "middle1": "MiddleProximal", "middle2": "MiddleIntermediate", "middle3": "MiddleDistal", "middle_tip": "MiddleTip",
    "ring1": "RingProximal", "ring2": "RingIntermediate", "ring3": "RingDistal", "ring_tip": "RingTip",
    "pinky1": "PinkyProximal", "pinky2": "PinkyIntermediate", "pinky3": "PinkyDistal", "pinky_tip": "PinkyTip",
}  # fmt: skip
assert tuple(MANO21_FROM_HOLOASSIST) == MANO21_NAMES
MANO21_INDEX = np.array([JOINTS.index(MANO21_FROM_HOLOASSIST[k]) for k in MANO21_NAMES])

# OpenCV camera axes (x right, y down, z ahead) in psi's MathNet camera axes (x ahead, y left, z up): the matrix the
# maker inverts (hand_eye_project.py:12-13); world_from_camera_opencv = world_from_camera_psi @ MATHNET_FROM_OPENCV.
MATHNET_FROM_OPENCV = np.array([[0, 0, 1, 0], [-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 0, 1]], dtype=np.float64)
WORLD_UP = np.array([0.0, 0.0, 1.0])  # MathNet basis: z up (psi Operators.cs:111-112)

Fail = Callable[[str, str], Exception]  # (message, field) -> the error to raise


@dataclass(frozen=True)
class HandFile:
    """One `Hands/<Side>_sync.txt`: (T,) ticks, (T,) IsActive, (T,26,4,4) joint poses (NaN where psi wrote none),
    (T,26) valid and tracked flags."""

    ticks: np.ndarray
    active: np.ndarray
    poses: np.ndarray
    valid: np.ndarray
    tracked: np.ndarray

    def mano21(self) -> np.ndarray:
        """(T,21,3) keypoints in MANO21_NAMES order, NaN in every frame where the hand is not active or one of the
        21 joints is not valid or has no pose (the maker's sentinel, 16 NaN)."""
        kp = self.poses[:, MANO21_INDEX][..., :3, 3]  # a copy (fancy indexing first)
        ok = self.active & self.valid[:, MANO21_INDEX].all(axis=1) & np.isfinite(kp).all(axis=(1, 2))
        kp[~ok] = np.nan
        return kp


def _rows(text: bytes, n_fields: int, what: str, fail: Fail) -> tuple[np.ndarray, np.ndarray]:
    """((T, n_fields) float64, (T,) int64 ticks of column 2) from tab-separated lines; a line of another width, a
    value not a number or a time not an integer is named by its line number (1-based). Ticks are read as integers:
    a 2023 time (~6.4e17) is past float64's exact range (2^53)."""
    lines = text.decode("utf-8", errors="replace").splitlines()
    out = np.empty((len(lines), n_fields), dtype=np.float64)
    ticks = np.empty(len(lines), dtype=np.int64)
    n = 0
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) != n_fields:
            raise fail(f"line {i}: {len(fields)} tab-separated values, expected {n_fields} ({what})", f"line {i}")
        try:
            out[n] = [float(v) for v in fields]
            ticks[n] = _int(fields[1])
        except ValueError as e:
            raise fail(f"line {i}: {e}", f"line {i}") from e
        n += 1
    if n == 0:
        raise fail("no lines", "")
    return out[:n], _ticks(ticks[:n], fail)


def _int(text: str) -> int:
    """A time in ticks: psi writes an integer (`Ticks.ToString`, Operators.cs:81; the maker reads `int(...)`,
    hand_eye_project.py:206); a float spelling is taken to the nearest tick (exact within ~100 ticks, 10 us)."""
    try:
        return int(text)
    except ValueError:
        return round(float(text))


def _ticks(column: np.ndarray, fail: Fail) -> np.ndarray:
    back = np.flatnonzero(np.diff(column) < 0)
    if len(back):
        raise fail(f"line {back[0] + 2}: time (column 2, ticks) goes back", f"line {back[0] + 2}")
    return column


def _flags(block: np.ndarray, fail: Fail, first_column: int) -> np.ndarray:
    bad = np.argwhere((block != 0) & (block != 1))
    if len(bad):
        row, col = bad[0]
        msg = f"line {row + 1}: column {first_column + col + 1} is {block[row, col]}, a flag is 0 or 1"
        raise fail(msg, f"line {row + 1}")
    return block.astype(bool)


def parse_hand(text: bytes, fail: Fail) -> HandFile:
    rows, ticks = _rows(text, HAND_FIELDS, "sync, ticks, IsActive, 26x16 joint pose values, 26 valid, 26 tracked", fail)
    j0, j1 = HAND_LEAD, HAND_LEAD + 16 * N_JOINTS
    return HandFile(
        ticks=ticks,
        active=_flags(rows[:, 2:3], fail, 2)[:, 0],
        poses=rows[:, j0:j1].reshape(-1, N_JOINTS, 4, 4),
        valid=_flags(rows[:, j1 : j1 + N_JOINTS], fail, j1),
        tracked=_flags(rows[:, j1 + N_JOINTS :], fail, j1 + N_JOINTS),
    )


def parse_poses(text: bytes, fail: Fail) -> tuple[np.ndarray, np.ndarray]:
    """`Video/Pose_sync.txt` -> ((T,) ticks, (T,4,4) world_from_camera in psi's axes); a pose not finite is named."""
    rows, ticks = _rows(text, POSE_FIELDS, "sync, ticks, 4x4 camera pose", fail)
    poses = rows[:, 2:].reshape(-1, 4, 4)
    bad = np.flatnonzero(~np.isfinite(poses).all(axis=(1, 2)))
    if len(bad):
        raise fail(f"line {bad[0] + 1}: camera pose not finite", f"line {bad[0] + 1}")
    return ticks, poses


def parse_intrinsics(text: bytes, fail: Fail) -> tuple[np.ndarray, tuple[int, int]]:
    """`Video/Intrinsics.txt` -> (3x3 pinhole matrix, (height, width) it is for)."""
    with reraised(ValueError, lambda e: fail(f"not numbers: {e}", "")):
        values = [float(v) for v in text.decode("utf-8", errors="replace").split()]
    if len(values) < 11:
        raise fail(f"{len(values)} values, expected the 3x3 matrix first and width, height last", "")
    K = np.array(values[:9]).reshape(3, 3)
    width, height = values[-2], values[-1]
    if not (np.isfinite(K).all() and K[0, 0] > 0 and K[1, 1] > 0 and width >= 1 and height >= 1):
        raise fail(f"not a pinhole matrix with a size: K {K.tolist()}, {width} x {height}", "")
    return K, (int(height), int(width))


def parse_mp4_timing(text: bytes, fail: Fail) -> int:
    """`Video/VideoMp4Timing.txt` -> the mp4's first frame time in ticks (its first line)."""
    lines = text.decode("utf-8", errors="replace").split()
    with reraised((IndexError, ValueError), lambda e: fail(f"line 1: not a time in ticks: {e}", "line 1")):
        return int(lines[0])


WORLD = "psi_world"
CAMERA = "video"
SIDES = ("Left", "Right")  # 0 = left, as schemas.canonical.HANDS
REQUIRED = (
    "Hands/Left_sync.txt",
    "Hands/Right_sync.txt",
    "Video/Pose_sync.txt",
    "Video/Intrinsics.txt",
    "Video/VideoMp4Timing.txt",
)


class HoloAssistOptions(AdapterOptions):
    videos: list[str] = Field(
        ["Video_pitchshift.mp4", "Video_compress.mp4"],
        description="the mp4 read as the head camera, the first of these present in Export_py/",
    )


class HoloAssistAdapter(HandSource[HoloAssistOptions]):
    name: ClassVar[str] = "holoassist"
    camera_names: ClassVar[tuple[str, ...] | None] = (CAMERA,)
    expects: ClassVar[str] = "<recording>/Export_py/ with Hands/Left_sync.txt, Video/Pose_sync.txt, Video_*.mp4"

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        exports = sorted({p.parent.parent for p in root.rglob("Left_sync.txt") if p.parent.name == "Hands"})
        return (self._ref(root, export) for export in exports)

    def _ref(self, root: Location, export: Location) -> EpisodeRef:
        rec = export.parent if export.name == "Export_py" else export
        raw_id = rec.relative_to(root).as_posix() if rec != root else rec.name
        error: AdapterError | None = None
        missing = [name for name in REQUIRED if not (export / name).is_file()]
        video = self._video(export)
        if missing:
            error = self.error("missing file", file=export / missing[0], episode=raw_id, field=missing[0])
        elif video is None:
            error = self.error(f"no video ({' or '.join(self.options.videos)})", file=export, episode=raw_id)
        return self.new_ref(raw_id, (str(export), str(video or export)), error=error)

    def _video(self, export: Location) -> Location | None:
        return next((export / n for n in self.options.videos if (export / n).is_file()), None)

    def read(self, ref: EpisodeRef) -> RawEpisode:
        export, video = self.file(ref.paths[0]), self.file(ref.paths[1])
        ep, reading = ref.raw_id, Reading.of(self, ref)
        hands = [parse_hand(*reading.text(export, f"Hands/{side}_sync.txt")) for side in SIDES]
        pose_ticks, cam_psi = parse_poses(*reading.text(export, "Video/Pose_sync.txt"))
        K, declared_hw = parse_intrinsics(*reading.text(export, "Video/Intrinsics.txt"))
        t0 = parse_mp4_timing(*reading.text(export, "Video/VideoMp4Timing.txt"))
        n = len(pose_ticks)
        for side, hand in zip(SIDES, hands, strict=True):
            if len(hand.ticks) != n:
                msg = f"{len(hand.ticks)} lines, Video/Pose_sync.txt has {n}: the _sync files are row for row"
                raise self.error(msg, file=export / f"Hands/{side}_sync.txt", episode=ep, field="lines")
        camera = self._camera(video, ep, K, declared_hw)
        ts = (pose_ticks - t0).astype(np.float64) / TICKS_PER_SECOND  # exact ints first
        kp = np.stack([h.mano21() for h in hands], axis=1)
        states = {"mano21_keypoints": Stream(ts, kp, names=MANO21_NAMES, unit="m", frame=WORLD)}
        for side, hand in zip(HANDS, hands, strict=True):
            states[f"active/{side}"] = Stream(ts, hand.active.astype(np.float64), unit="0..1")
        cam = Stream(ts, cam_psi @ MATHNET_FROM_OPENCV, unit="se3_4x4", frame=WORLD)
        sig = HandSignals(frame=WORLD, apply_offset=False, up_world=WORLD_UP, camera=cam, camera_convention="opencv")
        sig.native_state_keys = [k for k in states if k != "mano21_keypoints"]
        for hand in (0, 1):
            sig.hands[hand] = HandTrack(keypoints=Stream(ts, kp[:, hand], names=MANO21_NAMES, unit="m", frame=WORLD))
        masked = {side: int(np.isnan(kp[:, h, 0, 0]).sum()) for h, side in enumerate(HANDS)}
        sig.notes += [f"{side} hand: masked in {m} of {n} frames" for side, m in masked.items() if m]
        return human_episode(
            ref,
            self._fps(ts),
            states=states,
            cameras={CAMERA: camera} if self.options.cameras is None or CAMERA in self.options.cameras else {},
            camera_poses={CAMERA: cam},
            metadata={
                "recording": ep,
                "video_file": video.name,
                "pose_frames": n,
                "video_frames": len(camera),
                "masked_frames": masked,
                "mano21_joints": {k: MANO21_FROM_HOLOASSIST[k] for k in MANO21_NAMES},
            },
            hands=sig,
            derived=frozenset({"mano21_keypoints"}),
        )

    @staticmethod
    def _fps(ts: np.ndarray) -> float:
        """The rows' rate from their median spacing (HoloAssist's _sync rows are at 30 Hz)."""
        dt = np.diff(ts)
        return float(1.0 / np.median(dt)) if len(dt) and np.median(dt) > 0 else 30.0

    def _camera(self, video: Location, ep: str, K: np.ndarray, declared_hw: tuple[int, int]) -> VideoFileCamera:
        with Reading(self, ep).unreadable("mp4", "video", video, (av.FFmpegError, OSError, IndexError)):
            camera = VideoFileCamera(video, CAMERA, Camera.head)  # a broken container, no video stream
        camera.intrinsics = scale_intrinsics(K, declared_hw, (camera.height, camera.width))
        return camera
