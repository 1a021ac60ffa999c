"""Per-subset facts for Open X-Embodiment RLDS datasets, as data (pydantic models), read by `adapters.oxe.adapter`.

Each `OXESubset` names the native per-step keys (relative to `steps/`, as flattened in the `tf.train.Example`), their
per-step shape, TFDS dtype and encoding, what they mean (unit, frame, component names, slices with their own units),
which camera is which canonical camera (and which stores BGR pixels), where the language is, the control frequency,
the embodiment (a name in `schemas.robots.registry`) and the default quality tier. The same table drives
the fixture writer `adapters.synthetic.rlds`, so the synthetic builder directories carry exactly these keys.

Sources (reference, checked against each other):
- TFDS catalog pages (tensorflow.org/datasets/catalog/<name>) for the feature structures and feature descriptions;
  the DROID schema in droid-dataset/droid `docs/the-droid-dataset.md`; `tests/data/real/octo_bridge_debug_rlds` for
  Bridge.
- Control frequencies: the OXE dataset sheet as carried by any4lerobot `openx2lerobot/oxe_utils/configs.py`
  (`OXE_DATASET_METADATA`: fractal 3, kuka 10, bridge 5, taco_play 15, berkeley_autolab_ur5 5, droid 15 Hz).
- Component layouts: octo-models/octo `octo/data/oxe/oxe_standardization_transforms.py` and openvla
  `prismatic/vla/datasets/rlds/oxe/configs.py` (which slices are EEF pose / gripper), CALVIN's `robot_obs` layout for
  taco_play, droid-dataset/droid issue #9 (Cartesian poses are xyz + Euler, velocities in the robot base frame).
- BGR quirk: huggingface/lerobot issue #435 (berkeley_autolab_ur5 wrist camera, raw copy); the re-encoded copies
  (kpertsch/rlds_dataset_mod) are already RGB: `CameraSpec.bgr_at_shape`.
- Bridge's EEF orientation is stored relative to a top-down default rotation (rail-berkeley/bridge_data_robot):
  `OXESubset.eef_reference_rotation`.
Where a fact could not be checked it says "(unverified)" in its `doc`.

Conventions: positions in metres, angles in radians, Euler angles about fixed axes x then y then z (R = Rz·Ry·Rx);
unit "normalized" marks a command scaled by the robot stack to about [-1, 1], not a physical quantity.

Keys configured here but absent from a dataset's `features.json` are reported by the adapter, and keys present there
but not configured are still read (unit unknown): the files on disk stay the authority on what exists.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.canonical import Camera
from schemas.tiers import QualityTier

TFDSDtype = Literal["float32", "float64", "int32", "int64", "bool", "uint8", "string"]
Matrix3 = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]
ROBOT_BASE = "robot_base"
NORMALIZED = "normalized"  # a command scaled to about [-1, 1] by the robot stack (see each doc for the scale)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Part(_Frozen):
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


class StreamSpec(_Frozen):
    """One native per-step tensor under `steps/`. With `parts`, the adapter emits one `Stream` per part."""

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
            if len(self.shape) != 1:
                raise ValueError(f"{self.key}: parts need a 1-D per-step shape, got {self.shape}")
            spans = sorted((p.start, p.stop) for p in self.parts)
            edges = [0, *[e for s in spans for e in s], self.shape[0]]
            if any(edges[i] != edges[i + 1] for i in range(0, len(edges), 2)):
                raise ValueError(f"{self.key}: parts {spans} do not tile [0, {self.shape[0]})")
        if self.names is not None and (not self.shape or len(self.names) != self.shape[-1]):
            raise ValueError(f"{self.key}: {len(self.names)} names for per-step shape {self.shape}")
        return self


class CameraSpec(_Frozen):
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


class TextSpec(_Frozen):
    """A per-step text feature (one string per step)."""

    key: str
    kind: str = "instruction"
    doc: str = ""


class MetaSpec(_Frozen):
    """An episode-level feature: `episode_metadata/<name>` or a top-level key such as kuka's `success`."""

    key: str = Field(description="full flattened key, e.g. 'episode_metadata/file_path' or 'success'")
    dtype: TFDSDtype
    doc: str = ""


