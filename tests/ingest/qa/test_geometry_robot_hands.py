"""Geometry QA on a robot hand's keypoints (`measure(..., keypoint_slots=...)`): no human hand-length band, bone
rigidity over the bones whose two ends are real slots only, and a non-rigid bone is caught."""

from __future__ import annotations

import numpy as np

from ingest.qa.geometry import measure
from schemas.canonical import BONES
from schemas.canonicalize import KinematicLimits
from schemas.qa import QAConfig


def _hand(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 21, 3) a rigid hand (fixed offsets from the wrist) carried along a random path, DIP slots zero."""
    offsets = rng.normal(scale=0.03, size=(21, 3))
    offsets[0] = 0
    kp = offsets[None] + np.cumsum(rng.normal(scale=0.005, size=(n, 1, 3)), axis=0)
    kp[:, [3, 7, 11, 15, 19]] = 0.0  # the slots this hand lacks hold 0
    return kp


def _measure(kp: np.ndarray, slots: np.ndarray | None):
    n = len(kp)
    both = np.stack([kp, kp], axis=1)
    mask = np.zeros(50, dtype=bool)
    return measure(
        np.zeros((n, 50)),
        np.zeros((n, 50)),
        both,
        mask,
        limits=KinematicLimits(),
        config=QAConfig(),
        keypoint_slots=slots,
    )


def test_rigid_robot_hand_passes_and_skips_the_length_band() -> None:
    kp = _hand(40, np.random.default_rng(0))
    slots = np.ones((2, 21), dtype=bool)
    slots[:, [3, 7, 11, 15, 19]] = False
    rec = _measure(kp, slots)
    assert rec.hand_length is None and rec.bone_length_cv is not None and rec.bone_length_cv < 1e-9
    # read as a human hand, the zeroed slots make its bones stretch with the motion: that is why the mask matters
    human = _measure(kp, None)
    assert human.hand_length is not None and human.bone_length_cv > 0.01


def test_a_bone_that_stretches_is_caught() -> None:
    rng = np.random.default_rng(1)
    kp = _hand(40, rng)
    slots = np.ones((2, 21), dtype=bool)
    slots[:, [3, 7, 11, 15, 19]] = False
    bones = [k for k, (a, b) in enumerate(BONES) if slots[0, a] and slots[0, b]]
    assert len(bones) == 10
    # every real bone's far end wobbles: a wrong link table or a broken FK
    for k in bones:
        kp[:, BONES[k][1]] += rng.normal(scale=0.01, size=(40, 3))
    assert _measure(kp, slots).bone_length_cv > QAConfig().max_bone_length_cv
