"""The canonical feature table (DESIGN.md section 3): hand-centric state/action, MANO-21 keypoints, cameras,
natives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Literal

import numpy as np

from schemas.camera_model import CameraModel
from schemas.lerobot_features import FeatureSpec, camera_feature

CANONICAL_FPS = 10
HANDS = ("left", "right")  # index 0 = left, 1 = right
FINGERTIPS = ("thumb", "index", "middle", "ring", "pinky")
DIMS_PER_HAND = 25
CANONICAL_DIM = DIMS_PER_HAND * len(HANDS)  # 50

# Offsets inside one hand's 25-dim block.
WRIST_POS = slice(0, 3)
WRIST_ROT6D = slice(3, 9)
GRIPPER = slice(9, 10)
FINGERTIPS_XYZ = slice(10, 25)

# MANO-21 in OpenPose/MediaPipe order (manopth `ManoLayer.forward`'s reordering, `ingest/canonical/mano/model.py`).
MANO21_NAMES = (
    "wrist",
    "thumb1", "thumb2", "thumb3", "thumb_tip",
    "index1", "index2", "index3", "index_tip",
    "middle1", "middle2", "middle3", "middle_tip",
    "ring1", "ring2", "ring3", "ring_tip",
    "pinky1", "pinky2", "pinky3", "pinky_tip",
)  # fmt: skip
NUM_KEYPOINTS = len(MANO21_NAMES)
# MANO-21 bones: wrist -> each finger's first joint, then along the finger (the geometry QA's, `bone_lengths`)
BONES: tuple[tuple[int, int], ...] = tuple(
    (0 if j == 0 else 1 + 4 * f + j - 1, 1 + 4 * f + j) for f in range(5) for j in range(4)
)


def bone_lengths(keypoints: np.ndarray) -> np.ndarray:
    """(N, 21, 3) MANO-21 keypoints -> (N, 20) bone lengths in `BONES` order."""
    a, b = np.array(BONES).T
    return np.linalg.norm(keypoints[:, b] - keypoints[:, a], axis=-1)


class Camera(StrEnum):
    """The small camera vocabulary; order here is the feature order in info.json."""

    head = "head"
    wrist_left = "wrist_left"
    wrist_right = "wrist_right"
    third_person = "third_person"


# The view that shows the task best first: the camera the latents stage, the captioner and training pick by default.
MAIN_CAMERA_ORDER: tuple[str, ...] = tuple(
    c.value for c in (Camera.head, Camera.third_person, Camera.wrist_right, Camera.wrist_left)
)


STATE = "observation.state"
ACTION = "action"
HAND_KEYPOINTS = "observation.hand_keypoints"
STATE_NATIVE = "observation.state.native"
ACTION_NATIVE = "action.native"
# The task's per-step outcomes (a reward, a discount, a done or success flag: an adapter's `outcomes`) beside the
# state rather than in it, under lerobot's own prefix for them (its datasets' `next.reward`, `next.done`): a key that
# starts with neither `observation` nor `action`, so lerobot's policies do not take it as an input (lerobot 0.3.3
# `dataset_to_policy_features` keeps only those) and a normalisation of the state does not mix a reward in (newcomer
# review 5: Bridge's `discount` and `reward` sat among its state natives).
OUTCOME_NATIVE = "next.native"
# Beside each native vector, one float32 0/1 per column: 1 where the column's stream has a sample at the frame, 0 where
# the stream is absent (before it starts, after it stops, inside a gap of its own), its column then holding the
# stream's nearest sample. float32, as the natives: a consumer multiplies by it, and lerobot 0.3.3's `Normalize`
# refuses a bool feature (the canonical `INTERPOLATED` flag, tests/jobs/export/lerobot_v3/test_clients.py).
NATIVE_VALID = {
    STATE_NATIVE: "observation.state.native_valid",
    ACTION_NATIVE: "action.native_valid",
    OUTCOME_NATIVE: "next.native_valid",
}
INTERPOLATED = "observation.interpolated"  # True where the frame was made up by up-sampling (source below fps)
# Per frame and hand (left, right), True where the hand's state, action and keypoints hold its tracked values; False
# where the source has the hand untracked (a HoloAssist hand psi did not see, a VITRA hand outside its `kept_frames`)
# or has no such hand at all. The hand's dims then hold 0, as an absent hand's; the other hand's frame is kept.
# bool like `INTERPOLATED`: the exports move it out of lerobot's policy namespaces (`frame.hand_valid`).
HAND_VALID = "observation.hand_valid"
HAND_VALID_INFO = {"values": "per hand (left, right): true where it is tracked at the frame, else its dims hold 0"}


IMAGE_PREFIX = "observation.images."


def image_key(camera: Camera | str) -> str:
    """`observation.images.<slot>`; a camera the source could not place keeps its own name (a source camera is
    never dropped: `ingest.canonical.canonicalize.native_camera_name`)."""
    return IMAGE_PREFIX + (Camera(camera).value if camera in set(Camera) else str(camera))


# A camera feature's `info` may carry its 3x3 pinhole intrinsics (row-major, pixels of the feature's (height, width)),
# beside the `video.*` keys lerobot probes: written at ingest from the source (e.g. EgoDex `camera/intrinsic`), so
# nothing downstream re-opens raw files.
INTRINSICS_KEY = "camera.intrinsics"


def intrinsics_info(K: np.ndarray) -> dict[str, list[list[float]]]:
    """The feature-info entry for a 3x3 pinhole matrix; ValueError unless finite with positive focal lengths."""
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"intrinsics must be a finite 3x3 matrix with positive fx, fy, got {K.tolist()}")
    return {INTRINSICS_KEY: K.tolist()}


# ... and its lens model (`schemas.camera_model`: pinhole or Kannala-Brandt fisheye with its coefficients), in pixels
# of the feature's frames: a fisheye carries this and no `camera.intrinsics`, so nothing projects it as a pinhole.
CAMERA_MODEL_KEY = "camera.model"


def camera_model_info(model: CameraModel) -> dict[str, dict[str, object]]:
    """The feature-info entry for a camera's lens model."""
    return {CAMERA_MODEL_KEY: model.model_dump()}