class OXESubset(_Frozen):
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

    @model_validator(mode="after")
    def _check_reference(self) -> OXESubset:
        if self.eef_reference_rotation is not None:
            d = np.asarray(self.eef_reference_rotation, dtype=np.float64)
            if not (np.allclose(d @ d.T, np.eye(3), atol=1e-9) and np.isclose(np.linalg.det(d), 1.0)):
                raise ValueError(f"{self.name}: eef_reference_rotation is not a rotation matrix: {d.tolist()}")
        return self

    def matches(self, dataset_name: str) -> bool:
        return dataset_name == self.name or dataset_name in self.aliases

    def stream(self, key: str) -> StreamSpec | None:
        for s in (*self.states, *self.actions):
            if s.key == key:
                return s
        return None

    def camera(self, key: str) -> CameraSpec | None:
        return next((c for c in self.cameras if c.key == key), None)


XYZ = ("x", "y", "z")
RPY = ("roll", "pitch", "yaw")
QUAT = ("qx", "qy", "qz", "qw")


def _eef_xyz(start: int = 0) -> Part:
    return Part(name="eef_xyz", start=start, stop=start + 3, unit="m", frame=ROBOT_BASE, names=XYZ)


def _rt1_actions() -> tuple[StreamSpec, ...]:
    """The RT-1 action dict shared by fractal20220817_data and kuka."""
    return (
        StreamSpec(
            key="action/world_vector",
            shape=(3,),
            unit="m",
            frame=ROBOT_BASE,
            names=XYZ,
            doc="EEF delta position per step (unit m unverified)",
        ),
        StreamSpec(
            key="action/rotation_delta",
            shape=(3,),
            unit="rad",
            frame=ROBOT_BASE,
            names=RPY,
            doc="EEF delta rotation roll/pitch/yaw per step",
        ),
        StreamSpec(
            key="action/gripper_closedness_action",
            shape=(1,),
            unit="-1..1",
            doc="relative gripper command: +1 close, -1 open, 0 keep (octo rel2abs_gripper_actions)",
        ),
        StreamSpec(
            key="action/base_displacement_vector",
            shape=(2,),
            unit="m",
            names=("x", "y"),
            doc="mobile base translation command",
        ),
        StreamSpec(
            key="action/base_displacement_vertical_rotation", shape=(1,), unit="rad", doc="mobile base yaw command"
        ),
        StreamSpec(
            key="action/terminate_episode",
            shape=(3,),
            dtype="int32",
            unit="one_hot",
            names=("terminate", "continue", "undocumented"),
            doc="episode termination one-hot (unverified order)",
        ),
    )


# BridgeData V2 state orientation (rail-berkeley/bridge_data_robot, https://github.com/rail-berkeley/bridge_data_robot):
# `widowx_envs/widowx_envs/base/robot_base_env.py` get_full_state() stores
# `transform2state(eep, gripper, controller.default_rot)`, and `transform2state`
# (widowx_envs/widowx_envs/utils/transformation_utils.py) takes the Euler angles of `R_eep · default_rotationᵀ`,
# decomposed as R = Rz·Ry·Rx (its eulerAnglesToRotationMatrix). `eep` is FKinSpace(robot_des.M, ...), the
# interbotix ee_gripper_link; `default_rot = Rz(normal_base_angle) · DEFAULT_ROTATION` with DEFAULT_ROTATION =
# [[0,0,1],[0,1,0],[-1,0,0]] = Ry(+90°) (widowx_controller/src/widowx_controller/widowx_controller.py) and
# normal_base_angle = env param workspace_rotation_angle_z, 0 by default. So rpy = 0 is the gripper pointing straight
# down. SimplerEnv and open-pi-zero convert simulator poses the same way ("EE pose in Bridge data was relative to a
# top-down pose, instead of robot base"). Checked on the real Octo sample: with R_state·D the approach axis (ee x)
# points down in 250 of 250 frames (tests/adapters/oxe/test_real_bridge.py).
BRIDGE_DEFAULT_ROTATION: Matrix3 = ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (-1.0, 0.0, 0.0))

