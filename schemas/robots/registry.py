"""The embodiment registry: which hands an embodiment has, what effector, which canonical dims are real, EEF offset."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.canonical import (
    CANONICAL_DIM,
    FINGERTIPS_XYZ,
    GRIPPER,
    NUM_KEYPOINTS,
    WRIST_POS,
    WRIST_ROT6D,
    canonical_features,
    hand_dims,
)
from schemas.data_file import read_yaml
from schemas.frozen import Frozen
from schemas.lerobot_features import FeatureSpec
from schemas.robots.eef_offsets import EEF_OFFSETS
from schemas.robots.joint_space import PIPER_BIMANUAL, SO100_BIMANUAL, SO101_BIMANUAL, JointSpaceSpec, load_joint_space
from schemas.transform import RigidTransform

# Every joint-space robot by embodiment name: its description, native joint names and wrist frame (the data in
# `joint_space.yaml` and the two-arm pairs of `bimanual`; the fields in `joint_space`).
JOINT_SPACE: dict[str, JointSpaceSpec] = {
    **load_joint_space().robots,
    "so101_bimanual": SO101_BIMANUAL,
    "so100_bimanual": SO100_BIMANUAL,
    "piper_bimanual": PIPER_BIMANUAL,
}


class Effector(StrEnum):
    gripper = "gripper"  # parallel jaw: one opening dof, no fingertips
    dexterous = "dexterous"  # robot hand: fingertips, no gripper opening
    human = "human"  # tracked human hand: fingertips and MANO keypoints
    unknown = "unknown"  # a robot we have no description of: no canonical dim is filled, natives are kept


Hand = Literal["left", "right"]
UNKNOWN_EMBODIMENT = "unknown"  # what a source names when it cannot say which robot recorded it
_HAND_INDEX = {"left": 0, "right": 1}


class Embodiment(BaseModel):
    """A physical embodiment. `eef_offset` maps the source's end-effector frame to the canonical wrist point."""

    model_config = ConfigDict(frozen=True)

    name: str
    hands: tuple[Hand, ...] = Field(min_length=1, max_length=2)
    effector: Effector
    eef_offset: RigidTransform = Field(default_factory=RigidTransform.identity)
    offset_source: str = Field("", description="where the offset numbers come from (datasheet, URDF, calibration)")
    description: str = ""
    joint_space: JointSpaceSpec | None = Field(
        None, description="how joint-angle recordings reach the canonical hands by FK (None: no kinematic description)"
    )

    @field_validator("hands")
    @classmethod
    def _distinct(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError(f"hands must be distinct, got {v}")
        return tuple(sorted(v, key=_HAND_INDEX.__getitem__))

    def mask(self) -> np.ndarray:
        """Boolean mask over the 50 canonical dims: True where this embodiment provides a real value."""
        m = np.zeros(CANONICAL_DIM, dtype=bool)
        if self.effector is Effector.unknown:
            return m
        parts = [WRIST_POS, WRIST_ROT6D]
        parts.append(GRIPPER if self.effector is Effector.gripper else FINGERTIPS_XYZ)
        for hand in self.hands:
            for part in parts:
                m[hand_dims(_HAND_INDEX[hand], part)] = True
        return m

    def keypoint_hands(self, mask: Sequence[bool] | None = None) -> tuple[Hand, ...]:
        """Hands that carry human MANO-21 keypoints (human hands only): with the dataset's `mask`, those whose
        fingertips it fills (a wrist-only hand, Aria MPS's wrist-and-palm poses, has none)."""
        if self.effector is not Effector.human:
            return ()
        slots = self.keypoint_slots(mask)
        return tuple(h for h in self.hands if slots[_HAND_INDEX[h]].any())

    def keypoint_slots(self, mask: Sequence[bool] | None = None) -> np.ndarray:
        """(2, 21) bool: the MANO-21 slots of `observation.hand_keypoints` this embodiment fills. A human hand: every
        slot when the dataset's `mask` fills its fingertips (the keypoints they are taken from), none when it does
        not (a hand with a wrist and no fingers). A dexterous robot hand: the slots its `schemas/robots/hands.yaml`
        entry names a link for, when the `mask` fills that hand's fingertips (its joints resolved, so FK ran).
        Anything else: none. Without `mask`, the embodiment's own."""
        slots = np.zeros((2, NUM_KEYPOINTS), dtype=bool)
        dims = self.mask() if mask is None else self.mask() & np.asarray(mask, dtype=bool)
        if self.effector is Effector.human:
            for hand in self.hands:
                slots[_HAND_INDEX[hand]] = dims[hand_dims(_HAND_INDEX[hand], FINGERTIPS_XYZ)].any()
        elif self.effector is Effector.dexterous and self.joint_space is not None:
            for arm in self.joint_space.arms:
                h = _HAND_INDEX[arm.side]
                if arm.hand is not None and dims[hand_dims(h, FINGERTIPS_XYZ)].any():
                    slots[h] = [link is not None for link in arm.hand.spec().keypoints]
        return slots

    def robot_keypoint_hands(self, mask: Sequence[bool] | None = None) -> tuple[Hand, ...]:
        """Hands that carry a robot hand's MANO-21-style keypoints by forward kinematics (`keypoint_slots`)."""
        if self.effector is Effector.human:
            return ()
        slots = self.keypoint_slots(mask)
        return tuple(h for h in self.hands if slots[_HAND_INDEX[h]].any())

    def features(
        self,
        cameras: Mapping[str, tuple[int, int]],
        native_state_names: Sequence[str] | None = None,
        native_action_names: Sequence[str] | None = None,
        *,
        interpolated_flag: bool = False,
        mask: Sequence[bool] | None = None,
        native_valid: bool = False,
        native_outcome_names: Sequence[str] | None = None,
        hand_valid: bool = False,
    ) -> dict[str, FeatureSpec]:
        """`canonical_features` of a dataset of this embodiment; `mask` narrows this embodiment's mask to the dims
        the source really fills."""
        dims = self.mask() if mask is None else self.mask() & np.asarray(mask, dtype=bool)
        return canonical_features(
            cameras,
            self.name,
            dims,
            self.keypoint_hands(dims),
            native_state_names,
            native_action_names,
            interpolated_flag=interpolated_flag,
            robot_keypoint_hands=self.robot_keypoint_hands(dims),
            keypoint_slots=self.keypoint_slots(dims),
            native_valid=native_valid,
            native_outcome_names=native_outcome_names,
            hand_valid=hand_valid,
        )


class EmbodimentRegistry:
    """Name -> Embodiment. Instances are explicit (no module-level mutation); `default_registry()` builds ours."""

    def __init__(self, embodiments: list[Embodiment] | None = None) -> None:
        self._by_name: dict[str, Embodiment] = {}
        for e in embodiments or []:
            self.register(e)

    def register(self, embodiment: Embodiment) -> None:
        if embodiment.name in self._by_name:
            raise ValueError(f"embodiment {embodiment.name!r} is already registered")
        self._by_name[embodiment.name] = embodiment

    def get(self, name: str) -> Embodiment:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"unknown embodiment {name!r}; known: {sorted(self._by_name)}") from None

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name


