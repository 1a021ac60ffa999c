"""Which native streams of a `RawEpisode` carry the hands: wrist poses, gripper opening, keypoints, camera motion.

One extractor per adapter turns the source's own streams into `HandSignals` (still on native timestamps, native
frames); `canonicalize` then resamples, applies EEF offsets, decouples camera motion and fills the 50-dim vectors.

Per adapter:
- oxe: wrist pose from `*:eef_xyz` / `*:tcp_xyz` with `*:eef_quat`, `*:eef_rpy`, `*:eef_euler` or `*:tcp_euler`
  (robot base); gripper opening from `:gripper` named `gripper_open` as is, `*gripper_closed*` and droid's
  `gripper_position` inverted, `gripper_width` / 0.08 m. The right hand; no keypoints, fixed camera.
- agibot: `end.position` (T,2,3) + `end.orientation` (T,2,4) xyzw in the robot base, index 0 = left; gripper
  variant: 1 - `effector.position` / 120 mm (assumed closing stroke). Poses are base-relative: no decoupling.
- egodex: `mano21_keypoints` (T,2,21,3) in the ARKit world (wrist frames built from them), the moving camera
  `camera_poses["camera"]` with up = +y for decoupling; no gripper.
- lerobot: datasets already in our canonical layout pass through (`observation.state`, `action`,
  `observation.hand_keypoints`); other layouts keep natives only.
- ego4d: actionless video, no hand signals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from adapters.base import RawEpisode, Stream
from ingest.canonical.frames import pose_from_pos_euler, pose_from_pos_quat
from schemas.canonical import CANONICAL_DIM, STATE_NAMES

ARKIT_UP = np.array([0.0, 1.0, 0.0])  # ARKit's world frame is gravity-aligned with +y up
FRANKA_MAX_WIDTH_M = 0.08  # Franka Hand maximum opening (datasheet)
AGIBOT_GRIPPER_STROKE_MM = 120.0  # assumption: AgiBot effector position runs 0 (open) .. 120 mm (closed)


@dataclass
class HandTrack:
    """One hand's native signals. Poses are (T,4,4) in `HandSignals.frame`."""

    wrist: Stream | None = None
    gripper: Stream | None = None  # (T,) opening 0..1
    keypoints: Stream | None = None  # (T,21,3) in the pose frame
    confidence: Stream | None = None  # (T,) tracking confidence 0..1


@dataclass
class HandSignals:
    hands: dict[int, HandTrack] = field(default_factory=dict)  # 0 = left, 1 = right
    frame: str = "robot_base"
    apply_offset: bool = True  # poses are at the source's EEF point: move them to the canonical wrist
    camera: Stream | None = None  # world_from_camera (T,4,4) of a moving camera, for decoupling
    up_world: np.ndarray | None = None
    canonical: tuple[Stream, Stream | None, Stream | None] | None = None  # already canonical: state, action, keypoints
    native_state_keys: list[str] | None = (
        None  # the streams kept as `observation.state.native` (None: the default rule)
    )
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.canonical and not any(
            h.wrist is not None or h.keypoints is not None or h.gripper is not None for h in self.hands.values()
        )


def _find(streams: dict[str, Stream], *suffixes: str) -> Stream | None:
    for suffix in suffixes:
        for key, s in streams.items():
            if key.endswith(suffix):
                return s
    return None


def _flat(s: Stream) -> np.ndarray:
    return s.values.reshape(len(s), -1).astype(np.float64)


def from_oxe(ep: RawEpisode) -> HandSignals:
    st = ep.states
    xyz = _find(st, ":eef_xyz", ":tcp_xyz")
    quat = _find(st, ":eef_quat")
    euler = _find(st, ":eef_rpy", ":eef_euler", ":tcp_euler")
    sig = HandSignals(frame="robot_base")
    track = HandTrack()
    if xyz is not None and (quat is not None or euler is not None):
        pos = _flat(xyz)
        if quat is not None:
            poses = pose_from_pos_quat(pos, _flat(quat))
        else:
            poses = pose_from_pos_euler(pos, _flat(euler), seq="xyz")  # roll, pitch, yaw about fixed axes
        track.wrist = Stream(xyz.timestamps, poses, unit="se3_4x4", frame="robot_base")
    else:
        sig.notes.append("no end-effector pose stream: canonical wrist dims unavailable")
    track.gripper = _oxe_gripper(st)
    sig.hands[1] = track  # one-armed robots fill the right hand
    return sig


