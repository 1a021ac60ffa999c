"""AgiBot World raw episodes: `adapter` (discovery, cameras, language), `proprio` (`proprio_stats.h5`), `hands`
(the hand declaration and the gripper convention); Genie Sim / A2D exports: `genie` (one episode), `genie_files`
(discovery, JSON, inclusive `action_config`), `genie_h5` (`aligned_joints.h5`), `genie_quat` (quaternion order)."""

from adapters.agibot.adapter import AgibotAdapter, AgibotOptions
from adapters.agibot.hands import GRIPPER_CLOSED_MM, GRIPPER_OPEN_MM, gripper_opening, hand_signals

__all__ = ["GRIPPER_CLOSED_MM", "GRIPPER_OPEN_MM", "AgibotAdapter", "AgibotOptions", "gripper_opening", "hand_signals"]
