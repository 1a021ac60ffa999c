"""HoloAssist (Microsoft, HoloLens 2): per recording `<name>/Export_py/` with the mp4, the HoloLens hand tracking
and the camera poses, as the maker's code reads them (files.py cites every layout, unit, axis and time fact).

| native | canonical | unit, frame |
| --- | --- | --- |
| `Video_pitchshift.mp4` (else `Video_compress.mp4`) | camera `video` -> `Camera.head`, lazy | RGB, video fps |
| `Video/Intrinsics.txt` | `cameras["video"].intrinsics`, scaled per axis to the mp4 read | pixels |
| `Video/Pose_sync.txt` | `camera_poses["video"]` world_from_camera, psi's axes turned to OpenCV's | `se3_4x4` |
| `Hands/{Left,Right}_sync.txt` IsActive | `states["active/<side>"]` | 0/1, 30 Hz |
| 21 of the 26 joint poses, NaN when masked | `states["mano21_keypoints"]` (T,2,21,3), derived, 0 = left | m |

Frame `psi_world` for every pose; the rows are at 30 Hz. The 26 joints (psi's `HandJointIndex`, the OpenXR order)
onto MANO-21: `files.MANO21_FROM_HOLOASSIST` (the thumb's metacarpal is MANO's first thumb joint; the palm and the
four finger metacarpals are not used). A hand is masked (NaN) where `files.HandFile.mano21` says, counted in
`metadata["masked_frames"]`.

Time: every file's times are .NET ticks (100 ns) on one clock; seconds are `(ticks - t0) / 1e7` with t0 the mp4's
first frame (`Video/VideoMp4Timing.txt` line 1), so frame i of the mp4 (its pts, i / fps) and the hand row of the
same instant share one time axis, as the maker matches them (hand_eye_project.py:209-251). World: psi's MathNet
basis, z up. Embodiment `human`, tier `high`; no action field: actions are the hand trajectory (derived downstream).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import av
import numpy as np
from pydantic import Field

from adapters.base import AdapterError, AdapterOptions, EpisodeRef, HandSignals, HandTrack, RawEpisode, Stream
from adapters.cameras import VideoFileCamera
from adapters.hand_reading import HandSource, Reading, human_episode
from adapters.holoassist import files
from adapters.storage.location import Location
from schemas.canonical import HANDS, MANO21_NAMES, Camera, scale_intrinsics

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
        hands = [files.parse_hand(*reading.text(export, f"Hands/{side}_sync.txt")) for side in SIDES]
        pose_ticks, cam_psi = files.parse_poses(*reading.text(export, "Video/Pose_sync.txt"))
        K, declared_hw = files.parse_intrinsics(*reading.text(export, "Video/Intrinsics.txt"))
        t0 = files.parse_mp4_timing(*reading.text(export, "Video/VideoMp4Timing.txt"))
        n = len(pose_ticks)
        for side, hand in zip(SIDES, hands, strict=True):
            if len(hand.ticks) != n:
                msg = f"{len(hand.ticks)} lines, Video/Pose_sync.txt has {n}: the _sync files are row for row"
                raise self.error(msg, file=export / f"Hands/{side}_sync.txt", episode=ep, field="lines")
        camera = self._camera(video, ep, K, declared_hw)
        ts = (pose_ticks - t0).astype(np.float64) / files.TICKS_PER_SECOND  # exact ints first
        kp = np.stack([h.mano21() for h in hands], axis=1)
        states = {"mano21_keypoints": Stream(ts, kp, names=MANO21_NAMES, unit="m", frame=WORLD)}
        for side, hand in zip(HANDS, hands, strict=True):
            states[f"active/{side}"] = Stream(ts, hand.active.astype(np.float64), unit="0..1")
        cam = Stream(ts, cam_psi @ files.MATHNET_FROM_OPENCV, unit="se3_4x4", frame=WORLD)
        sig = HandSignals(
            frame=WORLD, apply_offset=False, up_world=files.WORLD_UP, camera=cam, camera_convention="opencv"
        )
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
                "mano21_joints": {k: files.MANO21_FROM_HOLOASSIST[k] for k in MANO21_NAMES},
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
