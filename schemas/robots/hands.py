"""Dexterous robot hands as data: which links of a hand description (`descriptions/<name>.urdf`) are its fingertips
and its MANO-21-style keypoints, how datasets order its joints, which way each joint opens, and where the hand sits on
its arm. The numbers live in `schemas/robots/hands.yaml` (each entry citing its maker files); this module is the
contract that validates them. Forward kinematics over these links is `ingest.kinematics`' job, not this module's.

- `fingertips`: thumb, index, middle, ring, pinky, in that order; null where the hand has no such finger (a
  three-finger hand fills thumb/index/middle).
- `keypoints`: 21 links in `schemas.canonical.MANO21_NAMES` order (wrist, then per finger CMC/MCP, PIP/MCP, DIP/IP,
  tip); null where the hand has no joint there. Slot k of a finger's tip is always that finger's fingertip link.
- `native_order`: the hand's actuated joints in the order datasets record them (`native_names` are those datasets'
  column names, `other_names` other recorders' names for the same joints, each list in the same order), in
  `native_unit`: `rad` joint angles, or `inspire_0_1` (Inspire's normalized actuator value,
  1 = open, 0 = closed, linear between `ranges[j].open` and `ranges[j].closed` radians).
- `ranges`: per native joint, the angle of the open hand and of the closed hand (the limit the maker's axis closes
  towards); open == closed marks a joint that does not open or close the hand (a thumb's abduction).
- `mounts`: per arm description the hand is bolted to (one hand model on several robots: the Inspire RH56 on the G1
  and on the H1_2), the rigid transform arm wrist link -> hand base link, as the maker's combined model writes it; the
  arm description carries the same transform as a fixed link (`mount_link`), so fingertips in the wrist frame are the
  arm's FK to `mount_link` composed with the hand's own FK (`HandSpec.mount_on`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from schemas.canonical import MANO21_NAMES
from schemas.data_file import read_yaml
from schemas.frozen import Frozen

FINGERS = ("thumb", "index", "middle", "ring", "pinky")
HANDS_YAML = Path(__file__).parent / "hands.yaml"
Vec3 = tuple[float, float, float]


class HandMount(Frozen):
    """Where the hand's base link sits on an arm description: T_wrist_link<-hand_base = (xyz, rpy), URDF convention."""

    arm: str = Field(min_length=1, description="stem of the arm's description in schemas/robots/")
    wrist_link: str = Field(min_length=1, description="the arm link the hand is bolted to")
    mount_link: str = Field(min_length=1, description="fixed link of the arm description coinciding with the hand base")
    xyz: Vec3
    rpy: Vec3
    source: str = Field(min_length=1)


class JointRange(Frozen):
    open: float = Field(description="joint angle (rad) of the open hand")
    closed: float = Field(description="joint angle (rad) of the closed hand, the limit the maker's axis closes towards")


class HandSpec(Frozen):
    description: str = Field(min_length=1, description="stem of schemas/robots/descriptions/<name>.urdf")
    side: Literal["left", "right"]
    base_link: str = Field(min_length=1)
    fingertips: dict[str, str | None]
    keypoints: tuple[str | None, ...]
    native_order: tuple[str, ...] = Field(min_length=1)
    native_names: tuple[str, ...] = Field(min_length=1)
    other_names: tuple[tuple[str, ...], ...] = Field(
        (), description="other datasets' names for the native joints, each a full list in native_order"
    )
    native_unit: Literal["rad", "inspire_0_1"]
    ranges: dict[str, JointRange]
    mounts: tuple[HandMount, ...] = Field(min_length=1, description="where it sits on each arm description")
    source: str = Field(min_length=1)

    def mount_on(self, arm: str) -> HandMount:
        """The hand's mount on the arm description `arm`; KeyError naming the arms it has mounts for."""
        for m in self.mounts:
            if m.arm == arm:
                return m
        raise KeyError(f"{self.description} has no mount on {arm!r}; mounts: {[m.arm for m in self.mounts]}")

    @model_validator(mode="after")
    def _consistent(self) -> HandSpec:
        if tuple(self.fingertips) != FINGERS:
            got = tuple(self.fingertips)
            raise ValueError(f"{self.description}: fingertips must list {FINGERS} in order, got {got}")
        if not any(self.fingertips.values()):
            raise ValueError(f"{self.description}: a dexterous hand needs at least one fingertip link")
        if len(self.keypoints) != len(MANO21_NAMES):
            raise ValueError(f"{self.description}: keypoints has {len(self.keypoints)} entries, MANO-21 needs 21")
        if self.keypoints[0] != self.base_link:
            raise ValueError(f"{self.description}: keypoint 0 (wrist) must be the base link {self.base_link!r}")
        for i, finger in enumerate(FINGERS):
            tip = self.keypoints[4 * i + 4]
            if tip != self.fingertips[finger]:
                raise ValueError(
                    f"{self.description}: keypoint {MANO21_NAMES[4 * i + 4]} is {tip!r}, "
                    f"its fingertip is {self.fingertips[finger]!r}"
                )
        if len(self.native_names) != len(self.native_order) or len(set(self.native_order)) != len(self.native_order):
            raise ValueError(f"{self.description}: native_order and native_names must be equally long, no repeats")
        if any(len(names) != len(self.native_order) for names in self.other_names):
            raise ValueError(f"{self.description}: each list of other_names names every joint of native_order")
        arms = [m.arm for m in self.mounts]
        if len(set(arms)) != len(arms):
            raise ValueError(f"{self.description}: one mount per arm description, got {arms}")
        if set(self.ranges) != set(self.native_order):
            raise ValueError(f"{self.description}: ranges must cover exactly the native joints {self.native_order}")
        return self


class HandsFile(Frozen):
    hands: dict[str, HandSpec]

    @model_validator(mode="after")
    def _keys_are_descriptions(self) -> HandsFile:
        wrong = [k for k, h in self.hands.items() if k != h.description]
        if wrong:
            raise ValueError(f"hands {wrong}: the key must equal the entry's description")
        return self


@cache
def load_hands() -> HandsFile:
    return read_yaml(HANDS_YAML, HandsFile)
