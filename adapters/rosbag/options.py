"""The `rosbag` adapter's options: which bags make episodes, which clock, which topic plays which part.

Every field is validated before any work (`AdapterOptions`: unknown keys refused), each error naming its field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from adapters.base import AdapterOptions
from schemas.canonical import Camera
from schemas.frozen import Frozen
from schemas.robots.joint_space import JointSpaceOptions
from schemas.tiers import QualityTier


class EpisodeCut(Frozen):
    """How a bag becomes episodes: the whole bag, one per span a marker topic opens, fixed windows, or the stretches
    between silences longer than `gap_s`."""

    by: Literal["bag", "topic", "window", "gap"] = "bag"
    topic: str | None = Field(
        None,
        description="by: topic: the marker topic. A Bool (or number) opens an episode when it turns true and closes "
        "it when it turns false; any other message type opens one at each message, closed by the next",
    )
    window_s: float | None = Field(None, gt=0, description="by: window: the length of each episode, seconds")
    gap_s: float | None = Field(None, gt=0, description="by: gap: a silence this long (no message) ends an episode")
    gap_topics: list[str] | None = Field(None, description="by: gap: the topics whose silence counts (default all)")
    min_s: float = Field(0.5, ge=0, description="a segment shorter than this is not an episode (named in a finding)")

    @model_validator(mode="after")
    def _needs(self) -> EpisodeCut:
        need = {"topic": "topic", "window": "window_s", "gap": "gap_s"}.get(self.by)
        if need and getattr(self, need) is None:
            raise ValueError(f"episodes.by {self.by!r} needs episodes.{need}")
        return self


class EefPose(Frozen):
    """The end effector as the bag's TF tree (or a PoseStamped topic) gives it."""

    frame: str | None = Field(None, description="TF child frame of the end effector (e.g. ee_gripper_link)")
    base: str | None = Field(None, description="TF frame the pose is expressed in (e.g. base_link)")
    topic: str | None = Field(None, description="a PoseStamped topic holding the end-effector pose instead of TF")
    side: Literal["left", "right"] = "right"

    @model_validator(mode="after")
    def _one(self) -> EefPose:
        if self.topic is None and (self.frame is None or self.base is None):
            raise ValueError("eef needs either topic, or both frame and base")
        return self


class Gripper(Frozen):
    """A gripper opening from one numeric field of a topic, linear between the closed and open values."""

    topic: str
    component: str = Field(description="the native component: a JointState joint name or a field path (data)")
    closed: float
    open: float

    @model_validator(mode="after")
    def _distinct(self) -> Gripper:
        if self.closed == self.open:
            raise ValueError(f"gripper closed and open are both {self.open}")
        return self


class ArrayJoints(Frozen):
    """Joints a robot records as an unnamed numeric array in a message of its own (Kuavo's `kuavo_msgs/sensorsData`
    `joint_data.joint_q`): the array's components named as the embodiment's native joints, read as JointState
    positions are. `names` is a list from index `start`, or {index: name}."""

    topic: str
    field: str = Field(description="the array's field path in the message, as the natives name it (joint_data.joint_q)")
    names: list[str] | dict[int, str] = Field(min_length=1, description="joint names from `start`, or {index: name}")
    start: int = Field(0, ge=0, description="with a names list: the index of its first name")
    width: int | None = Field(None, gt=0, description="the array's width when known: another width is refused")

    @model_validator(mode="after")
    def _indices(self) -> ArrayJoints:
        if isinstance(self.names, dict) and self.start:
            raise ValueError("start goes with a names list; {index: name} names say their own indices")
        if any(i < 0 for i in self.indexed()):
            raise ValueError(f"names: a negative index {min(self.indexed())}")
        if len(set(self.indexed().values())) < len(self.indexed()):
            raise ValueError(f"names: a joint named twice in {list(self.indexed().values())}")
        if self.width is not None and max(self.indexed()) >= self.width:
            raise ValueError(f"names: index {max(self.indexed())} is past the array's width {self.width}")
        return self

    def indexed(self) -> dict[int, str]:
        """array index -> joint name."""
        if isinstance(self.names, dict):
            return dict(self.names)
        return {self.start + k: n for k, n in enumerate(self.names)}


