"""Ego-Exo4D ego-pose hand annotations, camera poses and takes, parsed (pure functions of decoded JSON; errors through
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
from typing import Any

import numpy as np

from schemas.canonical import MANO21_NAMES

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
