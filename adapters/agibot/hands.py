"""AgiBot World hand declaration: both flanges in the robot base and the gripper opening.

Gripper: the state rises as the gripper closes, the reverse of the HF card's "gripper open range in mm" (the real
sample, OpenDriveLab/AgiBot-World issue #133 and AgibotTech's EnerVerse-AC agree; adapters/README.md `agibot` gives
each with its figures). The opening 0 (closed) .. 1 (open) is `(closed_mm - v) / (closed_mm - open_mm)`, clipped,
with `open_mm` 35 and `closed_mm` 120 (adapter options): an open phase reads > 0.9 whether the gripper rests at 35
(issue #133) or at 0 (the sample), a closed one about 0. Where a given robot's open stop lies between 0 and 35 is not
known. Dexterous hands declare no gripper (their 6 joints stay in the natives).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from adapters.base import AdapterOptions, HandSignals, HandTrack, Stream

GRIPPER_OPEN_MM = 35.0  # issue #133: "almost fully open" about 35
GRIPPER_CLOSED_MM = 120.0  # EnerVerse-AC: "Gripper Range in AgiBotWorld < 120"; real sample max 120.0
_ARMS = ("left", "right")


class GripperOptions(AdapterOptions):
    """The two ends of the gripper scale, options of both G1 sources (AgiBot World, Genie Sim / A2D exports)."""

    gripper_open_mm: float = Field(GRIPPER_OPEN_MM, description="gripper state (mm) read as fully open (opening 1)")
    gripper_closed_mm: float = Field(GRIPPER_CLOSED_MM, description="gripper state (mm) read as closed (opening 0)")

    @model_validator(mode="after")
    def _gripper_range(self) -> GripperOptions:
        if self.gripper_closed_mm <= self.gripper_open_mm:
            raise ValueError(
                f"gripper_closed_mm ({self.gripper_closed_mm}) must exceed gripper_open_mm ({self.gripper_open_mm}): "
                "the AgiBot gripper state rises as it closes"
            )
        return self


def gripper_opening(
    mm: np.ndarray, open_mm: float = GRIPPER_OPEN_MM, closed_mm: float = GRIPPER_CLOSED_MM
) -> np.ndarray:
    """Gripper state in mm (higher = more closed) -> opening 0 (closed) .. 1 (open)."""
    return np.clip((closed_mm - np.asarray(mm, dtype=np.float64)) / (closed_mm - open_mm), 0.0, 1.0)


def hand_signals(
    states: dict[str, Stream], open_mm: float = GRIPPER_OPEN_MM, closed_mm: float = GRIPPER_CLOSED_MM
) -> HandSignals:
    """Both arms in the robot base, index 0 = left: `end.position` (T,2,3) m with `end.orientation` (T,2,4) xyzw;
    the gripper opening from `effector.position` (T,2) or `{left,right}_effector.position` (T,1), mm. Base-relative
    poses: no decoupling."""
    sig = HandSignals(frame="robot_base")
    pos, ori = states.get("end.position"), states.get("end.orientation")
    for hand, arm in enumerate(_ARMS):
        track = HandTrack()
        if pos is not None and ori is not None:
            track.position = Stream(pos.timestamps, pos.values[:, hand], unit="m", frame="robot_base")
            track.rotation = Stream(ori.timestamps, ori.values[:, hand], unit="quat_xyzw", frame="robot_base")
        both, own = states.get("effector.position"), states.get(f"{arm}_effector.position")
        if both is not None and both.values.shape[1:] == (2,):
            track.gripper = Stream(both.timestamps, gripper_opening(both.values[:, hand], open_mm, closed_mm))
        elif own is not None and own.values.shape[1:] == (1,):
            track.gripper = Stream(own.timestamps, gripper_opening(own.values[:, 0], open_mm, closed_mm))
        sig.hands[hand] = track
    if pos is None or ori is None:
        sig.notes.append("no state/end pose: canonical wrist dims unavailable")
    return sig
