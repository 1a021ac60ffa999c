"""RoboMIND's per-robot HDF5 layouts, as data (`layouts.yaml`): which datasets hold what, their column names, cameras
and embodiment.

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

from dataclasses import dataclass
from pathlib import Path

from pydantic import RootModel

from adapters.camera_roles import camera_roles
from schemas.canonical import Camera
from schemas.data_file import read_yaml


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
    rgb_in_bgr_jpeg: bool  # RGB pixels in JPEG bytes that say BGR (layouts.yaml says which releases and why)
    why: str = ""  # how the hands are reached (or why not), recorded in metadata and the tier reasons

    def camera_roles(self, names: list[str]) -> dict[str, Camera | None]:
        """A file's cameras placed: this layout's exact `cameras`, else the shared vocabulary
        (adapters/camera_roles.yaml), each role once."""
        return camera_roles(names, self.cameras)


class _Layouts(RootModel[dict[str, RobotLayout]]):
    """`layouts.yaml` beside this module: release folder (without h5_) -> its layout."""


ROBOTS: dict[str, RobotLayout] = read_yaml(Path(__file__).with_name("layouts.yaml"), _Layouts).root
# Isaac Sim releases: other groups (`franka/`, `tiangong/`), cameras sampled at a quarter of the state rate with
# `sim_time_seq` (all_robot_h5_info_v1.2.md): refused per episode by name, not read as if they were real.
SIMULATION = ("simulation", "sim_franka_3rgb", "sim_tienkung_1rgb")
