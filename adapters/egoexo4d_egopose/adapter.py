"""Ego-Exo4D ego-pose hands: one episode per take and placement (manual `annotation/` or `automatic/`), its 3D hand
keypoints on the annotated frames, the Aria camera's poses from the take's `camera_pose` file, the frame-aligned
Aria RGB video when present. Layouts, joint order and rules are the maker's, each cited below.

| native | canonical | unit, frame |
| --- | --- | --- |
| `hand/{annotation,automatic}/<take_uid>.json` `annotation3D` | `states["mano21_keypoints"]` (T,2,21,3) | m, world |
| `camera_pose/<take_uid>.json` `camera_extrinsics` (ego camera) | `camera_poses[<cam>]` world_from_camera | `se3_4x4` |
| `takes.json` `frame_aligned_videos[<cam>]["rgb"]` | camera `aria_rgb` -> `Camera.head`, lazy (as stored) | RGB |

Joints onto MANO-21: `JOINT_OF`, the same 21 points in the same order.

Frames: only annotated frames are read, each at its own time, frame number / `fps` (the frame-aligned videos' 30 fps;
frame 0 is the take's first frame, the video's too). Between two annotated frames nothing is invented here:
canonicalization's rule for every source applies (samples closer than `max_gap_s` are interpolated to the 10 Hz grid,
farther apart split the episode; a take annotated more sparsely than that leaves spans too short to keep, rejected
with that reason). `metadata["annotation_step_frames"]` says the take's median spacing. A hand is masked (NaN) in
a frame where `parse_hands` says, counted in `metadata["masked_frames"]` (`["partial"]`: some joints missing).
World: the take's (Aria MPS closed-loop world, gravity-aligned with z up: projectaria_tools' trajectory docs); the
camera looks along +z (`camera_convention = "opencv"`). A take whose left wrist lies right of the right one is
refused as left and right swapped (`_check_sides`).

Ego-Exo4D ego-pose hand annotations, camera poses and takes, parsed (pure functions of decoded JSON; errors through
`fail`, naming frame and joint). Every fact is the maker's code or documentation, cited as owner/repo@commit:path:lines:

- Annotation file: `annotations/ego_pose/{train,val}/hand/{annotation,automatic}/<take_uid>.json` (manual and
  automatic placement; EGO4D/ego-exo4d-egopose@2494c0d:handpose/data_preparation/dataloader.py:52-63), a JSON object
  keyed by frame number, each a list whose first element holds `annotation3D` (joint name -> {x, y, z,
  num_views_for_3d}) in the take's world frame, metres (ibid.:295-297, 355-419; docs.ego-exo4d-data.org
  annotations/ego_pose: "a single set of global 3D keypoints"). An empty list or no `annotation3D` is no annotation.
- Joint names `<side>_wrist` and `<side>_<finger>_<1..4>`, fingers thumb, index, middle, ring, pinky (ibid.:300-310);
  the order is wrist, then per finger base to tip: the maker's biomechanical check takes joints 5, 9, 13, 17 (the
  finger bases, index_1 ...) as the long wrist bones and thumb_1 as a short one (utils/utils.py:206-224), the
  OpenPose / MANO-21 order, so `<finger>_1..4` are MANO's `<finger>1, 2, 3, _tip`.
- A manual joint counts only when triangulated from >= 3 views, an automatic one always (dataloader.py:375-382); a
  hand without its wrist is not used (ibid.:203-205).
- Camera poses: `annotations/ego_pose/<split>/camera_pose/<take_uid>.json`, per camera name `camera_intrinsics` (3x3)
  and `camera_extrinsics` keyed by frame number, a 3x4 [R|t] taking world points into the camera, which looks along
  +z (`world_to_cam`, `cam_to_img`: utils/utils.py:154-181; dataloader.py:424-440).
- The ego camera of a take: `takes.json`'s capture cameras with `is_ego`, narrowed to those with frame-aligned videos
  and then to the Aria one (utils/utils.py:320-342); its RGB video is `frame_aligned_videos[<cam>]["rgb"]
  ["relative_path"]` under the take's `root_dir` (facebookresearch/Ego4d@a44f40b:ego4d/features/config.py:238-265).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
from adapters.hand_reading import HandSource, Reading, human_episode, natural_order
from adapters.hostile import bounds
from adapters.storage.location import Location
from schemas.canonical import HANDS, MANO21_NAMES, Camera

Fail = Callable[[str, str], Exception]  # (message, field) -> the error to raise
SIDES = ("left", "right")  # 0 = left, as schemas.canonical.HANDS
KINDS = {"annotation": "manual", "automatic": "automatic"}  # folder -> placement (dataloader.py:52)
MIN_VIEWS_MANUAL = 3
FINGERS = ("thumb", "index", "middle", "ring", "pinky")
# MANO-21 name -> the joint's name after `<side>_` (MANO21_NAMES order)
JOINT_OF: dict[str, str] = {"wrist": "wrist"} | {
    f"{f}{'_tip' if k == 4 else k}": f"{f}_{k}" for f in FINGERS for k in range(1, 5)
}
assert tuple(JOINT_OF) == MANO21_NAMES


@dataclass(frozen=True)
class HandAnnotations:
    """(F,) annotated frame numbers, increasing; (F,2,21,3) keypoints (NaN where a hand is not fully annotated);
    per hand the frames where some but not all of its 21 joints were usable."""

    frames: np.ndarray
    keypoints: np.ndarray
    partial: tuple[int, int]


def _joint(entry: Any, where: str, fail: Fail) -> np.ndarray | None:
    """A joint's (3,) position, None when a coordinate is null (no value: never read as 0)."""
    if not isinstance(entry, Mapping):
        raise fail(f"{where}: not an object with x, y, z", where)
    try:
        xyz = [entry[a] for a in "xyz"]
    except KeyError as e:
        raise fail(f"{where}: no {e.args[0]}", where) from None
    if any(v is None for v in xyz):
        return None
    try:
        p = np.array([float(v) for v in xyz])
    except (TypeError, ValueError):
        raise fail(f"{where}: x, y, z {xyz} are not numbers", where) from None
    if not np.isfinite(p).all():
        raise fail(f"{where}: x, y, z {xyz} not finite", where)
    return p