BRIDGE = OXESubset(
    name="bridge",
    aliases=("bridge_dataset", "bridge_orig"),
    control_hz=5,
    hz_source="OXE sheet via any4lerobot oxe_utils/configs.py (bridge 5 Hz)",
    embodiment="widowx",
    robot_type="widowx_250",
    tier=QualityTier.high,
    tier_reason="VR teleoperated demonstrations (BridgeData V2)",
    cameras=(
        CameraSpec(
            key="observation/image_0",
            canonical=Camera.third_person,
            shape=(256, 256, 3),
            doc="fixed over-the-shoulder camera (Octo/OpenVLA 'primary')",
        ),
        CameraSpec(
            key="observation/image_1",
            canonical=None,
            shape=(256, 256, 3),
            doc="second fixed view (Octo 'secondary'), kept natively",
        ),
        CameraSpec(key="observation/image_2", canonical=None, shape=(256, 256, 3), doc="third fixed view"),
        CameraSpec(
            key="observation/image_3",
            canonical=Camera.wrist_right,
            shape=(256, 256, 3),
            doc="wrist camera when present (assumption; blank in the Octo debug sample)",
        ),
    ),
    states=(
        StreamSpec(
            key="observation/state",
            shape=(7,),
            parts=(
                _eef_xyz(),
                Part(
                    name="eef_rpy",
                    start=3,
                    stop=6,
                    unit="rad",
                    frame=ROBOT_BASE,
                    names=RPY,
                    doc="Euler angles (R = Rz·Ry·Rx) of R_ee·Dᵀ, i.e. relative to the top-down default rotation D "
                    "(bridge_data_robot transform2state; see eef_reference_rotation), not of the ee_gripper_link frame",
                ),
                Part(name="gripper", start=6, stop=7, unit="0..1", names=("gripper_open",), doc="1 = open"),
            ),
            doc="EEF xyz + roll/pitch/yaw + gripper opening (octo bridge transform: [:6] EEF, [-1:] gripper); the "
            "features.json description ('7x robot joint angles...') is the RLDS template text and is wrong",
        ),
    ),
    eef_reference_rotation=BRIDGE_DEFAULT_ROTATION,
    actions=(
        StreamSpec(
            key="action",
            shape=(7,),
            parts=(
                Part(name="delta_xyz", start=0, stop=3, unit="m", frame=ROBOT_BASE, names=XYZ),
                Part(name="delta_rpy", start=3, stop=6, unit="rad", frame=ROBOT_BASE, names=RPY),
                Part(
                    name="gripper",
                    start=6,
                    stop=7,
                    unit="0..1",
                    names=("gripper_open",),
                    doc="absolute gripper command, 1 = open (octo binarizes it)",
                ),
            ),
            doc="EEF delta xyz + delta rpy + absolute gripper (ActionEncoding.EEF_POS); features.json text is the "
            "template's '7x joint velocities...' and is wrong",
        ),
    ),
    action_semantics="EEF delta position (m) + delta roll/pitch/yaw (rad) in the robot base frame + absolute gripper "
    "opening command 0..1 (1 = open)",
    language=(TextSpec(key="language_instruction"),),
    skipped=(StreamSpec(key="language_embedding", shape=(512,), doc="sentence embedding of the instruction"),),
    episode_metadata=(
        MetaSpec(key="episode_metadata/file_path", dtype="string", doc="path of the source out.npy"),
        MetaSpec(key="episode_metadata/episode_id", dtype="int32", doc="index of the episode in file_path"),
        *(
            MetaSpec(key=f"episode_metadata/has_image_{i}", dtype="bool", doc="unreliable: 0 in the Octo sample")
            for i in range(4)
        ),
        MetaSpec(key="episode_metadata/has_language", dtype="bool"),
    ),
    notes=(
        "has_image_* flags are wrong in real data (all 0 while every image stream carries JPEGs): camera presence is "
        "decided from the bytes (empty or constant images = absent)",
        "Octo's debug copy never sets is_last/is_terminal and holds the same 25 episodes in train and val",
        "OXE's 'bridge' 0.1.0 has been listed with two layouts: the current TFDS catalog page shows this one "
        "(image_0..3, action (7,)); older listings show observation/image (480x640), observation/state (7,) and an "
        "action dict (world_vector, rotation_delta, open_gripper): their state is read with the same slices and "
        "reference rotation, the rest generically",
        "the state orientation is relative to a top-down default rotation (bridge_data_robot); a setup run with "
        "workspace_rotation_angle_z = a != 0 stored R_ee·Dᵀ·Rz(-a), which the data does not record: the recovered "
        "approach axis stays right, the fingers turn by a about it",
    ),
)

