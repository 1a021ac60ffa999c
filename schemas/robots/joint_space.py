"""Joint-space embodiments: which kinematic description, which native joints, which link is the canonical wrist.

A dataset that records joint angles (LeRobot SO-100/101, Koch, ALOHA, Unitree G1, GR00T GR1, ...) reaches the
canonical hand space by forward kinematics (`ingest.canonical.joint_space`). This module says, as data, how:

- `JointSpaceSpec`: the description, its `base_link` and where that base sits in the canonical robot frame (x forward,
  y left, z up: `canonical_from_base`);
- per arm (`ArmMap`): its joints, the link whose frame, moved by `link_from_wrist`, is the canonical wrist frame
  (flange point, z = approach, y = the axis parallel fingers close along: `schemas.robots.eef_offsets`), and its
  gripper (`GripperMap`) or dexterous hand (`DexHandMap`);
- `JointSpaceOptions`: what a dataset may override. Its unit is settled by the values against the description's joint
  limits (`ingest.canonical.joint_units`); the robot's default unit only breaks a tie.

Native names are matched by `name_key`, tolerant of the spellings real datasets use for one joint: Unitree's
`kLeftShoulderPitch` (and its `kLeftWristyaw`), URDF `left_shoulder_pitch_joint`, lerobot >= 0.2's motor features
`shoulder_pan.pos`, lerobot < 0.2's `main_shoulder_pan` (arm name `main` + motor), ALOHA's `left_waist`, lerobot's
two-arm `left_shoulder_pan.pos` (bi_so100_follower.py `_motors_ft`), PiPER plugins' `joint_1.pos` for URDF `joint1`.
A joint whose robot has a motor table in its maker's code (`JointMap.motor_id`) is also found by that id, `j3`,
`joint_3`, `motor_3` or `<arm>_j3` (`ingest.canonical.joint_space`), when the dataset's numbering is the table's.

Two-arm rigs built from one-armed LeRobot robots (`pair`, over the specs of `joint_space.yaml`): two SO-101, two
SO-100, two PiPER on one table.

lerobot's own two-arm robot (huggingface/lerobot
src/lerobot/robots/bi_so100_follower/bi_so100_follower.py @ 183b2ca0, `BiSO100Follower._motors_ft`) is two
SO100Follower buses whose motor features are prefixed `left_` / `right_` (`left_shoulder_pan.pos` ..
`right_gripper.pos`), each arm with its own calibration file (`<id>_left.json`, `<id>_right.json`); community rigs
write `<motor>_left.pos` or numbered `arm1_` / `arm2_` prefixes (the side from the dataset card or the
`joint_space.sides` option). Each arm is the one-armed spec's chain, link and gripper, placed by `base_from_arm`.

Placement: the makers publish no rig geometry for these. ASSUMED: both bases side by side on the table, facing forward
(+x, the way each arm reaches at its zero pose), the left one on +y. PiPER pairs at +-0.3 m, the spacing of AgileX's
own two-arm PiPER rig (agilexrobotics/mobile_aloha_sim aloha_new.urdf @ 3767e570: fl/fr_base_joint y = +-0.3); SO arms
at +-0.2 m (no maker figure). Only the spacing is assumed: each wrist is exact in its own arm's frame, and the left
arm stays on the left.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.data_file import read_yaml
from schemas.frozen import Frozen
from schemas.robots.hands import HandSpec, load_hands
from schemas.transform import RigidTransform

Side = Literal["left", "right"]
# How a dataset records arm joints. lerobot's MotorsBus._normalize (src/lerobot/motors/motors_bus.py): DEGREES is
# (steps - mid) * 360 / (resolution - 1) with mid the middle of the calibrated range; RANGE_M100_100 maps
# [range_min, range_max] steps linearly onto -100..100 (negated when drive_mode is 1), so only the calibration file
# turns it back into an angle. so100/so101_follower default to RANGE_M100_100 (`use_degrees: bool = False`,
# config_so101_follower.py); lerobot < 0.2's ManipulatorRobot recorded degrees. "ticks": raw encoder steps as the
# servo reports Present_Position (Feetech STS3215 / Dynamixel: 4096 a turn, 0..4095; on Feetech the homing offset is
# already subtracted by the motor, huggingface/lerobot src/lerobot/motors/feetech/feetech.py @ 16777626
# `_get_half_turn_homings`), turned into angles as DEGREES does.
JointUnit = Literal["rad", "deg", "range_m100_100", "ticks"]
# A gripper value: a joint angle in the arm's unit ("joint"), lerobot's RANGE_0_100 percent, a 0..1 fraction, or
# "recorded": the values as the recording holds them, linear between `closed_q` and `open_q` given in those values
# (a gripper a job spec declares: its ends are the user's word, in whatever unit the column has). The `_closed` units
# rise as the gripper closes (Leju's claw: 0 open .. 100 closed), so the opening is 1 less them.
GripperUnit = Literal["joint", "percent", "fraction", "recorded", "percent_closed", "fraction_closed"]

_AFFIX_TOKENS = frozenset({"pos", "position", "joint", "q", "qpos", "angle", "main", "follower"})
_SIDE_TOKENS = {"l": "left", "r": "right", "left": "left", "right": "right"}
NUMBERED_ARM = re.compile(r"^([A-Za-z]+_?[0-9]+)_(?=[A-Za-z])")  # arm1_j1, arm_2.joint1: a numbered arm's prefix


def name_key(name: str) -> str:
    """A spelling-insensitive key of a joint name: camelCase split, Unitree's `k` prefix, a `.pos`/`_joint`/`main_`
    affix and `l`/`r` side abbreviations removed, then lower case letters and digits only.

    `kLeftShoulderPitch`, `left_shoulder_pitch_joint`, `l_shoulder_pitch` -> `leftshoulderpitch`;
    `shoulder_pan.pos`, `main_shoulder_pan` -> `shoulderpan`; `joint_1.pos`, `joint1` -> `joint1`;
    `left_shoulder_pan.pos`, `shoulder_pan_left.pos` -> `leftshoulderpan`."""
    s = re.sub(r"^k(?=[A-Z])", "", name.strip())
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", s).lower()
    tokens = [t for t in re.split(r"[^a-z0-9]+", s) if t]
    while len(tokens) > 1 and tokens[-1] in _AFFIX_TOKENS:
        tokens.pop()
    # an affix before a bare number is the joint's name: `joint_1.pos` is URDF `joint1`, not `1`
    while len(tokens) > 1 and tokens[0] in _AFFIX_TOKENS and not tokens[1].isdigit():
        tokens.pop(0)
    if len(tokens) > 1 and tokens[-1] in ("left", "right"):  # a side as a suffix: `shoulder_pan_left.pos`
        tokens.insert(0, tokens.pop())
    if tokens and tokens[0] in _SIDE_TOKENS:
        tokens[0] = _SIDE_TOKENS[tokens[0]]
    return "".join(tokens)


def column_names(key: str, names: Sequence[str] | None, width: int | None) -> list[str]:
    """The names a joint is found by among a stream's columns (what `JointSpaceOptions.joint_map` keys): its
    component names where it names each of its `width` columns, else `<key>.<index>`; a scalar stream (`width`
    None, one value a frame: lerobot's `action.gripper` read as (T,)) is named by its key."""
    if width is None:
        return [key]
    return list(names) if names and len(names) == width else [f"{key}.{i}" for i in range(width)]


class JointMap(Frozen):
    """One joint: its name in the description and the names datasets give it (without the arm's side prefix)."""

    urdf: str = Field(min_length=1, description="joint name in the description")
    native: tuple[str, ...] = Field((), description="names datasets use for it, besides the URDF name")
    motor_id: int | None = Field(
        None, ge=0, description="its motor's id in the maker's motor table, which datasets may name it by (`j3`)"
    )

    def keys(self, prefixes: Iterable[str]) -> set[str]:
        """Every `name_key` a native name of this joint may have, with each side prefix of its arm (a name that
        already starts with the side, like `left_shoulder_pitch_joint`, is not prefixed twice)."""
        out = set()
        for p in prefixes:
            for n in (self.urdf, *self.native):
                k, side = name_key(n), name_key(p) if p else ""
                out.add(k if k.startswith(side) else name_key(f"{p}_{n}"))
        return out


class GripperMap(Frozen):
    """A parallel gripper: one native value -> opening 0 (closed) .. 1 (open), linear between `closed` and `open`."""

    joint: JointMap
    unit: GripperUnit = Field("joint", description="how datasets of this robot record it by default")
    closed_q: float = Field(
        description="joint value (rad, or m if prismatic) when closed; percent/fraction: 0; recorded: as recorded"
    )
    open_q: float = Field(
        description="joint value when fully open (unit 'joint'); percent: 100, fraction: 1; recorded: as recorded"
    )
    source: str = Field(min_length=1, description="where the direction and the end values come from")
    range_tolerance: float | None = Field(
        None,
        ge=0,
        description="values past closed..open by more than this share of the range are refused, naming the episode "
        "and column (a declared gripper: the range is the user's word); None: clipped to 0..1",
    )
    optional: bool = Field(
        False,
        description="the robot ships with this gripper or another end effector: a dataset without its column keeps "
        "its wrists, and a note says the gripper was not recorded",
    )

    @model_validator(mode="after")
    def _distinct(self) -> GripperMap:
        if self.closed_q == self.open_q:
            raise ValueError(f"gripper {self.joint.urdf!r}: closed and open are both {self.open_q}")
        return self


class DexHandMap(Frozen):
    """A dexterous hand: an entry of `schemas/robots/hands.yaml` (`schemas.robots.hands`: its description, fingertip
    links, the dataset's joint order and unit, where it mounts on the arm)."""

    hand: str = Field(min_length=1, description="key of the hand in schemas/robots/hands.yaml")

    def spec(self) -> HandSpec:
        hands = load_hands().hands
        if self.hand not in hands:
            raise KeyError(f"hand {self.hand!r} is not in schemas/robots/hands.yaml; known: {sorted(hands)}")
        return hands[self.hand]

    def joints(self) -> tuple[JointMap, ...]:
        """The hand's native joints in the dataset's order, with the names datasets give them."""
        h = self.spec()
        names = zip(h.native_names, *h.other_names, strict=True)
        return tuple(JointMap(urdf=j, native=n) for j, n in zip(h.native_order, names, strict=True))


class ArmMap(Frozen):
    """One arm of a joint-space embodiment."""

    side: Side
    joints: tuple[JointMap, ...] = Field(min_length=1, description="the chain's joints, base to flange")
    link: str = Field(min_length=1, description="the link whose frame, moved by link_from_wrist, is the wrist")
    link_from_wrist: RigidTransform = Field(default_factory=RigidTransform.identity)
    prefixes: tuple[str, ...] = Field(("",), description="side prefixes of native names ('' for a lone arm)")
    base_from_arm: RigidTransform = Field(
        default_factory=RigidTransform.identity,
        description="where this arm's `base_link` sits in the robot's base frame (two separate arms, e.g. ALOHA)",
    )
    modality_arm: str | None = Field(None, description="GR00T modality.json key of this arm's joint slice")
    modality_hand: str | None = Field(None, description="GR00T modality.json key of this hand's slice")
    gripper: GripperMap | None = None
    hand: DexHandMap | None = None

    @property
    def motor_ids(self) -> frozenset[int]:
        """The ids of the maker's motor table for this arm (its joints' and its gripper's); empty without one."""
        joints = (*self.joints, *((self.gripper.joint,) if self.gripper else ()))
        return frozenset(j.motor_id for j in joints if j.motor_id is not None)

    @model_validator(mode="after")
    def _one_effector(self) -> ArmMap:
        if self.gripper is not None and self.hand is not None:
            raise ValueError(f"{self.side} arm: a gripper or a dexterous hand, not both")
        return self


class JointSpaceSpec(Frozen):
    """How a joint-space embodiment's joints become canonical hands (see the module docstring)."""

    description: str = Field(min_length=1, description="stem of schemas/robots/descriptions/<name>.urdf")
    base_link: str | None = Field(None, description="frame the wrist poses are expressed in (None: the root)")
    canonical_from_base: RigidTransform = Field(default_factory=RigidTransform.identity)
    units: JointUnit = Field(
        "rad", description="how datasets of this robot usually record arm joints: a tie-break when values fit several"
    )
    arms: tuple[ArmMap, ...] = Field(min_length=1, max_length=2)
    source: str = Field(min_length=1, description="where the names, units, links and offsets come from")
    unresolved: Literal["natives", "refuse"] = Field(
        "natives",
        description="an episode whose joints or gripper do not resolve: kept with its natives and the reason "
        "(a shipped robot, whose datasets vary), or refused naming the field (a robot the job spec declares: its "
        "columns are the user's word, never a silent fall back)",
    )

    @model_validator(mode="after")
    def _sides(self) -> JointSpaceSpec:
        sides = [a.side for a in self.arms]
        if len(set(sides)) != len(sides):
            raise ValueError(f"arms must have distinct sides, got {sides}")
        return self


JOINT_SPACE_YAML = Path(__file__).parent / "joint_space.yaml"


class JointSpaceFile(Frozen):
    """`joint_space.yaml`: the joint-space robots' data, by embodiment name (each entry citing its maker files)."""

    robots: dict[str, JointSpaceSpec]


@cache
def load_joint_space() -> JointSpaceFile:
    return read_yaml(JOINT_SPACE_YAML, JointSpaceFile)


class LerobotCalibration(BaseModel):
    """One motor of a lerobot calibration file (`<calibration dir>/robots/<type>/<id>.json`: motor -> these)."""

    model_config = ConfigDict(extra="ignore")

    id: int | None = None
    drive_mode: int = 0
    homing_offset: int = 0
    range_min: int
    range_max: int

    @model_validator(mode="after")
    def _range(self) -> LerobotCalibration:
        if self.range_min == self.range_max:
            raise ValueError(f"range_min == range_max == {self.range_min}")
        return self


class JointUnitsRecord(Frozen):
    """Which unit a dataset's arm joints were read in, and why (`ingest.canonical.joint_units.UnitDecision`): what
    canonicalization hands on with the episode and its lineage keeps (`episodes.jsonl` -> `joint_units`)."""

    unit: JointUnit | None = Field(description="the reading chosen; None when no reading was settled")
    basis: str = Field(description="option | evidence | recorder default | ambiguous | no reading fits")
    frames: int = Field(description="frames of the episode the fit was measured on")
    fit: dict[str, float] = Field(description="per reading, the share of joint values inside the joint limits")
    recorder_default: JointUnit | None = Field(description="the recorder's usual unit, a tie-break only")
    fk: bool = Field(description="the wrists were built by forward kinematics in that unit")


class JointSpaceOptions(Frozen):
    """A dataset's overrides of its embodiment's joint conventions (a source option, validated per field)."""

    units: JointUnit | None = Field(
        None, description="how this dataset records arm joints; unset: inferred from the values and joint limits"
    )
    recorder_units: JointUnit | None = Field(
        None, description="the unit the dataset's recorder writes by default (from its robot_type): a tie-break only"
    )
    gripper_unit: GripperUnit | None = Field(None, description="how it records the gripper (default: the robot's)")
    calibration: dict[str, LerobotCalibration] | None = Field(
        None,
        description="lerobot calibration (motor -> range_min/range_max/drive_mode), needed by range_m100_100 and "
        "ticks; a two-arm robot's as {side: {motor: ...}} (lerobot's `<id>_left.json` / `<id>_right.json`)",
    )
    sides: dict[str, Side] = Field(
        default_factory=dict, description="native name prefix -> arm side, e.g. {arm1: left, arm2: right}"
    )
    sides_from: str | None = Field(None, description="where `sides` was read when the dataset said it (its card)")
    resolution: int = Field(4096, gt=1, description="encoder steps per turn of the motors (Feetech STS3215: 4096)")
    joint_map: dict[str, str] = Field(
        default_factory=dict,
        description="native name -> URDF joint name: as the dataset names it (motor_3), or `<stream>.<index>` "
        "(observation.state.3) for a vector without names",
    )
    joint_zero: dict[str, float] = Field(
        default_factory=dict,
        description="URDF joint -> the description's angle (rad) at which this dataset's reading is 0, added after "
        "the unit conversion: a recorder that counts a joint from another zero than the description (the evidence "
        "cited where it is set)",
    )
    gripper_unread: str | None = Field(
        None,
        description="why this dataset's gripper is not read by forward kinematics (no column, one whose unit or "
        "sign no maker states, or one its adapter reads): the wrists are built without it and the reason noted",
    )

    @field_validator("calibration", mode="before")
    @classmethod
    def _per_side(cls, v: object) -> object:
        """{side: {motor: calibration}} (one lerobot file per arm) -> {`<side>_<motor>`: calibration}."""
        if not isinstance(v, dict):
            return v
        out: dict[str, object] = {}
        for key, val in v.items():
            nested = isinstance(val, dict) and val and all(isinstance(x, dict) for x in val.values())
            out |= {f"{key}_{m}": c for m, c in val.items()} if nested else {key: val}
        return out


SO_SPACING = 0.2  # ASSUMED (see the docstring)
PIPER_SPACING = 0.3  # aloha_new.urdf fl/fr_base_joint


def pair(one: JointSpaceSpec, spacing: float, source: str) -> JointSpaceSpec:
    """Two copies of `one`'s arm, `left_` / `right_` prefixed, `spacing` m either side of the canonical origin, each
    turned as `one.canonical_from_base` turns the lone arm (so both reach along canonical +x)."""
    arm = one.arms[0]
    turn = one.canonical_from_base.rotation_xyzw

    def placed(side: str, y: float) -> ArmMap:
        base = RigidTransform(translation=(0.0, y, 0.0), rotation_xyzw=turn)
        return arm.model_copy(update={"side": side, "prefixes": (side,), "base_from_arm": base})

    return JointSpaceSpec(
        description=one.description,
        base_link=one.base_link,
        units=one.units,
        arms=(placed("left", spacing), placed("right", -spacing)),
        source=f"{source}; each arm as {one.description!r}: {one.source}",
    )


_S = load_joint_space().robots
SO101_BIMANUAL = pair(_S["so101"], SO_SPACING, "two SO-101 (lerobot bi_so100_follower naming); spacing +-0.2 m ASSUMED")
SO100_BIMANUAL = pair(_S["so100"], SO_SPACING, "two SO-100 (lerobot bi_so100_follower); spacing +-0.2 m ASSUMED")
PIPER_BIMANUAL = pair(_S["piper"], PIPER_SPACING, "two PiPER on piper.urdf's chain; spacing +-0.3 m as aloha_new.urdf")