def _frame(key: str, fail: Fail) -> int:
    try:
        return int(key)
    except ValueError:
        raise fail(f"frame key {key!r} is not a frame number", f"[{key!r}]") from None


def parse_hands(doc: Any, placement: str, fail: Fail) -> HandAnnotations:
    """The 3D hand keypoints of an annotation file; a hand is kept in a frame when all 21 of its joints are usable
    (a MANO-21 hand has no unnamed joints), else masked there and counted as partial."""
    if not isinstance(doc, Mapping):
        raise fail("not a JSON object keyed by frame number", "")
    min_views = MIN_VIEWS_MANUAL if placement == "manual" else 0
    frames, rows, partial = [], [], [0, 0]
    for key in sorted(doc, key=lambda k: _frame(k, fail)):
        entries = doc[key]
        if not isinstance(entries, list):
            raise fail(f"frame {key}: expected a list of annotations", f"[{key!r}]")
        ann = entries[0].get("annotation3D") if entries and isinstance(entries[0], Mapping) else None
        if not ann:
            continue
        kp = np.full((2, len(MANO21_NAMES), 3), np.nan)
        for h, side in enumerate(SIDES):
            got = {}
            for name, joint in JOINT_OF.items():
                entry = ann.get(f"{side}_{joint}")
                if entry is None:
                    continue
                where = f"[{key!r}][0].annotation3D.{side}_{joint}"
                if placement == "manual" and not (_views(entry, where, fail) >= min_views):
                    continue
                p = _joint(entry, where, fail)
                if p is not None:
                    got[name] = p
            if len(got) == len(MANO21_NAMES):
                kp[h] = [got[n] for n in MANO21_NAMES]
            elif "wrist" in got and len(got) > 1:
                partial[h] += 1
        frames.append(_frame(key, fail))
        rows.append(kp)
    if not frames:
        raise fail("no frame has a 3D annotation", "annotation3D")
    return HandAnnotations(np.array(frames, dtype=np.int64), np.stack(rows), (partial[0], partial[1]))


def _views(entry: Mapping[str, Any], where: str, fail: Fail) -> float:
    views = entry.get("num_views_for_3d")
    try:
        return float(views)
    except (TypeError, ValueError):
        raise fail(f"{where}: num_views_for_3d {views!r} is not a number", where) from None


