"""One VITRA-1M episode file (`Metadata/<dataset>/episodic_annotations/<dataset>_<video>_ep_<id>.npy`) read without
running it, and checked into a typed `VitraEpisode`.

The file is a 0-d object `.npy` whose payload is a pickled dict (microsoft/VITRA@c68b65e:data/data.md:172-216, loaded
there with `np.load(..., allow_pickle=True).item()`), read by `adapters.pickles.SafeUnpickler` (numpy's globals only:
the four the real sample's pickle names).

Fields and their meaning from data.md:172-216 and the maker's readers: `extrinsics` world-to-camera (T,4,4)
(visualization/visualize_core.py:324-335; on the real sample `joints_camspace` = extrinsics applied to
`joints_worldspace` to 3e-16 m); `intrinsics` for a video of 2cx x 2cy pixels (visualize_core.py:313-322);
`video_decode_frame` frame indices of the raw video from 0; per hand `kept_frames` 0/1, `joints_worldspace` (T,21,3)
metres in OpenPose order (HaMeR's `mano_to_openpose`, libs/models/mano_wrapper.py:18), `transl_worldspace` the
wrist joint, `global_orient_worldspace` (T,3,3), `hand_pose` (T,15,3,3) and `beta` (10,) on MANO_RIGHT for both
hands; `text` / `text_rephrase` per hand as (description(s), (start, end)) with `end` exclusive (the real sample's
right segment is (0, 25) over 25 frames).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

SIDES = ("left", "right")
HAND_SHAPES: dict[str, tuple[int, ...]] = {
    "kept_frames": (),
    "joints_worldspace": (21, 3),
    "transl_worldspace": (3,),
    "global_orient_worldspace": (3, 3),
    "hand_pose": (15, 3, 3),
}


@dataclass(frozen=True)
class Segment:
    """A hand's language over episode frames [start, end) (end exclusive); `texts` the description or rephrasings."""

    texts: tuple[str, ...]
    start: int
    end: int


@dataclass(frozen=True)
class VitraHand:
    kept: np.ndarray  # (T,) bool
    joints: np.ndarray  # (T,21,3) world, metres
    wrist: np.ndarray  # (T,3) the wrist joint, world
    orient: np.ndarray  # (T,3,3) MANO global orientation, world
    pose: np.ndarray  # (T,15,3,3) MANO_RIGHT local rotations
    beta: np.ndarray  # (10,)
    text: tuple[Segment, ...]
    rephrase: tuple[Segment, ...]


@dataclass(frozen=True)
class VitraEpisode:
    video_name: str
    frames: np.ndarray  # (T,) int, `video_decode_frame`
    extrinsics: np.ndarray  # (T,4,4) world-to-camera
    intrinsics: np.ndarray  # (3,3) for a 2cx x 2cy video
    anno_type: str
    hands: dict[str, VitraHand]
    stats: dict[str, float]  # avg_speed, total_rotvec_degree, total_transl_dist


def _array(d: dict, key: str, shape: tuple[int, ...], fail: Callable[[str, str], Exception]) -> np.ndarray:
    if key not in d:
        raise fail(f"missing {key!r}", key)
    a = np.asarray(d[key])
    if a.dtype == object or a.ndim != len(shape) + 1 or a.shape[1:] != shape:
        want = ", ".join(("T", *map(str, shape)))
        raise fail(f"shape {a.shape} ({a.dtype}), expected ({want})", key)
    return a


def _segments(d: dict, key: str, side: str, fail: Callable[[str, str], Exception]) -> tuple[Segment, ...]:
    out = []
    for i, entry in enumerate((d.get(key) or {}).get(side) or []):
        try:
            texts, (start, end) = entry
            texts = (texts,) if isinstance(texts, str) else tuple(texts)
            out.append(Segment(tuple(str(t).strip() for t in texts), int(start), int(end)))
        except (TypeError, ValueError) as e:
            raise fail(f"not (text, (start, end)): {e}", f"{key}.{side}[{i}]") from e
    return tuple(out)


def vitra_episode(d: Any, fail: Callable[[str, str], Exception]) -> VitraEpisode:
    """The checked episode of an unpickled dict; `fail(message, field)` makes the error to raise."""
    if not isinstance(d, dict):
        raise fail(f"a pickled {type(d).__name__}, not an episode dict", "")
    frames = np.asarray(d.get("video_decode_frame", []))
    n = len(frames)
    if frames.ndim != 1 or n == 0 or frames.dtype.kind not in "iu" or frames.min() < 0 or (np.diff(frames) <= 0).any():
        raise fail("not increasing non-negative frame indices", "video_decode_frame")
    extr = _array(d, "extrinsics", (4, 4), fail)
    intr = np.asarray(d.get("intrinsics"), dtype=np.float64)
    if intr.shape != (3, 3) or not np.isfinite(intr).all() or intr[0, 2] <= 0 or intr[1, 2] <= 0:
        raise fail(f"not a 3x3 pinhole matrix with a positive principal point: {intr.tolist()}", "intrinsics")
    hands = {}
    for side in SIDES:
        h = d.get(side)
        if not isinstance(h, dict):
            raise fail("missing hand", side)
        arrays = {k: _array(h, k, s, lambda m, f, side=side: fail(m, f"{side}.{f}")) for k, s in HAND_SHAPES.items()}
        beta = np.asarray(h.get("beta"), dtype=np.float64).reshape(-1)
        hands[side] = VitraHand(
            arrays["kept_frames"].astype(bool),
            *(arrays[k].astype(np.float64) for k in list(HAND_SHAPES)[1:]),
            beta,
            _segments(d, "text", side, fail),
            _segments(d, "text_rephrase", side, fail),
        )
    if len(extr) != n:
        raise fail(f"{len(extr)} rows for {n} video_decode_frame entries", "extrinsics")
    for s in SIDES:
        h = hands[s]
        for k, a in zip(HAND_SHAPES, (h.kept, h.joints, h.wrist, h.orient, h.pose), strict=True):
            if len(a) != n:
                raise fail(f"{len(a)} rows for {n} video_decode_frame entries", f"{s}.{k}")
    stats = {k: float(d[k]) for k in ("avg_speed", "total_rotvec_degree", "total_transl_dist") if k in d}
    return VitraEpisode(
        str(d.get("video_name", "")),
        frames.astype(np.int64),
        extr.astype(np.float64),
        intr,
        str(d.get("anno_type", "")),
        hands,
        stats,
    )