def feature_intrinsics(info: Mapping[str, object] | None) -> np.ndarray | None:
    """The 3x3 intrinsics a camera feature's `info` carries, or None (absent or malformed)."""
    raw = (info or {}).get(INTRINSICS_KEY)
    try:
        K = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return K if K.shape == (3, 3) and np.isfinite(K).all() else None


def scale_intrinsics(K: np.ndarray, from_hw: tuple[int, int], to_hw: tuple[int, int]) -> np.ndarray:
    """K for frames resized from (height, width) `from_hw` to `to_hw`: fx, cx scale with the width, fy, cy with the
    height (within half a pixel of the exact resize, whichever pixel-centre convention the source used)."""
    sy, sx = to_hw[0] / from_hw[0], to_hw[1] / from_hw[1]
    return np.diag([sx, sy, 1.0]) @ np.asarray(K, dtype=np.float64)


def main_video_key(video_keys: Sequence[str], camera: str | None = None) -> str | None:
    """The camera a stage looks at: `camera` when the dataset has it, else the first of `MAIN_CAMERA_ORDER` it has,
    else its first camera; None without video."""
    for name in ((camera,) if camera else ()) + MAIN_CAMERA_ORDER:
        key = name if name.startswith(IMAGE_PREFIX) else IMAGE_PREFIX + name
        if key in video_keys:
            return key
    return video_keys[0] if video_keys else None


def hand_block(hand: int) -> slice:
    """The 25 dims of hand 0 (left) or 1 (right) within the 50-dim vector."""
    return slice(hand * DIMS_PER_HAND, (hand + 1) * DIMS_PER_HAND)


def hand_dims(hand: int, part: slice) -> slice:
    base = hand * DIMS_PER_HAND
    return slice(base + part.start, base + part.stop)


