"""Aria MPS output files, parsed into arrays (pure functions of the bytes; errors through `fail`, naming line and
column). Every fact is the maker's code or its real sample, cited as owner/repo@commit:path:lines, the repository
being facebookresearch/projectaria_tools at 90f70ff (abbreviated `pat`):

- Layout: an MPS root holds `slam/` (older outputs `trajectory/`) and `hand_tracking/`; in them
  `closed_loop_trajectory.csv`, `online_calibration.jsonl`, `hand_tracking_results.csv`, `wrist_and_palm_poses.csv`
  (pat core/mps/MpsFileNames.h:24-46; the folder fallback, core/mps/MpsDataPathsProvider.cpp:64-67).
- `hand_tracking_results.csv`: `tracking_timestamp_us` (device clock, microseconds), per side
  `<side>_tracking_confidence`, 21 landmarks `t{x,y,z}_<side>_landmark_<i>_device` in the device frame, metres,
  `T_Device_Wrist` as `t{x,y,z}_<side>_device_wrist` + `q{x,y,z,w}_<side>_device_wrist` (x, y, z, w); the newer
  version adds palm and wrist normals `n{x,y,z}_<side>_{palm,wrist}_device` (core/mps/HandTrackingReader.cpp:37-226,
  427-580; the reader picks the version by the normal columns, :209-226, :979-988). Columns are found by name.
- Landmark order: the maker's `HandLandmark` enum (core/mps/HandTracking.h:33-60): 5 fingertips thumb..pinky, wrist,
  thumb intermediate and distal, then proximal / intermediate / distal of index, middle, ring, pinky, palm centre.
- `wrist_and_palm_poses.csv`: `tracking_timestamp_us`, per side `<side>_tracking_confidence`,
  `t{x,y,z}_<side>_{wrist,palm}_device` (15 columns, the first version: no orientation at all); the second adds
  `n{x,y,z}_<side>_{palm,wrist}_device`; the maker tries the second then the first (facebookresearch/
  projectaria_tools@309c672 core/mps/HandTrackingReader.cpp `readWristAndPalmPosesV1`, `readWristAndPalmPosesV2`,
  `readWristAndPalmPoses`), as eidata picks by the normal columns.
- A missing hand: the reader keeps a side only when its confidence is > 0 (HandTrackingReader.cpp:407-416, 755-764,
  875-884, 946-955). The docs name -1 (website/docs-technical-specs/mps/data_formats/hand_tracking/
  hand_tracking_outputs.mdx:57); the real sample's `wrist_and_palm_poses_v2.csv` writes 0 where its v1 twin writes -1
  for the same missing right hand (data/gen1/mps_sample/hand_tracking/, 116 of 122 rows), the landmarks being zeros
  and the quaternion (0, 0, 0, 1) there. Both are masked.
- Palm normal: out of the palm, (pinky1 - wrist) x (index1 - wrist) for a left hand, negated for a right one
  (core/mps/HandTracking.cpp:184-201); the wrist normal is -Y of `T_Device_Wrist` (ibid.:59-61). On the real sample
  the file's normals and -Y agree with that rule on every tracked row (dot 0.98), which is the left/right check.
- `closed_loop_trajectory.csv`: `graph_uid` (the world frame's id), `tracking_timestamp_us`, `T_world_device` as
  `t{x,y,z}_world_device` + `q{x,y,z,w}_world_device`, `gravity_{x,y,z}_world` (MPS writes [0, 0, -9.81]), at 1 kHz
  (website/docs-technical-specs/mps/data_formats/slam/mps_trajectory.mdx:33-48).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.poses import se3
from schemas.canonical import MANO21_NAMES

Fail = Callable[[str, str], Exception]  # (message, field) -> the error to raise
SIDES = ("left", "right")  # 0 = left, as schemas.canonical.HANDS
SLAM_DIRS = ("slam", "trajectory")  # the second: older MPS outputs (MpsDataPathsProvider.cpp:64-67)
HAND_DIR = "hand_tracking"
RESULTS = "hand_tracking_results.csv"
TRAJECTORY, CALIBRATION = "closed_loop_trajectory.csv", "online_calibration.jsonl"

# pat core/mps/HandTracking.h:33-60, index = landmark number in the file's columns
LANDMARKS: tuple[str, ...] = (
    "THUMB_FINGERTIP", "INDEX_FINGERTIP", "MIDDLE_FINGERTIP", "RING_FINGERTIP", "PINKY_FINGERTIP",
    "WRIST", "THUMB_INTERMEDIATE", "THUMB_DISTAL",
    "INDEX_PROXIMAL", "INDEX_INTERMEDIATE", "INDEX_DISTAL",
    "MIDDLE_PROXIMAL", "MIDDLE_INTERMEDIATE", "MIDDLE_DISTAL",
    "RING_PROXIMAL", "RING_INTERMEDIATE", "RING_DISTAL",
    "PINKY_PROXIMAL", "PINKY_INTERMEDIATE", "PINKY_DISTAL",
    "PALM_CENTER",
)  # fmt: skip
# MANO-21 keypoint <- Aria landmark, as HOT3D maps MANO onto the same 21 (hot3d `mano_layer.py`
# `mano_to_nimble_joint_mapping`: thumb intermediate = MANO thumb2, index proximal = index1, ...). MANO's thumb1 (the
# CMC joint) has no landmark: it is placed on the wrist -> thumb intermediate segment at THUMB1_AT, where the
# UmeTrack hand profiles of two real HOT3D participants put it: joint_rest_positions[0] (the thumb's first joint)
# at 0.263 and 0.265 of landmark 5 -> 6, 3.8 and 1.2 mm off that line (facebookresearch/hot3d@e814021:
# hot3d/data_loaders/tests/data_sample/{Aria/P0003_c701bd11,Quest3/P0002_273c2819}/umetrack_hand_user_profile.json;
# the same 21 landmarks, `adapters/hot3d/umetrack.py`). MPS ships no profile: a fixed fraction, our reading.
MANO21_FROM_ARIA: dict[str, str | None] = {
    "wrist": "WRIST",
    "thumb1": None, "thumb2": "THUMB_INTERMEDIATE", "thumb3": "THUMB_DISTAL", "thumb_tip": "THUMB_FINGERTIP",
    "index1": "INDEX_PROXIMAL", "index2": "INDEX_INTERMEDIATE", "index3": "INDEX_DISTAL",
    "index_tip": "INDEX_FINGERTIP",
    "middle1": "MIDDLE_PROXIMAL", "middle2": "MIDDLE_INTERMEDIATE", "middle3": "MIDDLE_DISTAL",
    "middle_tip": "MIDDLE_FINGERTIP",
    "ring1": "RING_PROXIMAL", "ring2": "RING_INTERMEDIATE", "ring3": "RING_DISTAL", "ring_tip": "RING_FINGERTIP",
    "pinky1": "PINKY_PROXIMAL", "pinky2": "PINKY_INTERMEDIATE", "pinky3": "PINKY_DISTAL",
    "pinky_tip": "PINKY_FINGERTIP",
}  # fmt: skip
assert tuple(MANO21_FROM_ARIA) == MANO21_NAMES
POSE7 = ("tx", "ty", "tz", "qx", "qy", "qz", "qw")  # a pose's columns: translation, quaternion x, y, z, w
THUMB1_AT = 0.26  # fraction of the way from the wrist to the thumb intermediate landmark (see MANO21_FROM_ARIA)
_WRIST, _THUMB2 = LANDMARKS.index("WRIST"), LANDMARKS.index("THUMB_INTERMEDIATE")
_INDEX1, _PINKY1 = LANDMARKS.index("INDEX_PROXIMAL"), LANDMARKS.index("PINKY_PROXIMAL")


def _table(text: bytes, fail: Fail) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text.decode("utf-8", errors="replace"))))
    rows = [r for r in rows if r]
    if not rows:
        raise fail("no header", "header")
    if len(rows) == 1:
        raise fail("no rows", "tracking_timestamp_us")
    return rows[0], rows[1:]


def _columns(header: list[str], rows: list[list[str]], names: list[str], fail: Fail) -> np.ndarray:
    """(N, len(names)) float64 of the named columns; a missing column, a short row or a value that is not a number
    is named by its line (1-based, the header being line 1) and column."""
    missing = [n for n in names if n not in header]
    if missing:
        raise fail(f"header has no {missing[0]} column", missing[0])
    idx = [header.index(n) for n in names]
    out = np.empty((len(rows), len(names)))
    for r, row in enumerate(rows):
        try:
            out[r] = [float(row[i]) for i in idx]
        except (ValueError, IndexError):
            bad = next(n for n, i in zip(names, idx, strict=True) if i >= len(row) or not _number(row[i]))
            value = row[header.index(bad)] if header.index(bad) < len(row) else "nothing"
            raise fail(f"line {r + 2}: {bad} is {value!r}, not a number", bad) from None
    return out


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _micros(header: list[str], rows: list[list[str]], fail: Fail) -> np.ndarray:
    """`tracking_timestamp_us` as exact integers, increasing."""
    name = "tracking_timestamp_us"
    if name not in header:
        raise fail(f"header has no {name} column", name)
    i = header.index(name)
    out = np.empty(len(rows), dtype=np.int64)
    for r, row in enumerate(rows):
        try:
            out[r] = int(row[i])
        except (ValueError, IndexError):
            raise fail(f"line {r + 2}: {name} is not an integer", name) from None
    back = np.flatnonzero(np.diff(out) <= 0)
    if len(back):
        raise fail(f"line {back[0] + 3}: {name} does not increase", name)
    return out


def _pose(t: np.ndarray, q_xyzw: np.ndarray) -> np.ndarray:
    return se3(Rotation.from_quat(q_xyzw).as_matrix(), t)  # normalised, as the reader does (cpp:401-404)


def _confidence(values: np.ndarray, field: str, fail: Fail) -> np.ndarray:
    """(N,) tracked flags: confidence > 0 (the maker's rule); -1 and 0 are the missing-hand sentinels, anything else
    outside (0, 1] is neither and is refused."""
    bad = np.flatnonzero(~np.isfinite(values) | (values > 1) | ((values < 0) & (values != -1)))
    if len(bad):
        msg = f"line {bad[0] + 2}: {field} is {values[bad[0]]}: neither a confidence in (0, 1] nor -1 / 0 (no hand)"
        raise fail(msg, field)
    return values > 0


@dataclass(frozen=True)
class HandResults:
    """`hand_tracking_results.csv`: (N,) micros, (N,2) confidence and tracked flags, (N,2,21,3) landmarks in the
    device frame (NaN where not tracked), (N,2,4,4) T_Device_Wrist, (N,2,3) palm normals (None in the first
    version)."""

    micros: np.ndarray
    confidence: np.ndarray
    tracked: np.ndarray
    landmarks: np.ndarray
    device_from_wrist: np.ndarray
    palm_normal: np.ndarray | None

    @property
    def version(self) -> str:
        return "v1 (no normals)" if self.palm_normal is None else "v2 (palm and wrist normals)"

    def mano21(self) -> np.ndarray:
        """(N,2,21,3) keypoints in MANO21_NAMES order, device frame, NaN where the hand is not tracked."""
        cols = []
        for landmark in MANO21_FROM_ARIA.values():
            if landmark is None:  # thumb1
                w, t2 = self.landmarks[:, :, _WRIST], self.landmarks[:, :, _THUMB2]
                cols.append(w + THUMB1_AT * (t2 - w))
            else:
                cols.append(self.landmarks[:, :, LANDMARKS.index(landmark)])
        return np.stack(cols, axis=2)


def read_results(text: bytes, fail: Fail) -> HandResults:
    header, rows = _table(text, fail)
    micros = _micros(header, rows, fail)
    normals = all(f"n{a}_{s}_palm_device" in header for a in "xyz" for s in SIDES)
    n = len(rows)
    conf, tracked = np.zeros((n, 2)), np.zeros((n, 2), dtype=bool)
    lm, pose = np.full((n, 2, 21, 3), np.nan), np.full((n, 2, 4, 4), np.nan)
    palm = np.full((n, 2, 3), np.nan) if normals else None
    for h, side in enumerate(SIDES):
        field = f"{side}_tracking_confidence"
        conf[:, h] = _columns(header, rows, [field], fail)[:, 0]
        tracked[:, h] = _confidence(conf[:, h], field, fail)
        names = [f"t{a}_{side}_landmark_{i}_device" for i in range(len(LANDMARKS)) for a in "xyz"]
        values = _columns(header, rows, names, fail).reshape(n, len(LANDMARKS), 3)
        _no_origin(values, tracked[:, h], conf[:, h], field, fail)
        lm[tracked[:, h], h] = values[tracked[:, h]]
        wrist = _columns(header, rows, [f"{c}_{side}_device_wrist" for c in POSE7], fail)
        ok = tracked[:, h]
        pose[ok, h] = _pose(wrist[ok, :3], wrist[ok, 3:])
        if palm is not None:
            palm[ok, h] = _columns(header, rows, [f"n{a}_{side}_palm_device" for a in "xyz"], fail)[ok]
    out = HandResults(micros, conf, tracked, lm, pose, palm)
    check_sides(out, fail)
    return out


def _no_origin(values: np.ndarray, tracked: np.ndarray, conf: np.ndarray, field: str, fail: Fail) -> None:
    """A hand claimed tracked whose landmarks are all zero is the missing-hand zeros read as data."""
    zero = np.flatnonzero(tracked & ~np.any(values.reshape(len(values), -1), axis=1))
    if len(zero):
        msg = (
            f"line {zero[0] + 2}: {field} is {conf[zero[0]]} but every landmark is 0 (the device origin): the "
            "missing-hand zeros with a confidence, not a hand"
        )
        raise fail(msg, field)


def palmar(landmarks: np.ndarray, hand: int) -> np.ndarray:
    """(N,21,3) Aria landmarks -> (N,3) unit normals out of the palm by the maker's rule for `hand` (0 left)."""
    w = landmarks[:, _WRIST]
    a, b = landmarks[:, _PINKY1] - w, landmarks[:, _INDEX1] - w
    n = np.cross(a, b) if hand == 0 else np.cross(b, a)
    with np.errstate(invalid="ignore", divide="ignore"):
        return n / np.linalg.norm(n, axis=-1, keepdims=True)


def check_sides(res: HandResults, fail: Fail) -> None:
    """Left and right as the columns say: on the tracked rows, the palm normal the landmarks give by the side's rule
    must agree with the file's own reference (its palm normal, else -Y of T_Device_Wrist). A file whose sides are
    swapped (a left hand in the right columns) disagrees on most rows: refused, naming the first such line."""
    for h, side in enumerate(SIDES):
        ok = np.flatnonzero(res.tracked[:, h])
        if not len(ok):
            continue
        ref = res.palm_normal[ok, h] if res.palm_normal is not None else -res.device_from_wrist[ok, h, :3, 1]
        dots = np.sum(palmar(res.landmarks[ok, h], h) * ref, axis=-1)
        if np.median(dots) < 0:
            field = f"nx_{side}_palm_device" if res.palm_normal is not None else f"qx_{side}_device_wrist"
            first = ok[np.flatnonzero(dots < 0)[0]]
            msg = (
                f"line {first + 2}: the {side} landmarks are a mirror image of a {side} hand on "
                f"{int((dots < 0).sum())} of {len(ok)} tracked rows (their palm faces away from the file's "
                f"{'palm normal' if res.palm_normal is not None else 'wrist -Y'}): left and right swapped"
            )
            raise fail(msg, field)


@dataclass(frozen=True)
class WristAndPalm:
    """`wrist_and_palm_poses.csv`: (N,) micros, (N,2) confidence and tracked flags, (N,2,3) wrist and palm
    positions in the device frame (NaN where not tracked), (N,2,3) palm normals (None in the first version)."""

    micros: np.ndarray
    confidence: np.ndarray
    tracked: np.ndarray
    wrist: np.ndarray
    palm: np.ndarray
    palm_normal: np.ndarray | None = None

    @property
    def version(self) -> str:
        return "v1 (no normals)" if self.palm_normal is None else "v2 (palm and wrist normals)"


def read_wrist_and_palm(text: bytes, fail: Fail) -> WristAndPalm:
    header, rows = _table(text, fail)
    micros = _micros(header, rows, fail)
    n = len(rows)
    conf, tracked = np.zeros((n, 2)), np.zeros((n, 2), dtype=bool)
    wrist, palm = np.full((n, 2, 3), np.nan), np.full((n, 2, 3), np.nan)
    normals = all(f"n{a}_{s}_palm_device" in header for a in "xyz" for s in SIDES)
    normal = np.full((n, 2, 3), np.nan) if normals else None
    for h, side in enumerate(SIDES):
        field = f"{side}_tracking_confidence"
        conf[:, h] = _columns(header, rows, [field], fail)[:, 0]
        tracked[:, h] = _confidence(conf[:, h], field, fail)
        ok = tracked[:, h]
        points = ("wrist", wrist), ("palm", palm)
        for point, out in points if normal is None else (*points, ("palm_normal", normal)):
            prefix = "n" if point == "palm_normal" else "t"
            name = "palm" if point == "palm_normal" else point
            values = _columns(header, rows, [f"{prefix}{a}_{side}_{name}_device" for a in "xyz"], fail)
            zero = np.flatnonzero(ok & ~values.any(axis=1))
            if len(zero):  # a tracked hand's point or normal at 0: the missing-hand zeros with a confidence
                msg = f"line {zero[0] + 2}: {field} is {conf[zero[0], h]} but the {side} {point} is (0, 0, 0)"
                raise fail(msg, f"{prefix}x_{side}_{name}_device")
            out[ok, h] = values[ok]
    return WristAndPalm(micros, conf, tracked, wrist, palm, normal)


@dataclass(frozen=True)
class Trajectory:
    """`closed_loop_trajectory.csv` at the asked times: per time the nearest row's (N,) micros and (N,) distance in
    microseconds, (N,4,4) T_world_device; the world's up axis (-gravity), its `graph_uid`, the file's time span."""

    micros: np.ndarray
    gap: np.ndarray
    world_from_device: np.ndarray
    up: np.ndarray
    graph_uid: str
    span: tuple[int, int]


def read_trajectory(lines: Iterable[str], at: np.ndarray, fail: Fail) -> Trajectory:
    """The rows nearest each of the increasing times `at`, streamed: a 1 kHz trajectory of an hour is ~1 GB of text,
    past any reading budget, and only the rows at the hand times are kept (memory: len(at) rows). Every row's time is
    checked to increase and every row's `graph_uid` to be the first's."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if not header:
        raise fail("no header", "header")
    if "tracking_timestamp_us" not in header:
        raise fail("header has no tracking_timestamp_us column", "tracking_timestamp_us")
    ti = header.index("tracking_timestamp_us")
    gi = header.index("graph_uid") if "graph_uid" in header else None
    chosen: list[tuple[int, list[str]] | None] = [None] * len(at)
    k, prev, uid, first = 0, None, None, None
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            t = int(row[ti])
        except (ValueError, IndexError):
            raise fail(f"line {line}: tracking_timestamp_us is not an integer", "tracking_timestamp_us") from None
        if gi is not None:
            uid = row[gi] if uid is None else uid
            if row[gi] != uid:
                raise fail(f"line {line}: graph_uid {row[gi]!r} after {uid!r}: poses of different worlds", "graph_uid")
        if prev is not None and t <= prev[0]:
            raise fail(f"line {line}: tracking_timestamp_us does not increase", "tracking_timestamp_us")
        first = t if first is None else first
        while k < len(at) and at[k] < t:  # decided: this row or the one before, whichever is nearer
            chosen[k] = prev if prev is not None and at[k] - prev[0] <= t - at[k] else (t, row)
            k += 1
        prev = (t, row)
    if prev is None:
        raise fail("no rows", "tracking_timestamp_us")
    chosen[k:] = [prev] * (len(at) - k)
    rows = [c[1] for c in chosen if c is not None]
    micros = np.array([c[0] for c in chosen if c is not None], dtype=np.int64)
    v = _columns(header, rows, [f"{c}_world_device" for c in POSE7], fail)
    g = np.median(_columns(header, rows, [f"gravity_{a}_world" for a in "xyz"], fail), axis=0)
    if not np.linalg.norm(g) > 1.0:
        raise fail(f"gravity_world {g.tolist()} m/s^2 gives no down direction", "gravity_x_world")
    up = -g / np.linalg.norm(g)
    return Trajectory(micros, np.abs(micros - at), _pose(v[:, :3], v[:, 3:]), up, uid or "", (first, prev[0]))
