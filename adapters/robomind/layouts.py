"""RoboMIND's per-robot HDF5 layouts, as data: which datasets hold what, their column names, cameras and embodiment.

Sources (X-Humanoid, the maker; cited by repository, path and commit):
- x-humanoid-robomind/x-humanoid-robomind.github.io `static/all_robot_h5_info.md` @ 24d1fe21 and
  `static/all_robot_h5_info_v1.2.md` @ a4baab8a: groups `puppet/` (the follower robot: the state) and `master/`
  (the teleoperation leader: the command) per robot, shapes, the column meaning ("joint_position (8d): [base link,
  ..., end_effector link, gripper]"), units (end_effector xyz m, rpy rad; joint_position rad; depth mm or m).
- the same repository's `static/robomind.yaml` @ fb4488e3 (`camera_names`, `qpos_arm_key` / `action_arm_key`,
  `bgr2rgb`) and `static/quick_start.ipynb` @ 2433e72b (which releases' images decode as BGR, the raw-buffer fallback,
  the controls each release has).
- Open-X-Humanoid/RoboMIND-dataset-utils `README.md` @ 11d3800e and `eepose/joint2pose.py` @ ff94d938: the recorded
  `puppet/end_effector` is stuck (almost constant) in h5_ur_1rgb and the simulation releases; the maker's own remedy is
  forward kinematics of `joint_position` (Franka to `panda_hand_tcp` from `panda_link0`, UR5e `ee_link` from
  `base_link`, AgileX `fl_link6` / `fr_link6` from `body_Link` of its `aloha_new.urdf`).

Why the hands come from the joints (FK through `schemas.robots`) and never from `end_effector`: the maker names
no frame or TCP for `end_effector` (only "[x, y, z, r, p, y]"), its angle convention is unstated, the AgileX
`end_effector_*` is documented twice differently (v1.1: xyz + quaternion xyzw; v1.2: xyz + rpy + gripper), UR's is
stuck, and the maker itself recomputes it from the joints. `end_effector` stays a native state stream.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from schemas.canonical import Camera

PANDA = tuple(f"joint{i}" for i in range(1, 8))  # schemas/robots/joint_space.yaml franka / fr3 native names
UR5E = ("shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint", "wrist_2_joint", "wrist_3_joint")
PIPER = tuple(f"joint{i}" for i in range(1, 7))
# Tien Kung: "arm (7d): [base link, ..., end_effector link]" (no names given): the chain order RoboMIND's own FK reads
# them in (RoboMIND-dataset-utils eepose/joint2pose.py @ ff94d938, "tiangong1pro": left_joint1, shoulder_roll_l_joint,
# left_joint3, elbow_l_joint, left_joint5..7 of humanoid.urdf); schemas/robots/joint_space.yaml tienkung maps
# arm_joint<i>.
TIENKUNG_ARM = tuple(f"arm_joint{i}" for i in range(1, 8))
# Tien Kung Xsens `end_effector` (12d) holds the two hands: "[little finger, ring finger, middle finger, index finger,
# thumb0 for bending, thumb1 for rotation]" per hand (all_robot_h5_info_v1.2.md).
INSPIRE6 = ("little", "ring", "middle", "index", "thumb_bend", "thumb_rotation")  # unit not stated by the maker: native
EEF6 = ("x", "y", "z", "roll", "pitch", "yaw")


@dataclass(frozen=True)
class Vector:
    """One HDF5 dataset under `puppet/` and `master/`: its name and the names of its columns."""

    dataset: str
    names: tuple[str, ...] | None  # None: columns keep index names (meaning not established by the maker)
    unit: str


@dataclass(frozen=True)
class RobotLayout:
    """A release folder `h5_<robot>`: the robot, its vectors, cameras and how it reaches the canonical hands."""

    robot_type: str
    embodiment: str  # a name in schemas.robots.registry.default_registry()
    vectors: tuple[Vector, ...]
    cameras: dict[str, Camera | None]
    # Images whose JPEG bytes hold RGB pixels in a file that says BGR (cv2.imencode of an RGB array): the maker's
    # quick_start converts BGR->RGB only for franka / ur / franka_fr3_dual; "other embodiments image data are
    # recorded in RGB" as cv2 decodes them (robomind.yaml `bgr2rgb` False for agilex and tienkung).
    rgb_in_bgr_jpeg: bool
    why: str = ""  # how the hands are reached (or why not), recorded in metadata and the tier reasons


def _arm(prefix: str, joints: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{prefix}{j}" for j in joints)


def _dual(dataset: str, joints: tuple[str, ...], unit: str, *, suffix: str = "") -> tuple[Vector, Vector]:
    """AgileX's per-arm datasets `<name>_left` / `<name>_right`, columns prefixed with the side."""
    return tuple(  # type: ignore[return-value]
        Vector(f"{dataset}_{side}", tuple(f"{side}_{j}{suffix}" for j in joints), unit) for side in ("left", "right")
    )


