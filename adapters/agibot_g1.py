"""AgiBot's G1, shared by its two sources (AgiBot World `adapters/agibot/`, Genie Sim / A2D exports
`adapters/agibot_genie/`): both flanges in the robot base and the gripper opening, the cameras, and where an export's
episode folders lie (AgiBot World refuses a root holding exports by it).

Gripper: the state rises as the gripper closes, the reverse of the HF card's "gripper open range in mm" (the real
sample, OpenDriveLab/AgiBot-World issue #133 and AgibotTech's EnerVerse-AC agree; adapters/README.md `agibot` gives
each with its figures). The opening 0 (closed) .. 1 (open) is `(closed_mm - v) / (closed_mm - open_mm)`, clipped,
with `open_mm` 35 and `closed_mm` 120 (adapter options): an open phase reads > 0.9 whether the gripper rests at 35
(issue #133) or at 0 (the sample), a closed one about 0. Where a given robot's open stop lies between 0 and 35 is not
known. Dexterous hands declare no gripper (their 6 joints stay in the natives).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from pydantic import Field, model_validator

from adapters.base import AdapterOptions, HandSignals, HandTrack, Stream, natural_key
from adapters.camera_roles import camera_roles
from adapters.storage.location import Location
from schemas.canonical import Camera

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


# The G1's cameras for AgiBot World and Genie Sim / A2D exports alike, claimed before the shared vocabulary
# (adapters/camera_roles.yaml) places the others: the head and the plain hand cameras win their slots over the head
# fisheyes (head_center_fisheye, ...) and the hand fisheyes, which dexterous-hand tasks record as their only wrist
# cameras (any4lerobot agibot2lerobot/agibot_utils/config.py AgiBotWorld_BETA_DEXHAND_CONFIG: hand_{left,right}_fisheye,
# 768x960, no hand_left / hand_right): there the shared vocabulary makes them the wrists.
CAMERAS = {"head": Camera.head, "hand_left": Camera.wrist_left, "hand_right": Camera.wrist_right}


def camera_slots(found: Iterable[str]) -> dict[str, Camera | None]:
    """The canonical camera of each camera an episode has (`CAMERAS` first, then the shared vocabulary, each once),
    in the order they are read: placed cameras first, then by name."""
    roles = camera_roles(sorted(found, key=lambda c: (c not in CAMERAS, c)), CAMERAS)
    return {c: roles[c] for c in sorted(roles, key=lambda c: (roles[c] is None, c))}


H5_NAME, META_NAME, INFO_NAME = "aligned_joints.h5", "meta_info.json", "data_info.json"
MARKERS = (H5_NAME, META_NAME, INFO_NAME)
LAYOUT_DEPTH = 3  # <job>/<sn>/<episode>
WORLD_DIRS = frozenset({"task_info", "observations", "proprio_stats", "parameters"})  # AgiBot World raw, not exports


def episode_dirs(root: Location) -> Iterator[Location]:
    """Folders up to `<job>/<sn>/<episode>` below `root` (or `root` itself) holding any of the export's three files,
    in natural order; nothing below an episode folder is searched (its `record/`, `camera/`)."""

    def walk(folder: Location, depth: int) -> Iterator[Location]:
        try:
            entries = sorted(folder.scan(), key=lambda e: natural_key(e.name))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return
        names = {e.name for e in entries if not e.is_dir}
        if names & set(MARKERS):
            yield folder
            return
        if depth >= LAYOUT_DEPTH:
            return
        for e in entries:
            if e.is_dir and not (depth == 0 and e.name in WORLD_DIRS):
                yield from walk(e.path, depth + 1)

    yield from walk(root, 0)
