"""Ego-Exo4D ego-pose hands: one episode per take and placement (manual `annotation/` or `automatic/`), its 3D hand
keypoints on the annotated frames, the Aria camera's poses from the take's `camera_pose` file, the frame-aligned
Aria RGB video when present. Layouts, joint order and rules are the maker's (`egoexo4d_egopose/files.py` cites each).

| native | canonical | unit, frame |
| --- | --- | --- |
| `hand/{annotation,automatic}/<take_uid>.json` `annotation3D` | `states["mano21_keypoints"]` (T,2,21,3) | m, world |
| `camera_pose/<take_uid>.json` `camera_extrinsics` (ego camera) | `camera_poses[<cam>]` world_from_camera | `se3_4x4` |
| `takes.json` `frame_aligned_videos[<cam>]["rgb"]` | camera `aria_rgb` -> `Camera.head`, lazy (as stored) | RGB |

Joints onto MANO-21: `files.JOINT_OF`, the same 21 points in the same order.

Frames: only annotated frames are read, each at its own time, frame number / `fps` (the frame-aligned videos' 30 fps;
frame 0 is the take's first frame, the video's too). Between two annotated frames nothing is invented here:
canonicalization's rule for every source applies (samples closer than `max_gap_s` are interpolated to the 10 Hz grid,
farther apart split the episode; a take annotated more sparsely than that leaves spans too short to keep, rejected
with that reason). `metadata["annotation_step_frames"]` says the take's median spacing. A hand is masked (NaN) in
a frame where `files.parse_hands` says, counted in `metadata["masked_frames"]` (`["partial"]`: some joints missing).
World: the take's (Aria MPS closed-loop world, gravity-aligned with z up: projectaria_tools' trajectory docs); the
camera looks along +z (`camera_convention = "opencv"`). A take whose left wrist lies right of the right one is
refused as left and right swapped (`_check_sides`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import av
import numpy as np
from pydantic import Field

from adapters.base import (
    AdapterError,
    AdapterOptions,
    CameraSource,
    EpisodeRef,
    HandSignals,
    HandTrack,
    RawEpisode,
    Stream,
    reraised,
)
from adapters.cameras import VideoFileCamera
from adapters.egoexo4d_egopose import files
from adapters.hand_reading import HandSource, Reading, human_episode, natural_order
from adapters.hostile import bounds
from adapters.storage.location import Location
from schemas.canonical import HANDS, MANO21_NAMES, Camera

WORLD = "egoexo4d_world"
UP = np.array([0.0, 0.0, 1.0])
VIDEO = "aria_rgb"


class EgoExo4DEgoPoseOptions(AdapterOptions):
    fps: float = Field(30.0, gt=0, description="frame rate of the take's frame numbers (the frame-aligned videos')")
    swap_margin_m: float = Field(
        0.02, ge=0, description="refuse a take whose left wrist lies this far right of the right one (median)"
    )


class EgoExo4DEgoPoseAdapter(HandSource[EgoExo4DEgoPoseOptions]):
    name: ClassVar[str] = "egoexo4d_egopose"
    camera_names: ClassVar[tuple[str, ...] | None] = (VIDEO,)
    expects: ClassVar[str] = (
        "an Ego-Exo4D download: takes.json and annotations/ego_pose/<split>/hand/{annotation,automatic}/"
        "<take_uid>.json with annotations/ego_pose/<split>/camera_pose/<take_uid>.json"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._takes: dict[str, dict[str, dict[str, Any]]] = {}

    def refs(self, root: Location) -> list[EpisodeRef]:
        found = [p for p in root.rglob("*.json") if p.parent.name in files.KINDS and p.parent.parent.name == "hand"]
        return natural_order([self._ref(root, p) for p in found if p.parent.parent.parent.parent.name == "ego_pose"])

    def _ref(self, root: Location, ann: Location) -> EpisodeRef:
        split_dir = ann.parent.parent.parent
        data_root = split_dir.parent.parent.parent
        uid = ann.name.removesuffix(".json")
        raw_id = f"{split_dir.name}/{uid}"
        subset = self.options.subset or files.KINDS[ann.parent.name]
        cam = split_dir / "camera_pose" / ann.name
        takes = data_root / "takes.json"
        error = None
        for path, field in ((cam, "camera_pose"), (takes, "takes.json")):
            if not path.is_file():
                error = self.error("missing file", file=path, episode=raw_id, field=field)
                break
        return self.new_ref(raw_id, (str(ann), str(cam), str(takes)), subset=subset, error=error)

    def _json(self, path: Location, ep: str) -> tuple[Any, Callable[[str, str], AdapterError]]:
        fail = Reading(self, ep).naming(path, path.name)
        with reraised((OSError, ValueError), lambda e: fail(f"unreadable JSON: {e}", "")):
            return bounds.load_json(path, path.name), fail

    def _take(self, path: Location, uid: str, ep: str) -> dict[str, Any]:
        key = str(path)
        if key not in self._takes:  # one parse per takes.json and adapter (the release's is tens of MB)
            doc, fail = self._json(path, ep)
            if not isinstance(doc, list):
                raise fail("expected a list of takes", "")
            self._takes[key] = {t["take_uid"]: t for t in doc if isinstance(t, dict) and "take_uid" in t}
        take = self._takes[key].get(uid)
        if take is None:
            raise self.error(f"take {uid} is not in takes.json", file=path, episode=ep, field="take_uid")
        return take

    def read(self, ref: EpisodeRef) -> RawEpisode:
        ann_path, cam_path, takes_path = (self.file(p) for p in ref.paths)
        ep, uid = ref.raw_id, ann_path.name.removesuffix(".json")
        placement = files.KINDS[ann_path.parent.name]
        doc, fail = self._json(ann_path, ep)
        hands = files.parse_hands(doc, placement, fail)
        take = self._take(takes_path, uid, ep)
        cam_name = files.ego_camera(take, lambda m, f: self.error(m, file=takes_path, episode=ep, field=f))
        cam_doc, cam_fail = self._json(cam_path, ep)
        poses = files.parse_camera(cam_doc, cam_name, cam_fail)
        fps = self.options.fps
        ts = hands.frames.astype(np.float64) / fps
        kp = hands.keypoints
        self._check_sides(kp, ts, poses, fps, ann_path, ep)
        cam = Stream(poses.frames.astype(np.float64) / fps, poses.world_from_camera, unit="se3_4x4", frame=WORLD)
        states = {"mano21_keypoints": Stream(ts, kp, names=MANO21_NAMES, unit="m", frame=WORLD)}
        sig = HandSignals(frame=WORLD, apply_offset=False, up_world=UP, camera=cam, camera_convention="opencv")
        sig.native_state_keys = []
        for h in (0, 1):
            sig.hands[h] = HandTrack(keypoints=Stream(ts, kp[:, h], names=MANO21_NAMES, unit="m", frame=WORLD))
        n = len(ts)
        masked = {side: int(np.isnan(kp[:, h, 0, 0]).sum()) for h, side in enumerate(HANDS)}
        sig.notes += [f"{side} hand: masked in {m} of {n} annotated frames" for side, m in masked.items() if m]
        step = int(np.median(np.diff(hands.frames))) if n > 1 else 0
        cameras, video = self._video(takes_path.parent, take, cam_name, ep)
        return human_episode(
            ref,
            fps / step if step else None,
            states=states,
            cameras=cameras,
            camera_poses={cam_name: cam},
            metadata={
                "take_uid": uid,
                "take_name": take.get("take_name"),
                "split": ann_path.parent.parent.parent.name,
                "placement": placement,
                "ego_camera": cam_name,
                "annotated_frames": n,
                "annotation_step_frames": step,
                "masked_frames": masked,
                "partial": dict(zip(HANDS, hands.partial, strict=True)),
                "camera_intrinsics": None if poses.intrinsics is None else poses.intrinsics.tolist(),
                "mano21_joints": {k: f"<side>_{v}" for k, v in files.JOINT_OF.items()},
                "video": video,
            },
            hands=sig,
            derived=frozenset({"mano21_keypoints"}),
        )

    def _check_sides(
        self, kp: np.ndarray, ts: np.ndarray, poses: files.CameraPoses, fps: float, path: Location, ep: str
    ) -> None:
        """The wearer's left wrist lies left of the right one, seen from the camera's heading (up x forward is left),
        over the frames with both hands: a take whose median says otherwise has its sides swapped."""
        both = np.flatnonzero(np.isfinite(kp[:, :, 0, 0]).all(axis=1))
        if not len(both) or not len(poses.frames):
            return
        j = np.clip(np.searchsorted(poses.frames, np.round(ts[both] * fps).astype(np.int64)), 0, len(poses.frames) - 1)
        forward = poses.world_from_camera[j, :3, 2]
        left = np.cross(UP, forward)
        with np.errstate(invalid="ignore", divide="ignore"):
            left /= np.linalg.norm(left, axis=-1, keepdims=True)
        lateral = np.einsum("nj,nhj->nh", left, kp[both, :, 0] - poses.world_from_camera[j, None, :3, 3])
        gap = float(np.nanmedian(lateral[:, 0] - lateral[:, 1]))
        if gap < -self.options.swap_margin_m:
            msg = (
                f"the left wrist lies {-gap:.3f} m right of the right wrist (median over {len(both)} frames with both "
                "hands, seen from the ego camera's heading): left and right swapped"
            )
            raise self.error(msg, file=path, episode=ep, field="left_wrist")

    def _video(
        self, root: Location, take: dict[str, Any], cam: str, ep: str
    ) -> tuple[dict[str, CameraSource], str | dict[str, Any]]:
        rel = files.rgb_video(take, cam)
        if self.options.cameras is not None and VIDEO not in self.options.cameras:
            return {}, f"not read: the cameras option leaves {VIDEO} out"
        if rel is None:
            return {}, f"takes.json names no frame-aligned rgb video for {cam}"
        path = root / rel
        if not path.is_file():
            return {}, f"{rel} not downloaded: hands and camera poses only"
        with Reading(self, ep).unreadable("mp4", "video", path, (av.FFmpegError, OSError, IndexError)):
            camera = VideoFileCamera(path, VIDEO, Camera.head)
        return {VIDEO: camera}, {"file": rel, "frames": len(camera), "size": [camera.height, camera.width]}
