"""One bag episode as the ROS bag adapter assembles it from its messages (`adapters.rosbag.adapter`): per topic its
data, the TF tree, the streams each topic became, the cameras, the language, and every topic not used with why.

The hand a ROS bag episode declares (`adapters.rosbag.adapter`): its end-effector pose from a PoseStamped topic or
a TF chain (the `eef` option), its gripper opening from a topic's field (the `gripper` option), and the moving TF
edges kept as signals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.base import AdapterError, HandSignals, HandTrack, Language, Stream
from adapters.rosbag.camera import BagCamera
from adapters.rosbag.options import EefPose, Gripper
from adapters.rosbag.topics import POSE_NAMES, TfTree, TopicData, topic_key


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


def hand_signals(
    ep: Assembled, eef: EefPose | None, gripper: Gripper | None, t0: int, fail: Callable[..., AdapterError]
) -> HandSignals:
    """The moving TF edges of `ep` as signals (`ep.signals`, `tf.<parent>.<child>`), and the end effector the `eef`
    option names (a PoseStamped topic, or a TF chain from its base to its frame) as a declared hand with `gripper`'s
    opening; `fail(message, field=...)` is the error of an option the episode cannot satisfy. `t0`: the episode's
    first message, ns."""
    tf_topics = [t for t, d in ep.data.items() if d.kind == "tf" and d.log_ns]
    for (p, c), (times, vals) in sorted(ep.tree.moving.items()):
        order = np.argsort(np.asarray(times, np.int64), kind="stable")
        ts = (np.asarray(times, np.int64)[order] - t0) / 1e9
        ep.signals[f"tf.{p}.{c}".replace("/", ".")] = Stream(ts, np.stack(vals)[order], POSE_NAMES, frame=p)
    if not ep.tree.moving and not ep.tree.static:
        ep.skipped.update(dict.fromkeys(tf_topics, "no transform"))
    if eef is None:
        return HandSignals()
    side = 0 if eef.side == "left" else 1
    if eef.topic is not None:
        key = topic_key(eef.topic)
        s = ep.states.pop(key, None) or ep.signals.pop(key, None)
        if s is None or s.names is None or not {"pose.position.x", "pose.orientation.w"} <= set(s.names):
            raise fail(f"eef.topic {eef.topic!r} holds no PoseStamped in this episode", field="eef.topic")
        axes = (("position", "xyz"), ("orientation", "xyzw"))
        xyzq = s.values[:, [s.names.index(f"pose.{a}.{c}") for a, cs in axes for c in cs]].astype(np.float64)
        ep.states[key] = s
        ep.chain = [s.frame or "?", eef.topic]
        ts, xyz, quat, frame = s.timestamps, xyzq[:, :3], xyzq[:, 3:], s.frame
    else:
        chain = ep.tree.chain(eef.base or "", eef.frame or "")
        if chain is None:
            frames = sorted({f for e in (*ep.tree.moving, *ep.tree.static) for f in e})
            raise fail(f"no TF chain from {eef.base!r} to {eef.frame!r}; frames: {frames}", field="eef")
        times, m = ep.tree.compose(chain)
        ep.chain = [eef.base or ""] + [(e[1] if fwd else e[0]) for e, fwd in chain]
        ep.roles["eef"] = "eef pose: " + " -> ".join(ep.chain)
        ts, xyz, frame = (times - t0) / 1e9, m[:, :3, 3], eef.base
        quat = Rotation.from_matrix(m[:, :3, :3]).as_quat()
    track = HandTrack(Stream(ts, xyz, unit="m", frame=frame), Stream(ts, quat, unit="quat_xyzw", frame=frame))
    if gripper is not None:
        track.gripper = _gripper(gripper, ep, fail)
    return HandSignals(hands={side: track}, frame="robot_base")


def _gripper(g: Gripper, ep: Assembled, fail: Callable[..., AdapterError]) -> Stream:
    key = topic_key(g.topic)
    for streams in (ep.states, ep.actions, ep.signals):
        for k, s in streams.items():
            if (k == key or k.startswith(key + ".")) and s.names and g.component in s.names:
                v = s.values[:, s.names.index(g.component)].astype(np.float64)
                return Stream(s.timestamps, np.clip((v - g.closed) / (g.open - g.closed), 0.0, 1.0), unit="0..1")
    raise fail(f"gripper: no component {g.component!r} on topic {g.topic!r}", field="gripper.component")