def _embodiment(name: str, hands: tuple[Hand, ...], effector: Effector, description: str) -> Embodiment:
    """Recorded EEF poses reach the wrist by the embodiment's `EEF_OFFSETS` entry, joint angles by FK of its
    `JOINT_SPACE` spec (franka, widowx and gr1 have both); a joint-space-only robot has no recorded EEF offset."""
    if name in EEF_OFFSETS:
        offset, source = EEF_OFFSETS[name]
        fields: dict[str, Any] = {"eef_offset": offset, "offset_source": source}
    else:
        why = f"joint space: wrist by FK of {JOINT_SPACE[name].description} (schemas.robots.registry.JOINT_SPACE)"
        fields = {"offset_source": why}
    if name in JOINT_SPACE:
        fields["joint_space"] = JOINT_SPACE[name]
    return Embodiment(name=name, hands=hands, effector=effector, description=description, **fields)


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    hands: tuple[Hand, ...]
    effector: Effector
    description: str


class Family(Frozen):
    """A robot made in variants its recordings may not name: the members, each a registered embodiment."""

    members: tuple[str, ...]
    why: str


class _EmbodimentsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    embodiments: list[_Row]
    families: dict[str, Family] = {}

    @model_validator(mode="after")
    def _members_registered(self) -> _EmbodimentsFile:
        names = {r.name for r in self.embodiments}
        for family, f in self.families.items():
            if family in names or not set(f.members) <= names or len(f.members) < 2:
                raise ValueError(f"family {family!r}: two or more registered members, itself no embodiment")
        return self


EMBODIMENTS_YAML = Path(__file__).with_name("embodiments.yaml")
_FILE = read_yaml(EMBODIMENTS_YAML, _EmbodimentsFile)
_EMBODIMENTS = _FILE.embodiments
FAMILIES: dict[str, Family] = _FILE.families  # family name -> its members (`ingest.canonical.family` picks one)


def default_registry() -> EmbodimentRegistry:
    """Embodiments of the sources we ingest, with the TCP -> wrist (flange) offset of each (`eef_offsets`).

    Whether a dataset records the TCP or the flange is per dataset: use `eef_offset_for`, not `eef_offset` alone.
    Robots that record joint angles carry a `joint_space` spec (`JOINT_SPACE`): franka, widowx and gr1 have both (EEF
    recordings and joint recordings reach the same canonical wrist)."""
    return EmbodimentRegistry([_embodiment(**row.model_dump()) for row in _EMBODIMENTS])