def present_hands(mask: np.ndarray) -> list[int]:
    """Hands whose wrist position is real in this embodiment's mask."""
    return [h for h in range(len(HANDS)) if mask[hand_dims(h, WRIST_POS)].all()]


def _hand_names(hand: str, wrist: Sequence[str], rot: str, grip: str, tip_suffix: str) -> list[str]:
    names = [f"{hand}.wrist.{a}" for a in wrist]
    names += [f"{hand}.wrist.{rot}{i}" for i in range(6)]
    names.append(f"{hand}.{grip}")
    names += [f"{hand}.{tip}_tip.{a}{tip_suffix}" for tip in FINGERTIPS for a in "xyz"]
    return names


STATE_NAMES: tuple[str, ...] = tuple(n for h in HANDS for n in _hand_names(h, "xyz", "rot6d_", "gripper", ""))
ACTION_NAMES: tuple[str, ...] = tuple(
    n for h in HANDS for n in _hand_names(h, ("dx", "dy", "dz"), "drot6d_", "gripper_cmd", "_next")
)
assert len(STATE_NAMES) == len(ACTION_NAMES) == CANONICAL_DIM


# `observation.hand_keypoints` feature info. `has_hands`: the hands whose keypoints are tracked human hands (MANO-21);
# `robot_hands`: the hands whose keypoints are a dexterous robot hand's links by forward kinematics (written only when
# there are some); `mask`: (2, 21) 0/1 per hand and MANO-21 slot, 1 where the slot holds a real point. A human hand
# fills every slot; a robot hand only the slots its `schemas/robots/hands.yaml` entry names a link for (Dex3 has no
# ring / pinky, the Fourier and Inspire hands no DIP joints); an unfilled slot holds 0. Datasets written before the
# mask existed have none: `keypoint_slot_mask` reads them as every slot of the `has_hands` hands.
KEYPOINT_HUMAN_HANDS = "has_hands"
KEYPOINT_ROBOT_HANDS = "robot_hands"
KEYPOINT_MASK = "mask"
KeypointKind = Literal["human", "robot", "none"]


def keypoint_info(human_hands: Sequence[str], robot_hands: Sequence[str], slots: np.ndarray | None) -> dict[str, Any]:
    """The keypoint feature's info; `slots` (2, 21) bool, default every slot of the human hands."""
    if slots is None:
        slots = np.zeros((len(HANDS), NUM_KEYPOINTS), dtype=bool)
        slots[[HANDS.index(h) for h in human_hands]] = True
    slots = np.asarray(slots, dtype=bool)
    if slots.shape != (len(HANDS), NUM_KEYPOINTS):
        raise ValueError(f"keypoint slot mask must be {(len(HANDS), NUM_KEYPOINTS)}, got {slots.shape}")
    info: dict[str, Any] = {KEYPOINT_HUMAN_HANDS: list(human_hands)}
    if robot_hands:
        info[KEYPOINT_ROBOT_HANDS] = list(robot_hands)
    info[KEYPOINT_MASK] = slots.astype(int).tolist()
    return info


def keypoint_kind(info: Mapping[str, Any] | None) -> KeypointKind:
    """Whose keypoints a dataset's `observation.hand_keypoints` feature info declares."""
    info = info or {}
    if info.get(KEYPOINT_HUMAN_HANDS):
        return "human"
    return "robot" if info.get(KEYPOINT_ROBOT_HANDS) else "none"


def keypoint_slot_mask(info: Mapping[str, Any] | None) -> np.ndarray:
    """(2, 21) bool: the slots a dataset's keypoint feature info declares real (see `keypoint_info`)."""
    info = info or {}
    raw = info.get(KEYPOINT_MASK)
    if raw is None:
        raw = keypoint_info(info.get(KEYPOINT_HUMAN_HANDS) or (), (), None)[KEYPOINT_MASK]
    m = np.asarray(raw, dtype=bool)
    if m.shape != (len(HANDS), NUM_KEYPOINTS):
        raise ValueError(f"keypoint feature {KEYPOINT_MASK} must be {(len(HANDS), NUM_KEYPOINTS)}, got {m.shape}")
    return m