_FRANKA = RobotLayout(
    "franka",
    "franka",
    (
        Vector("joint_position", (*PANDA, "gripper"), "rad (gripper: native, unverified)"),
        Vector("end_effector", EEF6, "m, rad"),
    ),
    {"camera_top": Camera.head, "camera_left": Camera.third_person, "camera_right": None},
    rgb_in_bgr_jpeg=False,
    why="wrist by FK of the 7 arm joints (Panda); gripper from joint_position[7] as a finger joint in m",
)
_AGILEX_JOINTS = (*PIPER, "gripper")
# Tien Kung Gello (and Prod1 Gello): "[left arm (7d), left hand closure (1d), right arm (7d), right hand closure (1d)]"
_GELLO = RobotLayout(
    "tienkung_gello",
    "tienkung",
    (
        Vector(
            "joint_position",
            (*_arm("left_", TIENKUNG_ARM), "left_hand_closure", *_arm("right_", TIENKUNG_ARM), "right_hand_closure"),
            "rad",
        ),
    ),
    {"camera_top": Camera.head},
    rgb_in_bgr_jpeg=True,
    why="both arms by FK on the maker's Tien Kung Pro humanoid.urdf (tienkung: L/R_hand_base_link from pelvis, as "
    "RoboMIND's joint2pose.py 'tiangong1pro'); hand closure native (its unit is not established)",
)

ROBOTS: dict[str, RobotLayout] = {
    "franka_1rgb": _FRANKA,
    "franka_3rgb": _FRANKA,
    "franka_fr3_dual": RobotLayout(
        "franka_fr3_dual",
        "fr3_dual",
        (
            Vector(
                "joint_position",
                (*_arm("left_", (*PANDA, "gripper")), *_arm("right_", (*PANDA, "gripper"))),
                "rad (gripper: m per finger, unverified)",
            ),
            Vector("end_effector", (*_arm("left_", EEF6), *_arm("right_", EEF6)), "m, rad"),
        ),
        {"camera_top": Camera.head, "camera_front": Camera.third_person, "camera_left": None, "camera_right": None},
        rgb_in_bgr_jpeg=False,
        why="both arms by FK (fr3_dual: fr3 per arm, bases 1 m apart as Franka's dual-arm example, an assumption); "
        "grippers as one finger's travel in m like franka",
    ),
    "ur_1rgb": RobotLayout(
        "ur5e",
        "ur5e",
        (
            Vector("joint_position", (*UR5E, "gripper"), "rad (gripper: native, unverified)"),
            Vector("end_effector", EEF6, "m, rad"),
        ),
        {"camera_top": Camera.head},
        rgb_in_bgr_jpeg=False,
        why="wrist by FK of the 6 joints (ur5e, tool0); the gripper column stays native (no gripper description)",
    ),
    "agilex_3rgb": RobotLayout(
        "agilex_cobot_magic",
        "piper_dual",
        (
            *_dual("joint_position", _AGILEX_JOINTS, "rad"),
            *_dual("end_effector", tuple(f"e{i}" for i in range(7)), ""),
            *_dual("joint_velocity", _AGILEX_JOINTS, "rad/s", suffix=".vel"),
            *_dual("joint_effort", _AGILEX_JOINTS, "native", suffix=".effort"),
        ),
        {"camera_front": Camera.head, "camera_left_wrist": Camera.wrist_left, "camera_right_wrist": Camera.wrist_right},
        rgb_in_bgr_jpeg=True,
        why="both arms by FK on the maker's aloha_new.urdf chains (piper_dual: fl/fr_link6 from body_Link, as "
        "RoboMIND's joint2pose.py); grippers native (their recorded unit is not established)",
    ),
    "tienkung_gello_1rgb": _GELLO,
    "tienkung_prod1_gello_1rgb": replace(_GELLO, robot_type="tienkung_prod1_gello"),
    "tienkung_xsens_1rgb": RobotLayout(
        "tienkung_xsens",
        "tienkung",
        (
            Vector("joint_position", (*_arm("left_", TIENKUNG_ARM), *_arm("right_", TIENKUNG_ARM)), "rad"),
            Vector("end_effector", (*_arm("left_", INSPIRE6), *_arm("right_", INSPIRE6)), "native (hand joints)"),
        ),
        {"camera_top": Camera.head},
        rgb_in_bgr_jpeg=True,
        why="both arms by FK on the maker's Tien Kung Pro humanoid.urdf (tienkung, as for Gello); the 12 Inspire hand "
        "values in end_effector native (their unit is not stated)",
    ),
}
# Isaac Sim releases: other groups (`franka/`, `tiangong/`), cameras sampled at a quarter of the state rate with
# `sim_time_seq` (all_robot_h5_info_v1.2.md): refused per episode by name, not read as if they were real.
SIMULATION = ("simulation", "sim_franka_3rgb", "sim_tienkung_1rgb")
