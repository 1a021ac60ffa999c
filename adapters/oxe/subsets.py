"""Per-subset facts for Open X-Embodiment RLDS datasets: the table is `subsets.yaml` beside this module, typed and
checked by the pydantic models here, read by `adapters.oxe.adapter`.

Each `OXESubset` names the native per-step keys (relative to `steps/`, as flattened in the `tf.train.Example`), their
per-step shape, TFDS dtype and encoding, what they mean (unit, frame, component names, slices with their own units),
which camera is which canonical camera (and which stores BGR pixels), where the language is, the control frequency,
the embodiment (a name in `schemas.robots.registry`) and the default quality tier. The same table drives
the fixture writer `adapters.synthetic.rlds`, so the synthetic builder directories carry exactly these keys.

Sources (reference, checked against each other):
- TFDS catalog pages (tensorflow.org/datasets/catalog/<name>) for the feature structures and feature descriptions;
  the DROID schema in droid-dataset/droid `docs/the-droid-dataset.md`; real sample `octo_bridge_debug_rlds` for
  Bridge.
- Control frequencies: the OXE dataset sheet as carried by any4lerobot `openx2lerobot/oxe_utils/configs.py`
  (`OXE_DATASET_METADATA`: fractal 3, kuka 10, bridge 5, taco_play 15, berkeley_autolab_ur5 5, droid 15 Hz).
- Component layouts: octo-models/octo `octo/data/oxe/oxe_standardization_transforms.py` and openvla
  `prismatic/vla/datasets/rlds/oxe/configs.py` (which slices are EEF pose / gripper), CALVIN's `robot_obs` layout for
  taco_play, droid-dataset/droid issue #9 (Cartesian poses are xyz + Euler, velocities in the robot base frame).
- Action encodings (which action streams are per-step deltas): octo-models/octo@241fb35
  `octo/data/oxe/oxe_dataset_configs.py` (`action_encoding` per dataset) and `oxe_standardization_transforms.py` (which
  keys make the EEF_POS deltas), cited per entry: `OXESubset.action_encoding`.
- BGR quirk: huggingface/lerobot issue #435 (berkeley_autolab_ur5 wrist camera, raw copy); the re-encoded copies
  (kpertsch/rlds_dataset_mod) are already RGB: `CameraSpec.bgr_at_shape`.
- Bridge's EEF orientation is stored relative to a top-down default rotation (rail-berkeley/bridge_data_robot):
  `OXESubset.eef_reference_rotation`.
Where a fact could not be checked it says "(unverified)" in its `doc`.

Conventions: positions in metres, angles in radians, Euler angles about fixed axes x then y then z (R = Rz·Ry·Rx);
unit "normalized" marks a command scaled by the robot stack to about [-1, 1], not a physical quantity.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import Field, field_validator, model_validator

from adapters.camera_roles import camera_roles
from adapters.oxe.reference import RecordedPose
from schemas.canonical import Camera
from schemas.frozen import Frozen
from schemas.robots.joint_space import GripperUnit, JointSpaceSpec, load_joint_space, name_key
from schemas.tiers import QualityTier

TFDSDtype = Literal["float32", "float64", "int32", "int64", "bool", "uint8", "string"]
Matrix3 = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]
SUBSETS_YAML = Path(__file__).parent / "subsets.yaml"
ACTION_PREFIXES = ("action:", "action/", "action_dict/")  # action streams as emitted (`action` itself: its parts)
WRIST_PARTS = ("eef_xyz", "tcp_xyz", "eef_matrix")  # the part names `adapters.oxe.hands` reads the wrist from
SE3_FLAT = "se3_4x4"  # a flattened 4x4 homogeneous pose, element order read from its values (adapters.oxe.hands)
NORMALIZED = "normalized"  # a command scaled to about [-1, 1] by the robot stack (see each doc for the scale)


class Part(Frozen):
    """A slice `[start, stop)` of a native vector with its own meaning and unit (e.g. EEF xyz inside `state`)."""

    name: str
    start: int = Field(ge=0)
    stop: int
    unit: str = ""
    frame: str | None = None
    names: tuple[str, ...] | None = None
    doc: str = ""

    @model_validator(mode="after")
    def _check(self) -> Part:
        if self.stop <= self.start:
            raise ValueError(f"part {self.name}: empty slice [{self.start}, {self.stop})")
        if self.names is not None and len(self.names) != self.stop - self.start:
            raise ValueError(f"part {self.name}: {len(self.names)} names for {self.stop - self.start} components")
        return self


class StreamSpec(Frozen):
    """One native per-step tensor under `steps/`. With `parts`, the adapter emits one `Stream` per part; the parts
    of a tensor of more than one axis (uiuc_d3field's (4, 4) pose) slice it flattened in C order, as TFDS stores it."""

    key: str = Field(description="flattened key under steps/, e.g. 'observation/state' or 'action/world_vector'")
    shape: tuple[int, ...] = Field(description="per-step shape, () for a scalar")
    feature: Literal["tensor", "image"] = Field("tensor", description="TFDS feature class (image: e.g. float depth)")
    dtype: TFDSDtype = "float32"
    encoding: Literal["none", "bytes", "zlib"] = Field("none", description="TFDS Tensor encoding")
    unit: str = ""
    frame: str | None = None
    names: tuple[str, ...] | None = None
    parts: tuple[Part, ...] = ()
    doc: str = ""

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @model_validator(mode="after")
    def _check(self) -> StreamSpec:
        if self.parts:
            if not self.shape:
                raise ValueError(f"{self.key}: parts need a per-step vector or matrix, got a scalar")
            spans = sorted((p.start, p.stop) for p in self.parts)
            edges = [0, *[e for s in spans for e in s], self.size]
            if any(edges[i] != edges[i + 1] for i in range(0, len(edges), 2)):
                raise ValueError(f"{self.key}: parts {spans} do not tile [0, {self.size})")
        if self.names is not None and (not self.shape or len(self.names) != self.shape[-1]):
            raise ValueError(f"{self.key}: {len(self.names)} names for per-step shape {self.shape}")
        return self


class CameraSpec(Frozen):
    """An RGB camera stored as one encoded image per step (`bytes_list`)."""

    key: str = Field(description="flattened key under steps/, e.g. 'observation/image_0'")
    canonical: Camera | None = Field(description="canonical camera, None for an extra view kept natively only")
    shape: tuple[int, int, int] = Field(description="native (height, width, channels)")
    encoding_format: Literal["jpeg", "png"] = "jpeg"
    bgr_at_shape: tuple[int, int, int] | None = Field(
        None,
        description="pixels were stored BGR as if RGB when features.json declares this (height, width, channels): "
        "flip channels after decoding; copies re-encoded at another size were flipped back to RGB",
    )
    doc: str = ""

    def stores_bgr(self, shape: tuple[int | None, ...]) -> bool:
        """Whether a builder whose features.json declares `shape` for this camera holds BGR pixels."""
        return self.bgr_at_shape is not None and tuple(shape) == self.bgr_at_shape


class TextSpec(Frozen):
    """A per-step text feature (one string per step)."""

    key: str
    kind: str = "instruction"
    doc: str = ""


class MetaSpec(Frozen):
    """An episode-level feature: `episode_metadata/<name>` or a top-level key such as kuka's `success`."""

    key: str = Field(description="full flattened key, e.g. 'episode_metadata/file_path' or 'success'")
    dtype: TFDSDtype
    doc: str = ""


class ActionEncoding(Frozen):
    """How a subset's action is encoded, as its maker's code reads it: which action streams are per-step deltas
    (accumulated over each 0.1 s when resampled, `adapters.base.Stream.relative`); every other action stream is
    absolute (sampled). `why` cites the code (repo, file:line@commit) and goes to the lineage."""

    name: str = Field(description="the encoding's name in the cited code, e.g. octo ActionEncoding 'EEF_POS'")
    relative: tuple[str, ...] = Field(
        (),
        description="action streams that are deltas, as emitted: '<key>' or '<key>:<part>' (e.g. 'action:delta_xyz')",
    )
    why: str = Field(description="the maker's code that settles it: repo, file:line@commit")
    unsettled: str = Field("", description="action streams the cited code does not settle (left absolute), and why")

    @model_validator(mode="after")
    def _check(self) -> ActionEncoding:
        bad = [r for r in self.relative if r != "action" and not r.startswith(ACTION_PREFIXES)]
        if bad:
            raise ValueError(f"relative streams {bad} are not actions (keys start with {ACTION_PREFIXES})")
        return self


# What of Octo's reading a row may depart from: the numbers the Octo oracle compares (the wrist's position and
# rotation, the gripper, the delta action), or the meaning given to the same numbers (Octo's proprio or action read
# in another convention, e.g. an absolute command Octo's EEF_POS takes for a delta)
OctoPart = Literal["position", "rotation", "gripper", "action", "proprio_reading", "action_reading"]


class OctoEntry(Frozen):
    """The subset's row in Octo's OXE tables (octo-models/octo@241fb35 `octo/data/oxe/oxe_dataset_configs.py`,
    `oxe_standardization_transforms.py`): its proprio and action encodings and the transform that standardizes it."""

    proprio: Literal["NONE", "POS_EULER", "POS_QUAT", "JOINT", "JOINT_BIMANUAL", "POS_NAV"]
    action: Literal["EEF_POS", "JOINT_POS", "JOINT_POS_BIMANUAL", "NAV_2D", "JOINT_POS_BIMANUAL_NAV"]
    transform: str = Field(description="oxe_standardization_transforms.py:<line> <function>")
    departs: dict[OctoPart, str] = Field(
        default_factory=dict,
        description="where eidata does not read what Octo reads, per part (the wrist's position or rotation, the "
        "gripper, the action), and the maker's word eidata follows instead (the Octo oracle asserts each)",
    )


class JointFK(Frozen):
    """State slices holding the joint angles of the row's embodiment, a robot with a description
    (`schemas/robots/joint_space.yaml`): its wrists by forward kinematics of those joints
    (`ingest.canonical.joint_space`: the canonical wrist where the row names no end-effector pose, else checked against
    the recorded pose), its grippers from the columns named here with the convention cited.

    One column per arm of the embodiment, in `joint_space.yaml`'s arm order (a lone string: the one arm). A one-armed
    robot's columns are mapped to its joints by position (`JointSpaceOptions.joint_map`); a two-armed robot's share
    the description's joint names, so each arm's columns are found by their component names, the arm's side prefix
    and its joint (`left_waist`), as the table must name them (checked here)."""

    joints: tuple[str, ...] = Field(
        min_length=1,
        description="per arm, '<state key>' or '<state key>:<part>' holding its joints in the description's order, "
        "base to flange, in radians from the description's zero",
    )
    gripper: tuple[str, ...] = Field((), description="per arm, '<key>' or '<key>:<part>' of its one-value gripper")
    gripper_unit: GripperUnit = Field("joint", description="how those columns read (schemas.robots.joint_space)")
    gripper_unread: str = Field("", description="why no gripper column is read (required without `gripper`)")
    joint_zero: dict[str, float] = Field(
        default_factory=dict,
        description="URDF joint -> the description's angle (rad) at the recorded 0, where the recorder counts a joint "
        "from another zero (`JointSpaceOptions.joint_zero`; the evidence in `source`)",
    )
    source: str = Field(min_length=1, description="the joint order, unit and zero, and the gripper's convention, cited")
    recorded_pose: RecordedPose | None = Field(None, description="a recorded hand pose not read as the wrist, compared")

    @field_validator("joints", "gripper", mode="before")
    @classmethod
    def _one_arm(cls, v: object) -> object:
        return () if v is None else (v,) if isinstance(v, str) else v

    @model_validator(mode="after")
    def _gripper(self) -> JointFK:
        if (not self.gripper) == (not self.gripper_unread):
            raise ValueError("joint_fk: name the gripper column or say why none is read (gripper_unread), not both")
        if self.gripper and len(self.gripper) != len(self.joints):
            raise ValueError(f"joint_fk: {len(self.gripper)} gripper columns for {len(self.joints)} arms")
        return self


class OXESubset(Frozen):
    """Everything the adapter needs to know about one OXE dataset beyond what `features.json` says."""

    name: str
    aliases: tuple[str, ...] = ()
    control_hz: float = Field(gt=0)
    hz_source: str
    embodiment: str = Field(description="name in schemas.robots.registry.default_registry()")
    robot_type: str
    tier: QualityTier
    tier_reason: str
    cameras: tuple[CameraSpec, ...]
    states: tuple[StreamSpec, ...]
    actions: tuple[StreamSpec, ...]
    action_semantics: str
    action_encoding: ActionEncoding | None = Field(
        None, description="which action streams are deltas, from the maker's code (None: all absolute, unsettled)"
    )
    language: tuple[TextSpec, ...]
    skipped: tuple[StreamSpec, ...] = Field((), description="per-step tensors not read: embeddings, depth")
    has_discount: bool = Field(True, description="steps/discount exists (newer RLDS builders)")
    episode_metadata: tuple[MetaSpec, ...] = ()
    success_key: str | None = Field(None, description="episode-level success flag key")
    success_from_file_path: bool = Field(False, description="'/success/' or '/failure/' in episode_metadata/file_path")
    eef_reference_rotation: Matrix3 | None = Field(
        None,
        description="the state's EEF orientation R_state is stored relative to this rotation D (R_state = R_eef·Dᵀ): "
        "the hand declaration recovers the end-effector frame as R_eef = R_state·D",
    )
    notes: tuple[str, ...] = ()
    natives_reason: str = Field(
        "",
        description="why this subset gives no canonical wrist: what is missing (a subset whose states name no "
        "end-effector pose must say it)",
    )
    octo: OctoEntry | None = Field(None, description="its row in Octo's OXE tables (None: not in them)")
    joint_fk: JointFK | None = Field(None, description="the state's joint angles of a described robot (None: none)")

    @property
    def has_wrist(self) -> bool:
        """Whether a state names an end-effector position (a part `eef_xyz` / `tcp_xyz`: `adapters.oxe.hands`)."""
        return any(p.name in WRIST_PARTS for s in self.states for p in s.parts)

    @model_validator(mode="after")
    def _check_reference(self) -> OXESubset:
        if not self.has_wrist and self.joint_fk is None and not self.natives_reason:
            raise ValueError(
                f"{self.name}: no state names an end-effector pose or a described robot's joints (joint_fk), so "
                "natives_reason must say why"
            )
        if self.joint_fk is not None:
            self._check_joint_fk(self.joint_fk)
        if self.eef_reference_rotation is not None:
            d = np.asarray(self.eef_reference_rotation, dtype=np.float64)
            if not (np.allclose(d @ d.T, np.eye(3), atol=1e-9) and np.isclose(np.linalg.det(d), 1.0)):
                raise ValueError(f"{self.name}: eef_reference_rotation is not a rotation matrix: {d.tolist()}")
        return self

    @property
    def fk_wrist(self) -> bool:
        """Whether the canonical wrist comes from forward kinematics of the state's joints (no pose recorded)."""
        return self.joint_fk is not None and not self.has_wrist

    def column(self, name: str, group: tuple[StreamSpec, ...]) -> StreamSpec | Part | None:
        """The stream '<key>' or its part '<key>:<part>' among `group`, or None."""
        key, _, part = name.partition(":")
        spec = next((s for s in group if s.key == key), None)
        return spec if spec is None or not part else next((p for p in spec.parts if p.name == part), None)

    def _width(self, name: str, group: tuple[StreamSpec, ...]) -> int | None:
        col = self.column(name, group)
        return None if col is None else (col.stop - col.start if isinstance(col, Part) else col.size)

    def _check_joint_fk(self, fk: JointFK) -> None:
        spec = load_joint_space().robots.get(self.embodiment)
        if spec is None or len(spec.arms) != len(fk.joints):
            arms = "no" if spec is None else len(spec.arms)
            raise ValueError(
                f"{self.name}: joint_fk names {len(fk.joints)} joint columns, embodiment {self.embodiment!r} has "
                f"{arms} arms in joint_space.yaml"
            )
        for arm, column in zip(spec.arms, fk.joints, strict=True):
            if (width := self._width(column, self.states)) != len(arm.joints):
                raise ValueError(
                    f"{self.name}: joint_fk.joints {column!r} holds {width} values, "
                    f"{self.embodiment}'s {arm.side} arm has {len(arm.joints)} joints"
                )
        ref = fk.recorded_pose
        if ref is not None and (bad := ref.bad_columns(lambda c: self._width(c, self.states))):
            raise ValueError(f"{self.name}: joint_fk.recorded_pose names {bad}")
        if unknown := sorted(set(fk.joint_zero) - {j.urdf for a in spec.arms for j in a.joints}):
            raise ValueError(f"{self.name}: joint_fk.joint_zero names {unknown}, no arm joint of {self.embodiment}")
        cols = [self.column(c, self.states) for c in fk.joints]
        names = {n for c in cols for n in (c.names or ())}
        others = [
            n for s in self.states for p in (s.parts or (s,)) if all(p is not c for c in cols) for n in (p.names or ())
        ]
        if clash := sorted(names & set(others)):
            raise ValueError(f"{self.name}: joint_fk.joints' names {clash} name other state columns too: ambiguous")
        for g in fk.gripper:
            if self._width(g, (*self.states, *self.actions)) != 1:
                raise ValueError(f"{self.name}: joint_fk.gripper {g!r} is no one-value column of the row")
        if len(spec.arms) > 1:
            self._check_sided_names(fk, spec)

    def _check_sided_names(self, fk: JointFK, spec: JointSpaceSpec) -> None:
        """A two-armed robot's columns are found by name (`ingest.canonical.joint_columns`): each arm's joint and
        gripper columns must be named by one of its side prefixes and its joint, in the description's order."""
        group = (*self.states, *self.actions)
        for k, arm in enumerate(spec.arms):
            col = self.column(fk.joints[k], self.states)
            names = list(col.names or ()) if col is not None else []
            pairs = list(zip(arm.joints, names, strict=False))
            if fk.gripper and arm.gripper is not None:
                grip = self.column(fk.gripper[k], group)
                pairs.append((arm.gripper.joint, (grip.names or ("",))[0] if grip is not None else ""))
            bad = [n for j, n in pairs if name_key(n) not in j.keys(arm.prefixes)]
            if len(names) != len(arm.joints) or bad:
                raise ValueError(
                    f"{self.name}: joint_fk's {arm.side} arm columns must be named '<{arm.prefixes[0]}>_<joint>' in "
                    f"the description's order ({[j.urdf for j in arm.joints]}); got {names}, unmatched {bad}"
                )

    def relative_why(self, stream: str) -> str | None:
        """Why the action stream `stream` ('<key>' or '<key>:<part>') is a delta, or None: absolute."""
        enc = self.action_encoding
        return f"{self.name} {enc.name}: {enc.why}" if enc is not None and stream in enc.relative else None

    def matches(self, dataset_name: str) -> bool:
        return dataset_name == self.name or dataset_name in self.aliases

    def stream(self, key: str) -> StreamSpec | None:
        for s in (*self.states, *self.actions):
            if s.key == key:
                return s
        return None

    def camera(self, key: str) -> CameraSpec | None:
        return next((c for c in self.cameras if c.key == key), None)

    def camera_roles(self, keys: list[str]) -> dict[str, Camera | None]:
        """An episode's cameras (keys under steps/) placed: this table's `canonical` for the cameras it names, else
        the shared vocabulary (adapters/camera_roles.yaml), each role once."""
        return camera_roles(keys, {c.key: c.canonical for c in self.cameras})


class _SubsetsFile(Frozen):
    shared: dict[str, object] = Field(default_factory=dict, description="YAML anchors the entries reuse")
    subsets: tuple[OXESubset, ...]


def load_subsets(path: Path = SUBSETS_YAML) -> dict[str, OXESubset]:
    """The table in `path` by dataset name; errors name the file and pydantic's field path."""
    try:
        table = _SubsetsFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except Exception as e:  # yaml or pydantic: either way the table is unusable; say which file
        raise ValueError(f"{path}: {e}") from e
    return {s.name: s for s in table.subsets}


SUBSETS: dict[str, OXESubset] = load_subsets()


def find_subset(dataset_name: str) -> OXESubset | None:
    """The table entry for a TFDS dataset name (its name or an alias), or None."""
    return next((s for s in SUBSETS.values() if s.matches(dataset_name)), None)
