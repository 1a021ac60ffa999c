"""One bag episode as the ROS bag adapter assembles it from its messages (`adapters.rosbag.adapter`): per topic its
data, the TF tree, the streams each topic became, the cameras, the language, and every topic not used with why."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.base import Language, Stream
from adapters.rosbag.camera import BagCamera
from adapters.rosbag.tf import TfTree
from adapters.rosbag.topics import TopicData


@dataclass
class Assembled:
    """An episode's messages (per topic, the TF tree, counts in the bag, topics not used and why), as assembled."""

    data: dict[str, TopicData] = field(default_factory=dict)
    tree: TfTree = field(default_factory=TfTree)
    counts: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    states: dict[str, Stream] = field(default_factory=dict)
    actions: dict[str, Stream] = field(default_factory=dict)
    signals: dict[str, Stream] = field(default_factory=dict)
    cameras: dict[str, BagCamera] = field(default_factory=dict)
    language: list[Language] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)
    left_out: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    chain: list[str] = field(default_factory=list)
    said: list[tuple[str, str]] = field(default_factory=list)  # (finding code, message) noted while turning topics

    def constant(self, topic: str, columns: list[str]) -> None:
        """Say the columns of `topic` that hold one value throughout the episode (`fields.constant_columns`)."""
        if columns:
            shown = ", ".join(columns[:12]) + (f", ... ({len(columns) - 12} more)" if len(columns) > 12 else "")
            self.said.append(
                (
                    "constant_channel",
                    f"topic {topic}: {len(columns)} column(s) hold one value in every message: {shown}",
                )
            )
