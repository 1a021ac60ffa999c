"""UmeTrack hand landmarks from a HOT3D hand profile: joint angles + wrist pose -> 21 landmarks, in numpy.

The math follows the maker's own skinning (facebookresearch/hot3d `hot3d/UmeTrack/common/hand_skinning.py`,
`hot3d/data_loaders/UmeTrackHandDataProvider.py`): each of the 20 finger DoF is a rotation by its angle about its own
axis through its rest position (R, t = p - R p); a finger's chain is wrist · L0 · L1 · ... and keeps the three frames
after L0·L1, L0·L1·L2 and L0·L1·L2·L3; the 17 skinning frames are [wrist (root), wrist, 5 fingers x 3]; a landmark is
the bone-weighted sum of its rest position carried by those frames. The profile (`umetrack_hand_user_profile.json`,
`hand_model`) is in millimetres (x 1e-3, as `from_dict` does) and describes a LEFT hand: a right hand's wrist
transform has its x column negated (`T[:, 0] *= -1`), mirroring it.

Landmark order (`hot3d/data_loaders/hand_common.py` `LANDMARK_INDEX_TO_NAMING`): 5 fingertips (thumb..pinky), wrist,
thumb intermediate and distal, then proximal/intermediate/distal of index, middle, ring, pinky, palm centre. Mapped to
MANO-21 as the maker maps MANO to it (`hot3d/data_loaders/mano_layer.py` `mano_to_nimble_joint_mapping`: thumb
intermediate = MANO thumb2, index proximal = index1, ...). MANO's thumb1 (the CMC joint) has no landmark: it is the
rest position of the thumb's first DoF joint carried by the wrist (the joint rotates about itself), our reading.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.poses import se3
from schemas.canonical import MANO21_NAMES

NUM_DOF = 20
DOF_PER_FINGER = 4
NUM_FRAMES = 17
MM = 1e-3
# UmeTrack landmark index for each MANO-21 keypoint (None: thumb1, from the skeleton); hand_common.LANDMARK order
_LANDMARK_OF = {"wrist": 5, "thumb2": 6, "thumb3": 7, "thumb_tip": 0, "index1": 8, "index2": 9, "index3": 10,
                "index_tip": 1, "middle1": 11, "middle2": 12, "middle3": 13, "middle_tip": 2, "ring1": 14,
                "ring2": 15, "ring3": 16, "ring_tip": 3, "pinky1": 17, "pinky2": 18, "pinky3": 19,
                "pinky_tip": 4}  # fmt: skip
REQUIRED = (
    "joint_rotation_axes",
    "joint_rest_positions",
    "landmark_rest_positions",
    "landmark_rest_bone_weights",
    "landmark_rest_bone_indices",
)


class UmeTrackProfile:
    """The arrays of a `hand_model` that landmark skinning needs, in metres."""

    def __init__(self, hand_model: Mapping[str, Any]) -> None:
        missing = [k for k in REQUIRED if k not in hand_model]
        if missing:
            raise ValueError(f"hand_model has no {missing[0]}")
        self.axes = np.asarray(hand_model["joint_rotation_axes"], np.float64)[:NUM_DOF]
        self.rest = np.asarray(hand_model["joint_rest_positions"], np.float64)[:NUM_DOF] * MM
        self.landmarks = np.asarray(hand_model["landmark_rest_positions"], np.float64) * MM
        weights = np.asarray(hand_model["landmark_rest_bone_weights"], np.float64)
        bones = np.asarray(hand_model["landmark_rest_bone_indices"], np.int64)
        if self.axes.shape != (NUM_DOF, 3) or self.rest.shape != (NUM_DOF, 3) or self.landmarks.shape != (21, 3):
            raise ValueError(
                f"hand_model shapes: axes {self.axes.shape}, rest {self.rest.shape}, "
                f"landmarks {self.landmarks.shape}; expected (20,3), (20,3), (21,3)"
            )
        if weights.shape != bones.shape or len(weights) != 21 or bones.min() < 0 or bones.max() >= NUM_FRAMES:
            raise ValueError(f"landmark bone weights {weights.shape} / indices {bones.shape} do not fit 17 frames")
        self.skin = np.zeros((21, NUM_FRAMES))
        for lm in range(21):
            np.add.at(self.skin[lm], bones[lm], weights[lm])

    def frames(self, angles: np.ndarray, wrist: np.ndarray) -> np.ndarray:
        """(T,20) joint angles, (T,4,4) wrist transforms -> (T,17,4,4) skinning frames."""
        n = len(angles)
        rotvec = (self.axes[None] * angles[:, :NUM_DOF, None]).reshape(-1, 3)
        rot = Rotation.from_rotvec(rotvec).as_matrix().reshape(n, NUM_DOF, 3, 3)
        local = se3(rot, self.rest[None] - np.einsum("tjab,jb->tja", rot, self.rest))
        out = [wrist, wrist]
        for f in range(5):
            chain = wrist
            for k in range(DOF_PER_FINGER):
                chain = chain @ local[:, f * DOF_PER_FINGER + k]
                if k >= 1:
                    out.append(chain)
        return np.stack(out, axis=1)

    def landmarks_at(self, angles: np.ndarray, wrist: np.ndarray) -> np.ndarray:
        """(T,21,3) UmeTrack landmarks in the wrist transform's frame (metres)."""
        frames = self.frames(angles, wrist)
        rest_h = np.concatenate([self.landmarks, np.ones((21, 1))], axis=1)
        moved = np.einsum("tfab,lb->tlfa", frames, rest_h)[..., :3]  # every landmark by every frame
        return np.einsum("tlfa,lf->tla", moved, self.skin)

    def mano21(self, angles: np.ndarray, wrist: np.ndarray) -> np.ndarray:
        """(T,21,3) keypoints in `schemas.canonical.MANO21_NAMES` order."""
        lms = self.landmarks_at(angles, wrist)
        thumb1 = np.einsum("tab,b->ta", wrist, np.append(self.rest[0], 1.0))[:, :3]
        return np.stack([thumb1 if name == "thumb1" else lms[:, _LANDMARK_OF[name]] for name in MANO21_NAMES], axis=1)


def mirror_right(wrist: np.ndarray) -> np.ndarray:
    """A right hand's wrist transforms as the left-hand profile needs them (x column negated)."""
    out = np.array(wrist, dtype=np.float64, copy=True)
    out[..., :, 0] *= -1
    return out