def _oxe_gripper(st: dict[str, Stream]) -> Stream | None:
    for key, s in st.items():
        names = " ".join(s.names or ()) + " " + key
        v = _flat(s)[:, 0] if len(s) else np.empty(0)
        if "gripper_open" in names:
            return Stream(s.timestamps, np.clip(v, 0, 1))
        if "gripper_closed" in names or key.endswith("gripper_position"):
            return Stream(s.timestamps, np.clip(1.0 - v, 0, 1))
        if "gripper_width" in key or "gripper_opening_width" in names:
            return Stream(s.timestamps, np.clip(v / FRANKA_MAX_WIDTH_M, 0, 1))
    return None


def from_agibot(ep: RawEpisode) -> HandSignals:
    st = ep.states
    sig = HandSignals(frame="robot_base")
    pos, ori = st.get("end.position"), st.get("end.orientation")
    eff = st.get("effector.position")
    for hand in (0, 1):
        track = HandTrack()
        if pos is not None and ori is not None:
            poses = pose_from_pos_quat(pos.values[:, hand].astype(np.float64), ori.values[:, hand].astype(np.float64))
            track.wrist = Stream(pos.timestamps, poses, unit="se3_4x4", frame="robot_base")
        if eff is not None and eff.values.shape[1:] == (2,):
            opening = 1.0 - eff.values[:, hand].astype(np.float64) / AGIBOT_GRIPPER_STROKE_MM
            track.gripper = Stream(eff.timestamps, np.clip(opening, 0, 1))
        sig.hands[hand] = track
    if pos is None or ori is None:
        sig.notes.append("no state/end pose: canonical wrist dims unavailable")
    return sig


def from_egodex(ep: RawEpisode) -> HandSignals:
    st = ep.states
    sig = HandSignals(frame="arkit_world", apply_offset=False, up_world=ARKIT_UP)
    # 68 joints x 16 values would swamp the native vector: keep the wrists and their tracking confidence
    sig.native_state_keys = [
        k for side in ("left", "right") for k in (f"transforms/{side}Hand", f"confidences/{side}Hand") if k in st
    ]
    sig.camera = ep.camera_poses.get("camera")
    kp = st.get("mano21_keypoints")
    for hand, side in ((0, "left"), (1, "right")):
        # the wrist frame comes from the keypoints (z = wrist -> middle knuckle), as for every human source,
        # rather than ARKit's own joint axes; the raw transforms stay in the natives
        track = HandTrack(confidence=st.get(f"confidences/{side}Hand"))
        if kp is not None:
            track.keypoints = Stream(kp.timestamps, kp.values[:, hand].astype(np.float64), unit="m", frame=kp.frame)
        sig.hands[hand] = track
    return sig


def from_lerobot(ep: RawEpisode) -> HandSignals:
    """Canonical datasets (ours, or converted to our layout) pass through; other layouts keep natives only."""
    state = ep.states.get("observation.state")
    names = tuple(state.names or ()) if state is not None else ()
    if state is not None and state.values.shape[1:] == (CANONICAL_DIM,) and names == STATE_NAMES:
        action = ep.actions.get("action")
        kp = ep.states.get("observation.hand_keypoints")
        return HandSignals(canonical=(state, action, kp), apply_offset=False)
    sig = HandSignals()
    sig.notes.append("no canonical end-effector layout in this LeRobot dataset: natives only")
    return sig


def from_video_only(ep: RawEpisode) -> HandSignals:
    return HandSignals(notes=["video without hand signals"])


EXTRACTORS: dict[str, Callable[[RawEpisode], HandSignals]] = {
    "oxe": from_oxe,
    "agibot": from_agibot,
    "egodex": from_egodex,
    "lerobot": from_lerobot,
    "ego4d": from_video_only,
}


def extract(ep: RawEpisode) -> HandSignals:
    try:
        fn = EXTRACTORS[ep.ref.adapter]
    except KeyError:
        raise KeyError(
            f"no hand-signal extractor for adapter {ep.ref.adapter!r}; known: {sorted(EXTRACTORS)}"
        ) from None
    return fn(ep)
