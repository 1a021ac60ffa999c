"""The embodiment registry: which hands an embodiment has, what effector, which canonical dims are real, EEF offset."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

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
from schemas.lerobot import FeatureSpec
from schemas.robots.arms import (
    ALOHA,
    FR3,
    FR3_DUAL,
    FRANKA,
    KOCH,
    PIPER,
    PIPER_DUAL,
    SO100,
    SO101,
    UR5E,
    WIDOWX,
    WX200,
    WX250,
)
from schemas.robots.bimanual import PIPER_BIMANUAL, SO100_BIMANUAL, SO101_BIMANUAL
from schemas.robots.eef_offsets import EEF_OFFSETS
from schemas.robots.humanoids import G1_ARMS, G1_DEX3, G1_INSPIRE, GR1, TIENKUNG
from schemas.robots.joint_space import JointSpaceSpec
from schemas.transform import RigidTransform

# Every joint-space robot by embodiment name: its description, native joint names and wrist frame (the data modules
# `arms`, `humanoids`, `bimanual`; the fields in `joint_space`).
JOINT_SPACE: dict[str, JointSpaceSpec] = {
    "koch": KOCH,
    "ur5e": UR5E,
    "piper": PIPER,
    "fr3": FR3,
    "piper_dual": PIPER_DUAL,
    "fr3_dual": FR3_DUAL,
    "unitree_g1": G1_ARMS,
    "unitree_g1_dex3": G1_DEX3,
    "unitree_g1_inspire": G1_INSPIRE,
    "so101": SO101,
    "so100": SO100,
    "so101_bimanual": SO101_BIMANUAL,
    "so100_bimanual": SO100_BIMANUAL,
    "piper_bimanual": PIPER_BIMANUAL,
    "aloha": ALOHA,
    "widowx": WIDOWX,
    "wx200": WX200,
    "wx250": WX250,
    "franka": FRANKA,
    "gr1": GR1,
    "tienkung": TIENKUNG,
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

    def keypoint_hands(self) -> tuple[Hand, ...]:
        """Hands that carry human MANO-21 keypoints (human hands only)."""
        return self.hands if self.effector is Effector.human else ()

    def keypoint_slots(self, mask: Sequence[bool] | None = None) -> np.ndarray:
        """(2, 21) bool: the MANO-21 slots of `observation.hand_keypoints` this embodiment fills. A human hand: every
        slot. A dexterous robot hand: the slots its `schemas/robots/hands.yaml` entry names a link for, when the
        dataset's `mask` fills that hand's fingertips (its joints resolved, so FK ran). Anything else: none."""
        slots = np.zeros((2, NUM_KEYPOINTS), dtype=bool)
        if self.effector is Effector.human:
            slots[[_HAND_INDEX[h] for h in self.hands]] = True
        elif self.effector is Effector.dexterous and self.joint_space is not None:
            dims = self.mask() if mask is None else self.mask() & np.asarray(mask, dtype=bool)
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
    ) -> dict[str, FeatureSpec]:
        """`canonical_features` of a dataset of this embodiment; `mask` narrows this embodiment's mask to the dims
        the source really fills."""
        dims = self.mask() if mask is None else self.mask() & np.asarray(mask, dtype=bool)
        return canonical_features(
            cameras,
            self.name,
            dims,
            self.keypoint_hands(),
            native_state_names,
            native_action_names,
            interpolated_flag=interpolated_flag,
            robot_keypoint_hands=self.robot_keypoint_hands(dims),
            keypoint_slots=self.keypoint_slots(dims),
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


def _offset(name: str) -> dict[str, Any]:
    offset, source = EEF_OFFSETS[name]
    return {"eef_offset": offset, "offset_source": source}


def _joint_space(name: str, hands: tuple[Hand, ...], effector: Effector, description: str) -> Embodiment:
    """A joint-space-only robot: no recorded EEF offset (its wrist comes from FK, `JOINT_SPACE`)."""
    spec = JOINT_SPACE[name]
    why = f"joint space: wrist by FK of {spec.description} (schemas.robots.registry.JOINT_SPACE)"
    return Embodiment(
        name=name, hands=hands, effector=effector, description=description, joint_space=spec, offset_source=why
    )


def default_registry() -> EmbodimentRegistry:
    """Embodiments of the sources we ingest, with the TCP -> wrist (flange) offset of each (`eef_offsets`).

    Whether a dataset records the TCP or the flange is per dataset: use `eef_offset_for`, not `eef_offset` alone.
    Robots that record joint angles carry a `joint_space` spec (`JOINT_SPACE`): franka, widowx and gr1 have both (EEF
    recordings and joint recordings reach the same canonical wrist)."""
    return EmbodimentRegistry(
        [
            Embodiment(
                name="franka",
                **_offset("franka"),
                joint_space=JOINT_SPACE["franka"],
                hands=("right",),
                effector=Effector.gripper,
                description="Franka Emika Panda with the Franka Hand (DROID, TACO-Play, many OXE subsets)",
            ),
            Embodiment(
                name="widowx",
                **_offset("widowx"),
                joint_space=JOINT_SPACE["widowx"],
                hands=("right",),
                effector=Effector.gripper,
                description="Trossen WidowX 250 (BridgeData)",
            ),
            Embodiment(
                name="google_robot",
                **_offset("google_robot"),
                hands=("right",),
                effector=Effector.gripper,
                description="Everyday Robots mobile manipulator (RT-1 / fractal20220817_data)",
            ),
            Embodiment(
                name="kuka_iiwa",
                **_offset("kuka_iiwa"),
                hands=("right",),
                effector=Effector.gripper,
                description="KUKA LBR iiwa with a parallel gripper (QT-Opt kuka subset)",
            ),
            Embodiment(
                name="ur5",
                **_offset("ur5"),
                hands=("right",),
                effector=Effector.gripper,
                description="Universal Robots UR5 with a Robotiq gripper (berkeley_autolab_ur5)",
            ),
            Embodiment(
                name="agibot_gripper",
                **_offset("agibot_gripper"),
                hands=("left", "right"),
                effector=Effector.gripper,
                description="AgiBot G1 dual arm with parallel grippers",
            ),
            Embodiment(
                name="agibot_dexterous",
                **_offset("agibot_dexterous"),
                hands=("left", "right"),
                effector=Effector.dexterous,
                description="AgiBot G1 dual arm with dexterous hands",
            ),
            Embodiment(
                name="gr1",
                **_offset("gr1"),
                joint_space=JOINT_SPACE["gr1"],
                hands=("left", "right"),
                effector=Effector.dexterous,
                description="Fourier GR1 humanoid, arms and dexterous hands (GR00T demos)",
            ),
            Embodiment(
                name="human",
                **_offset("human"),
                hands=("left", "right"),
                effector=Effector.human,
                description="Tracked human hands (EgoDex, HOT3D, ARCTIC, HOI4D)",
            ),
            Embodiment(
                name=UNKNOWN_EMBODIMENT,
                **_offset(UNKNOWN_EMBODIMENT),
                hands=("left", "right"),
                effector=Effector.unknown,
                description="A robot whose robot_type names no embodiment we know: natives only, never a guess",
            ),
            Embodiment(
                name="human_video",
                **_offset("human_video"),
                hands=("left", "right"),
                effector=Effector.human,
                description="Egocentric video without hand tracking (Ego4D): actionless",
            ),
            _joint_space("so100", ("right",), Effector.gripper, "SO-100 arm (LeRobot), joint angles"),
            _joint_space("so101", ("right",), Effector.gripper, "SO-101 arm (LeRobot), joint angles"),
            _joint_space("aloha", ("left", "right"), Effector.gripper, "ALOHA: two ViperX 300 6DOF arms"),
            _joint_space("koch", ("right",), Effector.gripper, "Koch low-cost arm (LeRobot), joint angles"),
            _joint_space("wx200", ("right",), Effector.gripper, "Interbotix WidowX 200 (5 DoF), joint angles"),
            _joint_space("wx250", ("right",), Effector.gripper, "Interbotix WidowX 250 (5 DoF), joint angles"),
            _joint_space("ur5e", ("right",), Effector.gripper, "Universal Robots UR5e, joint angles (no gripper)"),
            _joint_space("piper", ("right",), Effector.gripper, "AgileX PiPER, joint angles (gripper not mapped)"),
            _joint_space("fr3", ("right",), Effector.gripper, "Franka Research 3 with the Franka Hand, joints"),
            _joint_space("piper_dual", ("left", "right"), Effector.gripper, "AgileX Cobot Magic: two PiPER arms"),
            _joint_space("so101_bimanual", ("left", "right"), Effector.gripper, "Two SO-101 arms (bi_so101_follower)"),
            _joint_space("so100_bimanual", ("left", "right"), Effector.gripper, "Two SO-100 arms (bi_so100_follower)"),
            _joint_space("piper_bimanual", ("left", "right"), Effector.gripper, "Two PiPER arms on piper.urdf's chain"),
            _joint_space("fr3_dual", ("left", "right"), Effector.gripper, "Two Franka Research 3 arms (RoboMIND)"),
            _joint_space("unitree_g1", ("left", "right"), Effector.dexterous, "Unitree G1 arms, hands not mapped"),
            _joint_space("unitree_g1_dex3", ("left", "right"), Effector.dexterous, "Unitree G1 + Dex3-1 hands"),
            _joint_space("unitree_g1_inspire", ("left", "right"), Effector.dexterous, "Unitree G1 + Inspire hands"),
            _joint_space(
                "tienkung", ("left", "right"), Effector.dexterous, "X-Humanoid Tien Kung Pro arms, hands not mapped"
            ),
        ]
    )