FRACTAL = OXESubset(
    name="fractal20220817_data",
    aliases=("rt1", "fractal"),
    control_hz=3,
    hz_source="OXE sheet via any4lerobot oxe_utils/configs.py (3 Hz)",
    embodiment="google_robot",
    robot_type="google_robot",
    tier=QualityTier.high,
    tier_reason="RT-1 teleoperated demonstrations",
    cameras=(CameraSpec(key="observation/image", canonical=Camera.head, shape=(256, 320, 3), doc="robot head camera"),),
    states=(
        StreamSpec(
            key="observation/base_pose_tool_reached",
            shape=(7,),
            parts=(
                _eef_xyz(),
                Part(
                    name="eef_quat",
                    start=3,
                    stop=7,
                    unit="quat_xyzw",
                    frame=ROBOT_BASE,
                    names=QUAT,
                    doc="quaternion order xyzw (unverified)",
                ),
            ),
            doc="EEF pose reached, xyz + quaternion (openvla StateEncoding.POS_QUAT)",
        ),
        StreamSpec(key="observation/gripper_closed", shape=(1,), unit="0..1", doc="1 = closed"),
        StreamSpec(key="observation/gripper_closedness_commanded", shape=(1,), unit="0..1"),
        StreamSpec(key="observation/height_to_bottom", shape=(1,), unit="m"),
        StreamSpec(key="observation/orientation_box", shape=(2, 3)),
        StreamSpec(key="observation/orientation_start", shape=(4,), unit="quat_xyzw", doc="(order unverified)"),
        StreamSpec(key="observation/robot_orientation_positions_box", shape=(3, 3)),
        StreamSpec(key="observation/rotation_delta_to_go", shape=(3,), unit="rad", names=RPY),
        StreamSpec(key="observation/src_rotation", shape=(4,), unit="quat_xyzw", doc="(order unverified)"),
        StreamSpec(key="observation/vector_to_go", shape=(3,), unit="m", names=XYZ),
        StreamSpec(key="observation/workspace_bounds", shape=(3, 3), unit="m"),
    ),
    actions=_rt1_actions(),
    action_semantics="action/world_vector EEF delta xyz + action/rotation_delta delta roll/pitch/yaw (robot base) + "
    "action/gripper_closedness_action relative gripper (+1 close, -1 open) + base motion + terminate one-hot",
    language=(TextSpec(key="observation/natural_language_instruction"),),
    skipped=(StreamSpec(key="observation/natural_language_embedding", shape=(512,), doc="USE embedding"),),
    has_discount=False,
)

KUKA = OXESubset(
    name="kuka",
    control_hz=10,
    hz_source="OXE sheet via any4lerobot oxe_utils/configs.py (kuka 10 Hz)",
    embodiment="kuka_iiwa",
    robot_type="kuka_iiwa",
    tier=QualityTier.low,
    tier_reason="QT-Opt grasping data collected by scripted and RL policies (not expert teleoperation); the raw copy "
    "keeps failed grasps (episode success flag), the rlds_dataset_mod copy only successes (filter_success)",
    cameras=(
        CameraSpec(
            key="observation/image",
            canonical=Camera.third_person,
            shape=(512, 640, 3),
            doc="fixed over-the-shoulder camera",
        ),
    ),
    states=(
        StreamSpec(
            key="observation/clip_function_input/base_pose_tool_reached",
            shape=(7,),
            encoding="zlib",
            parts=(
                _eef_xyz(),
                Part(
                    name="eef_quat",
                    start=3,
                    stop=7,
                    unit="quat_xyzw",
                    frame=ROBOT_BASE,
                    names=QUAT,
                    doc="quaternion order xyzw (unverified)",
                ),
            ),
            doc="EEF pose xyz + quaternion; stored ZLIB-compressed float32 bytes (octo kuka transform)",
        ),
        StreamSpec(key="observation/gripper_closed", shape=(1,), encoding="zlib", unit="0..1", doc="1 = closed"),
        StreamSpec(key="observation/height_to_bottom", shape=(1,), encoding="zlib", unit="m"),
        StreamSpec(key="observation/clip_function_input/workspace_bounds", shape=(3, 3), encoding="zlib", unit="m"),
        StreamSpec(key="observation/task_id", shape=(1,), encoding="zlib"),
    ),
    actions=_rt1_actions(),
    action_semantics="RT-1 action dict: EEF delta xyz + delta roll/pitch/yaw + relative gripper (+1 close, -1 open)",
    language=(
        TextSpec(key="observation/natural_language_instruction", doc="uninformative template text (octo drops it)"),
    ),
    skipped=(StreamSpec(key="observation/natural_language_embedding", shape=(512,), encoding="zlib"),),
    has_discount=False,
    success_key="success",
    notes=("episode-level 'success' flag (top-level key, not under episode_metadata)",),
)

