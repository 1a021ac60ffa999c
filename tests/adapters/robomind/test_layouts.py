"""RoboMIND robot layouts (`adapters/robomind/layouts.py`): each robot's columns named as the maker's code names them,
velocities never taken for positions."""

from __future__ import annotations

from pathlib import Path

from adapters.robomind.adapter import RoboMINDAdapter
from adapters.synthetic.robomind import WrittenEpisode
from tests.adapters.robomind.conftest import robot_ref


def test_column_names_per_robot(release: tuple[Path, dict[str, WrittenEpisode]]) -> None:
    root = release[0]
    franka = RoboMINDAdapter().read(robot_ref(root, "franka_3rgb")).states
    assert franka["puppet.joint_position"].names == (*(f"joint{i}" for i in range(1, 8)), "gripper")
    assert franka["puppet.end_effector"].names == ("x", "y", "z", "roll", "pitch", "yaw")
    agilex = RoboMINDAdapter().read(robot_ref(root, "agilex_3rgb")).states
    assert agilex["puppet.joint_position_right"].names[0] == "right_joint1"
    assert agilex["puppet.joint_velocity_left"].names[-1] == "left_gripper.vel"  # never taken for a position
    ur = RoboMINDAdapter().read(robot_ref(root, "ur_1rgb")).states["puppet.joint_position"]
    assert ur.names[:2] == ("shoulder_pan_joint", "shoulder_lift_joint") and ur.values.shape[1] == 7