# `joints: <preset>`: a robot's own arrays named by its maker's code (array_joints.yaml, with the citations)
JOINT_PRESETS: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    Path(__file__).with_name("array_joints.yaml").read_text(encoding="utf-8")
)


class RosbagOptions(AdapterOptions):
    source: str = Field("rosbag", description="source name in episode uids and the catalog")
    episodes: EpisodeCut = Field(default_factory=EpisodeCut)
    stamps: Literal["auto", "header", "receive"] = Field(
        "auto",
        description="which time a message is at: its header stamp, its receive (log) time, or per topic by "
        "evidence (header stamps on the receive clock and non-decreasing; else receive time)",
    )
    action_topics: list[str] = Field(
        default_factory=lambda: ["*command*", "*cmd*", "*action*"],
        description="topics (fnmatch patterns) whose numeric fields are the recorded commands (actions)",
    )
    camera_map: dict[str, Camera] = Field(
        default_factory=dict, description="image topic -> canonical camera (head, wrist_left, wrist_right, ...)"
    )
    exclude_topics: list[str] = Field(
        default_factory=list, description="topics (fnmatch patterns) not read, each named in the episode's findings"
    )
    task_topic: str | None = Field(None, description="a std_msgs/String topic whose messages are the task text")
    task: str | None = Field(None, description="the task text of every episode (when no task topic says it)")
    eef: EefPose | None = Field(None, description="the end-effector pose to declare as the hand (TF or a topic)")
    gripper: Gripper | None = Field(None, description="the gripper opening to declare with the eef")
    embodiment: str | None = Field(
        None, description="a name in the embodiment registry (joint-space robots reach the hands by FK)"
    )
    robot_type: str | None = Field(None, description="the robot's name (default: the joint states' namespace)")
    joint_space: JointSpaceOptions | None = Field(None, description="joint conventions (units, joint_map, ...)")
    joints: list[ArrayJoints] = Field(
        default_factory=list,
        description="joints recorded as unnamed numeric arrays (topic, field, names): read as the embodiment's joints "
        f"(FK), as JointState names are; or presets' names among them: {', '.join(JOINT_PRESETS)}",
    )
    message_definitions: list[str] = Field(
        default_factory=list,
        description="folders holding ROS message definitions as <package>/msg/<Type>.msg (a checkout of PX4/px4_msgs, "
        "a workspace's src/): the robot's own types for bags that hold no definitions (sqlite3 bags before rosbag2 "
        "stored them); their topics are otherwise named as not decodable",
    )
    stamp_tolerance_s: float = Field(
        1.0, gt=0, description="header stamps further than this from the receive time are on another clock"
    )
    tier: QualityTier = Field(QualityTier.high, description="default tier of the episodes")
    max_depth: int = Field(6, ge=0, le=32, description="folders searched below the root for bags")

    @field_validator("joints", mode="before")
    @classmethod
    def _preset(cls, v: Any) -> Any:
        # a preset's name, or a list whose items are entries or presets' names (`[kuavo, kuavo_claw]`)
        items = [v] if isinstance(v, str) else v if isinstance(v, list) else None
        if items is None:
            return v
        for name in (i for i in items if isinstance(i, str) and i not in JOINT_PRESETS):
            raise ValueError(f"joints: no preset {name!r}; presets: {', '.join(JOINT_PRESETS)}")
        return [e for i in items for e in (JOINT_PRESETS[i] if isinstance(i, str) else [i])]

    @model_validator(mode="after")
    def _hand_needs_a_robot(self) -> RosbagOptions:
        # A declared hand fills canonical dims only for a registered robot (its hands, effector and EEF offset): with
        # no embodiment the episode is natives only, and an `eef` would be read and never used. A `gripper` rides on
        # the eef's hand.
        if self.gripper is not None and self.eef is None:
            raise ValueError("gripper needs eef: the opening is the declared end effector's")
        if self.eef is not None and self.embodiment is None:
            raise ValueError(
                "eef needs embodiment (a registered robot, e.g. franka): the canonical hand is filled for a known "
                "robot only; without one the pose stays in the natives (signals tf.* or the topic's fields)"
            )
        return self