# TACO-Play was recorded with the CALVIN stack (mees/robot_io). Its makers' README (ErickRosete/tacorl
# dataset/README.md, the real-world TACO data; mees/calvin dataset/README.md for CALVIN) says gripper_action is
# "binary (close = -1, open = 1)" and the relative actions are "normalized and clipped to (-1, 1) with scaling factor
# 50" (position) / "20" (orientation); mees/robot_io examples/preprocess_data.py divides by MAX_REL_POS = 0.02 m and
# MAX_REL_ORN = 0.05 rad (its clip is commented out there, so |value| can exceed 1 slightly). Octo's
# taco_play_dataset_transform clips the gripper to 0..1 as "+1 = open, 0 = close". The TFDS feature description
# ("-1 = open") has the sign backwards. robot_obs[6] is "gripper opening width (1): in meter".
_TACO_GRIPPER_DOC = "+1 = open, -1 = close (CALVIN/TACO-RL dataset README, octo taco_play_dataset_transform)"
_TACO_REL_POS_DOC = "tcp displacement / 0.02 m (CALVIN/TACO 'scaling factor 50', robot_io MAX_REL_POS)"
_TACO_REL_ORN_DOC = "Euler-angle change / 0.05 rad (CALVIN/TACO 'scaling factor 20', robot_io MAX_REL_ORN)"
TACO_PLAY = OXESubset(
    name="taco_play",
    control_hz=15,
    hz_source="OXE sheet via any4lerobot oxe_utils/configs.py (taco_play 15 Hz)",
    embodiment="franka",
    robot_type="franka_panda",
    tier=QualityTier.high,
    tier_reason="teleoperated play data",
    cameras=(
        CameraSpec(key="observation/rgb_static", canonical=Camera.third_person, shape=(150, 200, 3)),
        CameraSpec(key="observation/rgb_gripper", canonical=Camera.wrist_right, shape=(84, 84, 3)),
    ),
    states=(
        StreamSpec(
            key="observation/robot_obs",
            shape=(15,),
            parts=(
                Part(name="tcp_xyz", start=0, stop=3, unit="m", frame=ROBOT_BASE, names=XYZ),
                Part(
                    name="tcp_euler",
                    start=3,
                    stop=6,
                    unit="rad",
                    frame=ROBOT_BASE,
                    names=("ex", "ey", "ez"),
                    doc="Euler angles (CALVIN robot_obs)",
                ),
                Part(
                    name="gripper_width",
                    start=6,
                    stop=7,
                    unit="m",
                    names=("gripper_opening_width",),
                    doc="gripper opening width in metres, 0..0.08 (CALVIN README 'in meter'; Franka Hand stroke)",
                ),
                Part(name="joints", start=7, stop=14, unit="rad", names=tuple(f"joint_{i}" for i in range(7))),
                Part(
                    name="gripper_action",
                    start=14,
                    stop=15,
                    unit="-1..1",
                    names=("gripper_action",),
                    doc=_TACO_GRIPPER_DOC,
                ),
            ),
            doc="CALVIN robot_obs: tcp pos, tcp orn, gripper width, 7 joints, last gripper action",
        ),
    ),
    actions=(
        StreamSpec(
            key="action/rel_actions_world",
            shape=(7,),
            parts=(
                Part(
                    name="delta_xyz",
                    start=0,
                    stop=3,
                    unit=NORMALIZED,
                    frame=ROBOT_BASE,
                    names=XYZ,
                    doc=_TACO_REL_POS_DOC,
                ),
                Part(
                    name="delta_euler",
                    start=3,
                    stop=6,
                    unit=NORMALIZED,
                    frame=ROBOT_BASE,
                    names=("yaw", "pitch", "roll"),
                    doc=f"{_TACO_REL_ORN_DOC}; TFDS description orders them yaw, pitch, roll",
                ),
                Part(name="gripper", start=6, stop=7, unit="-1..1", names=("open_gripper",), doc=_TACO_GRIPPER_DOC),
            ),
            doc="relative actions in the robot base frame, scaled (the one octo/openvla train on)",
        ),
        StreamSpec(
            key="action/actions",
            shape=(7,),
            parts=(
                Part(name="abs_xyz", start=0, stop=3, unit="m", frame=ROBOT_BASE, names=XYZ),
                Part(name="abs_euler", start=3, stop=6, unit="rad", frame=ROBOT_BASE, names=("yaw", "pitch", "roll")),
                Part(name="gripper", start=6, stop=7, unit="-1..1", names=("open_gripper",), doc=_TACO_GRIPPER_DOC),
            ),
            doc="absolute desired gripper pose",
        ),
        StreamSpec(
            key="action/rel_actions_gripper",
            shape=(7,),
            parts=(
                Part(
                    name="delta_xyz",
                    start=0,
                    stop=3,
                    unit=NORMALIZED,
                    frame="gripper_camera",
                    names=XYZ,
                    doc=_TACO_REL_POS_DOC,
                ),
                Part(
                    name="delta_euler",
                    start=3,
                    stop=6,
                    unit=NORMALIZED,
                    frame="gripper_camera",
                    names=("yaw", "pitch", "roll"),
                    doc=_TACO_REL_ORN_DOC,
                ),
                Part(name="gripper", start=6, stop=7, unit="-1..1", names=("open_gripper",), doc=_TACO_GRIPPER_DOC),
            ),
            doc="relative actions in the gripper camera frame, scaled",
        ),
        StreamSpec(key="action/terminate_episode", shape=(), unit="0..1"),
    ),
    action_semantics="action/rel_actions_world: EEF delta xyz / 0.02 m + delta Euler / 0.05 rad in the robot base "
    "frame (normalized to about [-1, 1]) + gripper (+1 open, -1 close); absolute (m, rad) and gripper-frame variants "
    "kept beside it",
    language=(
        TextSpec(key="observation/natural_language_instruction"),
        TextSpec(key="observation/structured_language_instruction", kind="description"),
    ),
    skipped=(
        StreamSpec(key="observation/depth_static", shape=(150, 200), unit="m", doc="depth image as a float tensor"),
        StreamSpec(key="observation/depth_gripper", shape=(84, 84), unit="m", doc="depth image as a float tensor"),
        StreamSpec(key="observation/natural_language_embedding", shape=(512,)),
    ),
    has_discount=False,
)