@dataclass(frozen=True)
class CameraPoses:
    """(C,) frame numbers with an extrinsic, (C,4,4) world_from_camera (z ahead), the 3x3 intrinsics as given."""

    frames: np.ndarray
    world_from_camera: np.ndarray
    intrinsics: np.ndarray | None


def parse_camera(doc: Any, cam: str, fail: Fail) -> CameraPoses:
    if not isinstance(doc, Mapping) or cam not in doc:
        names = sorted(doc) if isinstance(doc, Mapping) else []
        raise fail(f"no camera {cam!r} (has {names})", cam)
    entry = doc[cam]
    extr = entry.get("camera_extrinsics") if isinstance(entry, Mapping) else None
    if not isinstance(extr, Mapping) or not extr:
        raise fail(f"camera {cam!r} has no camera_extrinsics", f"{cam}.camera_extrinsics")
    frames = sorted(extr, key=lambda k: _frame(k, fail))
    out = np.tile(np.eye(4), (len(frames), 1, 1))
    for i, key in enumerate(frames):
        try:
            m = np.asarray(extr[key], dtype=np.float64)
        except (TypeError, ValueError):
            m = np.zeros(0)
        if m.shape != (3, 4) or not np.isfinite(m).all() or abs(np.linalg.det(m[:, :3]) - 1) > 1e-3:
            raise fail(f"frame {key}: not a 3x4 [R|t] with R a rotation", f"{cam}.camera_extrinsics[{key!r}]")
        cam_from_world = np.vstack([m, [0, 0, 0, 1]])
        out[i] = np.linalg.inv(cam_from_world)
    K = entry.get("camera_intrinsics")
    intr = np.asarray(K, dtype=np.float64) if K is not None else None
    return CameraPoses(np.array([_frame(k, fail) for k in frames]), out, intr)


def ego_camera(take: Mapping[str, Any], fail: Fail) -> str:
    """The take's ego camera name, by the maker's rule (utils/utils.py:320-342)."""
    cams = take.get("capture", {}).get("cameras", [])
    ego = [c["cam_id"] for c in cams if isinstance(c, Mapping) and str(c.get("is_ego")).lower() == "true"]
    if len(ego) > 1:
        ego = [c for c in ego if c in take.get("frame_aligned_videos", {})]
        if len(ego) > 1:
            aria = [c for c in ego if "aria" in c.lower()]
            ego = aria if len(aria) == 1 else ego
    if len(ego) != 1:
        raise fail(f"{len(ego)} ego cameras ({ego}) in capture.cameras: expected one", "capture.cameras")
    return ego[0]


def rgb_video(take: Mapping[str, Any], cam: str) -> str | None:
    """The ego camera's frame-aligned RGB video, relative to the dataset root (None when takes.json names none)."""
    stream = take.get("frame_aligned_videos", {}).get(cam, {}).get("rgb")
    if not isinstance(stream, Mapping) or not stream.get("relative_path"):
        return None
    return f"{take.get('root_dir', '').rstrip('/')}/{stream['relative_path']}"


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
        found = [p for p in root.rglob("*.json") if p.parent.name in KINDS and p.parent.parent.name == "hand"]
        return natural_order([self._ref(root, p) for p in found if p.parent.parent.parent.parent.name == "ego_pose"])

    def _ref(self, root: Location, ann: Location) -> EpisodeRef:
        split_dir = ann.parent.parent.parent
        data_root = split_dir.parent.parent.parent
        uid = ann.name.removesuffix(".json")
        raw_id = f"{split_dir.name}/{uid}"
        subset = self.options.subset or KINDS[ann.parent.name]
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
        placement = KINDS[ann_path.parent.name]
        doc, fail = self._json(ann_path, ep)
        hands = parse_hands(doc, placement, fail)
        take = self._take(takes_path, uid, ep)
        cam_name = ego_camera(take, lambda m, f: self.error(m, file=takes_path, episode=ep, field=f))
        cam_doc, cam_fail = self._json(cam_path, ep)
        poses = parse_camera(cam_doc, cam_name, cam_fail)
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
                "mano21_joints": {k: f"<side>_{v}" for k, v in JOINT_OF.items()},
                "video": video,
            },
            hands=sig,
            derived=frozenset({"mano21_keypoints"}),
        )

    def _check_sides(
        self, kp: np.ndarray, ts: np.ndarray, poses: CameraPoses, fps: float, path: Location, ep: str
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
        rel = rgb_video(take, cam)
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