def canonical_features(
    cameras: Mapping[Camera | str, tuple[int, int]],
    embodiment: str,
    mask: Sequence[bool],
    keypoint_hands: Sequence[str] = (),
    native_state_names: Sequence[str] | None = None,
    native_action_names: Sequence[str] | None = None,
    *,
    interpolated_flag: bool = False,
    robot_keypoint_hands: Sequence[str] = (),
    keypoint_slots: np.ndarray | None = None,
    native_valid: bool = False,
    native_outcome_names: Sequence[str] | None = None,
    hand_valid: bool = False,
) -> dict[str, FeatureSpec]:
    """Feature specs of a canonical dataset, in info.json order (`Embodiment.features` fills the embodiment's part).

    `cameras` maps a camera of the vocabulary (or a source camera without a slot, by its own `[a-z0-9_]` name, after
    the vocabulary's) to its (height, width); `mask` marks the 50 dims that hold real data;
    `keypoint_hands` are the hands with human MANO-21 keypoints, `robot_keypoint_hands` those with a robot hand's
    MANO-21-style keypoints, `keypoint_slots` the (2, 21) slots that hold real points (`keypoint_info`). Native
    vectors are included only when named; with `native_valid`, each with its validity mask (`NATIVE_VALID`); with
    `hand_valid`, each hand's per-frame validity (`HAND_VALID`).
    """
    features: dict[str, FeatureSpec] = {}
    for cam in Camera:
        if cam in cameras or cam.value in cameras:
            h, w = cameras.get(cam, cameras.get(cam.value))  # type: ignore[misc]
            features[image_key(cam)] = camera_feature(h, w)
    for name in sorted({str(c) for c in cameras} - {c.value for c in Camera}):  # unplaced cameras, own names
        if not name.replace("_", "").isalnum() or name != name.lower():
            raise ValueError(f"camera name {name!r}: a vocabulary slot {[c.value for c in Camera]} or [a-z0-9_]")
        h, w = cameras[name]  # type: ignore[index]
        features[image_key(name)] = camera_feature(h, w)
    mask_info = {"embodiment": embodiment, "mask": np.asarray(mask, dtype=bool).astype(int).tolist()}
    features[STATE] = FeatureSpec(dtype="float32", shape=(CANONICAL_DIM,), names=list(STATE_NAMES), info=mask_info)
    features[ACTION] = FeatureSpec(dtype="float32", shape=(CANONICAL_DIM,), names=list(ACTION_NAMES), info=mask_info)
    features[HAND_KEYPOINTS] = FeatureSpec(
        dtype="float32",
        shape=(len(HANDS), NUM_KEYPOINTS, 3),
        names=[list(HANDS), list(MANO21_NAMES), ["x", "y", "z"]],
        info=keypoint_info(keypoint_hands, robot_keypoint_hands, keypoint_slots),
    )
    natives = ((STATE_NATIVE, native_state_names), (ACTION_NATIVE, native_action_names))
    natives += ((OUTCOME_NATIVE, native_outcome_names),)
    for key, names in natives:
        if names:
            features[key] = FeatureSpec(dtype="float32", shape=(len(names),), names=list(names))
    for key, names in natives:
        if names and native_valid:  # after the natives: lerobot's batch keeps info.json's order
            info = {"mask_of": key, "values": "1 where the column's stream has a sample at the frame, else 0"}
            features[NATIVE_VALID[key]] = FeatureSpec(
                dtype="float32", shape=(len(names),), names=list(names), info=info
            )
    if interpolated_flag:
        features[INTERPOLATED] = FeatureSpec(dtype="bool", shape=(1,), names=None)
    if hand_valid:
        features[HAND_VALID] = FeatureSpec(dtype="bool", shape=(len(HANDS),), names=list(HANDS), info=HAND_VALID_INFO)
    return features