# DROID's velocity actions are unitless commands: droid-dataset/droid droid/robot_ik/robot_ik_solver.py
# (cartesian_velocity_to_delta, joint_velocity_to_delta, gripper_velocity_to_delta) clip them to unit size and
# multiply by a per-step maximum (max_lin_delta 0.075 m, max_rot_delta 0.15 rad, max_joint_delta 0.2 rad,
# max_gripper_delta 0.25) at control_hz 15; the *_delta_to_velocity functions invert that.
_DROID_VELOCITY_DOC = "a normalized command, not m/s or rad/s (droid robot_ik_solver.py *_velocity_to_delta)"

DROID = OXESubset(
    name="droid",
    aliases=("droid_100", "r2d2"),
    control_hz=15,
    hz_source="OXE sheet via any4lerobot oxe_utils/configs.py (droid 15 Hz)",
    embodiment="franka",
    robot_type="franka_panda",
    tier=QualityTier.high,
    tier_reason="teleoperated demonstrations; failed episodes are flagged by success=False",
    cameras=(
        CameraSpec(key="observation/exterior_image_1_left", canonical=Camera.third_person, shape=(180, 320, 3)),
        CameraSpec(
            key="observation/exterior_image_2_left",
            canonical=None,
            shape=(180, 320, 3),
            doc="second exterior camera, kept natively",
        ),
        CameraSpec(key="observation/wrist_image_left", canonical=Camera.wrist_right, shape=(180, 320, 3)),
    ),
    states=(
        StreamSpec(
            key="observation/cartesian_position",
            shape=(6,),
            dtype="float64",
            parts=(_eef_xyz(), Part(name="eef_euler", start=3, stop=6, unit="rad", frame=ROBOT_BASE, names=RPY)),
            doc="EEF xyz + Euler angles in the robot base frame (droid issue #9)",
        ),
        StreamSpec(
            key="observation/gripper_position",
            shape=(1,),
            dtype="float64",
            unit="0..1",
            doc="1 = closed (openvla uses 1 - gripper_position as 'open')",
        ),
        StreamSpec(
            key="observation/joint_position",
            shape=(7,),
            dtype="float64",
            unit="rad",
            names=tuple(f"joint_{i}" for i in range(7)),
        ),
    ),
    actions=(
        StreamSpec(
            key="action",
            shape=(7,),
            dtype="float64",
            doc="RLDS default action, documented as '6x joint velocities, 1x gripper position' (the maintainers "
            "call it a placeholder, droid issue #9): prefer action_dict/*",
        ),
        StreamSpec(
            key="action_dict/cartesian_position",
            shape=(6,),
            dtype="float64",
            parts=(_eef_xyz(), Part(name="eef_euler", start=3, stop=6, unit="rad", frame=ROBOT_BASE, names=RPY)),
            doc="commanded absolute EEF pose",
        ),
        StreamSpec(
            key="action_dict/cartesian_velocity",
            shape=(6,),
            dtype="float64",
            parts=(
                Part(
                    name="linear",
                    start=0,
                    stop=3,
                    unit=NORMALIZED,
                    frame=ROBOT_BASE,
                    names=XYZ,
                    doc="norm clipped to 1, times max_lin_delta 0.075 m per 15 Hz step (robot_ik_solver.py)",
                ),
                Part(
                    name="angular",
                    start=3,
                    stop=6,
                    unit=NORMALIZED,
                    frame=ROBOT_BASE,
                    names=RPY,
                    doc="norm clipped to 1, times max_rot_delta 0.15 rad per 15 Hz step (robot_ik_solver.py); delta "
                    "Euler rates (droid issue #9)",
                ),
            ),
            doc=f"commanded Cartesian velocity in the robot base frame, {_DROID_VELOCITY_DOC}",
        ),
        StreamSpec(key="action_dict/gripper_position", shape=(1,), dtype="float64", unit="0..1", doc="1 = closed"),
        StreamSpec(
            key="action_dict/gripper_velocity",
            shape=(1,),
            dtype="float64",
            unit=NORMALIZED,
            doc=f"clipped to 1, times max_gripper_delta 0.25 per 15 Hz step; {_DROID_VELOCITY_DOC}",
        ),
        StreamSpec(
            key="action_dict/joint_position",
            shape=(7,),
            dtype="float64",
            unit="rad",
            names=tuple(f"joint_{i}" for i in range(7)),
        ),
        StreamSpec(
            key="action_dict/joint_velocity",
            shape=(7,),
            dtype="float64",
            unit=NORMALIZED,
            names=tuple(f"joint_{i}" for i in range(7)),
            doc=f"largest |component| clipped to 1, times max_joint_delta 0.2 rad per step; {_DROID_VELOCITY_DOC}",
        ),
    ),
    action_semantics="action_dict: commanded absolute EEF pose, normalized Cartesian velocity (base frame), joint "
    "positions, normalized joint velocities, gripper position (1 = closed); 'action' is the RLDS default kept as is",
    language=(
        TextSpec(key="language_instruction"),
        TextSpec(key="language_instruction_2", doc="alternative phrasing"),
        TextSpec(key="language_instruction_3", doc="alternative phrasing"),
    ),
    episode_metadata=(
        MetaSpec(key="episode_metadata/file_path", dtype="string", doc="path of the raw trajectory.h5"),
        MetaSpec(key="episode_metadata/recording_folderpath", dtype="string"),
    ),
    success_from_file_path=True,
    notes=("float64 tensors are stored as float_list (float32 precision) by TFDS; read back as float64",),
)

BERKELEY_AUTOLAB_UR5 = OXESubset(
    name="berkeley_autolab_ur5",
    control_hz=5,
    hz_source="OXE sheet via any4lerobot oxe_utils/configs.py (berkeley_autolab_ur5 5 Hz)",
    embodiment="ur5",
    robot_type="ur5",
    tier=QualityTier.high,
    tier_reason="teleoperated demonstrations",
    cameras=(
        CameraSpec(key="observation/image", canonical=Camera.third_person, shape=(480, 640, 3)),
        # The raw OXE copy (gs://gresearch/robotics/berkeley_autolab_ur5/0.1.0, hand_image (480, 640, 3)) stores BGR
        # (lerobot issue #435). kpertsch/rlds_dataset_mod prepare_open_x.sh re-encodes it with
        # "resize_and_jpeg_encode,flip_wrist_image_channels" (mod_functions.py: every image to 256x256, hand_image
        # channels reversed) under the same builder name and version, so that copy is RGB: flip only at 480x640.
        CameraSpec(
            key="observation/hand_image",
            canonical=Camera.wrist_right,
            shape=(480, 640, 3),
            bgr_at_shape=(480, 640, 3),
            doc="stored BGR in the raw 480x640 copy (lerobot issue #435); RGB in re-encoded copies (rlds_dataset_mod)",
        ),
    ),
    states=(
        StreamSpec(
            key="observation/robot_state",
            shape=(15,),
            parts=(
                Part(name="joints", start=0, stop=6, unit="rad", names=tuple(f"joint_{i}" for i in range(6))),
                _eef_xyz(6),
                Part(
                    name="eef_quat",
                    start=9,
                    stop=13,
                    unit="quat_xyzw",
                    frame=ROBOT_BASE,
                    names=QUAT,
                    doc="quaternion (order unverified)",
                ),
                Part(name="gripper", start=13, stop=14, unit="0..1", names=("gripper_closed",)),
                Part(name="extra", start=14, stop=15, names=("robot_state_14",), doc="undocumented (unverified)"),
            ),
            doc="6 joints + EEF xyz + quaternion + gripper (octo uses [6:14] as the EEF state)",
        ),
    ),
    actions=(
        StreamSpec(
            key="action/world_vector", shape=(3,), unit="m", frame=ROBOT_BASE, names=XYZ, doc="Delta change in XYZ"
        ),
        StreamSpec(
            key="action/rotation_delta",
            shape=(3,),
            unit="rad",
            frame=ROBOT_BASE,
            names=RPY,
            doc="Delta change in roll, pitch, yaw",
        ),
        StreamSpec(
            key="action/gripper_closedness_action",
            shape=(),
            unit="-1..1",
            doc="relative gripper command (octo rel2abs_gripper_actions)",
        ),
        StreamSpec(key="action/terminate_episode", shape=(), unit="0..1"),
    ),
    action_semantics="EEF delta xyz + delta roll/pitch/yaw (robot base) + relative gripper command",
    language=(TextSpec(key="observation/natural_language_instruction"),),
    skipped=(
        StreamSpec(
            key="observation/image_with_depth",
            shape=(480, 640, 1),
            feature="image",
            doc="float32 depth Image (not RGB)",
        ),
        StreamSpec(key="observation/natural_language_embedding", shape=(512,)),
    ),
    has_discount=False,
    notes=(
        "the wrist camera (hand_image) stores BGR pixels in the raw 480x640 copy: flipped after decoding; the "
        "rlds_dataset_mod copy (256x256, same name and version) is RGB and is not flipped (option bgr_cameras "
        "overrides)",
    ),
)

SUBSETS: dict[str, OXESubset] = {s.name: s for s in (BRIDGE, FRACTAL, KUKA, TACO_PLAY, DROID, BERKELEY_AUTOLAB_UR5)}


def find_subset(dataset_name: str) -> OXESubset | None:
    """The table entry for a TFDS dataset name (its name or an alias), or None."""
    return next((s for s in SUBSETS.values() if s.matches(dataset_name)), None)
