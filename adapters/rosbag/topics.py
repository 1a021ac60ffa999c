"""One pass over an episode's messages, each topic collected by its type (`TopicData.add`), then turned into streams.

- `sensor_msgs/JointState`: state `<topic>.position` (T, joints) named by `name` (re-ordered by name when a message
  lists them in another order; a joint a message lacks is NaN there); `velocity` and `effort`, when sent, signals;
- `sensor_msgs/Image`, `CompressedImage` (colour): a camera (`adapters.rosbag.camera`) on the topic's clock;
- `tf2_msgs/TFMessage` (ROS 1: `tf/tfMessage`): a signal `tf.<parent>.<child>` (T, 7: x, y, z, qx, qy, qz, qw) per
  moving edge; static edges (`/tf_static`) in the metadata; the tree serves the `eef` option;
- `std_msgs/String` on `task_topic`: the task text, each message over the span until the next;
- a topic matching `action_topics`: an action, every numeric field flattened (`adapters.rosbag.fields`);
- any other type: every numeric field flattened, one signal `<topic>` (PoseStamped, Odometry, CameraInfo,
  WrenchStamped, Float64MultiArray, a robot's own message types read from the bag's definitions); a message that
  names its joints (`joint_names`: a controller's state, a trajectory) has its arrays of that width named by joint.

JointState topics naming the same joints are all kept; `same_joints` says which one a reading by joint name follows
(`adapters.same_signal`). A topic that gives nothing (no numeric field, a depth image, no message in the episode,
excluded by the options) and a field that cannot be a column (its width changes) are returned as the reasons the
adapter names in the episode's findings: nothing is dropped without its name.

The end effector's pose from a bag's TF tree: the chain of transforms from a base frame to the effector's frame.

`tf2_msgs/TFMessage` on `/tf` (and `/tf_static`, latched, one message) carries `TransformStamped`s, each the pose of
`child_frame_id` in `header.frame_id` (REP 105 / tf2: translation in metres, rotation a quaternion x, y, z, w). An
edge is (parent, child); `chain` finds the path between two frames through the tree, walking an edge backwards where
the path goes child -> parent (the inverse transform). `compose` gives the pose of `frame` in `base` at the times of
the chain's moving edges, from the first time all of them have sent one: each moving edge holds its last transform at
or before each time (zero-order, as tf2's lookup between two samples would interpolate: holding never invents a pose
the tree did not send), a static edge is constant. The chain (frames in order, which edges move) is what the
episode's metadata records.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from fnmatch import fnmatch
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.base import Stream
from adapters.poses import se3
from adapters.rosbag import camera as cam
from adapters.rosbag.fields import flatten, header_of, stamp_ns
from adapters.same_signal import choices_said, shared
from schemas.robots.joint_space import name_key
from schemas.spelling import did_you_mean

Edge = tuple[str, str]


@dataclass
class TfTree:
    moving: dict[Edge, tuple[list[int], list[np.ndarray]]] = field(default_factory=dict)  # edge -> times ns, xyzq
    static: dict[Edge, np.ndarray] = field(default_factory=dict)

    def add(self, parent: str, child: str, t_ns: int, xyzq: np.ndarray, static: bool) -> None:
        edge = (parent.lstrip("/"), child.lstrip("/"))
        if static:
            self.static[edge] = xyzq
        else:
            times, vals = self.moving.setdefault(edge, ([], []))
            times.append(t_ns)
            vals.append(xyzq)

    def chain(self, base: str, frame: str) -> list[tuple[Edge, bool]] | None:
        """The edges from `base` to `frame` with their direction (True: parent -> child), or None if unconnected."""
        adj: dict[str, list[tuple[str, Edge, bool]]] = {}
        for a, b in (*self.moving, *self.static):
            adj.setdefault(a, []).append((b, (a, b), True))
            adj.setdefault(b, []).append((a, (a, b), False))
        paths: dict[str, list[tuple[Edge, bool]]] = {base: []}  # breadth first: the shortest path to each frame
        todo = deque([base])
        while todo:
            n = todo.popleft()
            for m, e, fwd in adj.get(n, []):
                if m not in paths:
                    paths[m] = [*paths[n], (e, fwd)]
                    todo.append(m)
        return paths.get(frame)

    def compose(self, chain: list[tuple[Edge, bool]]) -> tuple[np.ndarray, np.ndarray]:
        """(times ns, (T, 4, 4) base_from_frame) along `chain`, at the union of its moving edges' times from the first
        at which each of them has sent one."""
        moving = [np.asarray(self.moving[e][0], np.int64) for e, _ in chain if e in self.moving]
        times = np.zeros(1, np.int64)
        if moving:  # from the first time every moving edge has sent a transform: none is taken from the future
            times = np.unique(np.concatenate(moving))
            times = times[times >= max(t.min() for t in moving)]
        out = np.broadcast_to(np.eye(4), (len(times), 4, 4)).copy()
        for e, forward in chain:
            if e in self.moving:
                t, v = np.asarray(self.moving[e][0], np.int64), np.stack(self.moving[e][1])
                order = np.argsort(t, kind="stable")
                idx = np.searchsorted(t[order], times, side="right") - 1
                m = matrices(v[order][idx])
            else:
                m = np.broadcast_to(matrices(self.static[e][None])[0], (len(times), 4, 4))
            out = out @ (m if forward else np.linalg.inv(m))
        return times, out


def matrices(xyzq: np.ndarray) -> np.ndarray:
    """(N, 7) translation + quaternion xyzw -> (N, 4, 4)."""
    return se3(Rotation.from_quat(xyzq[:, 3:7]).as_matrix(), xyzq[:, :3])


JOINT_STATE = ("sensor_msgs/msg/JointState",)
# ROS 1's older `tf/tfMessage` is the same message (`geometry_msgs/TransformStamped[] transforms`, the definition a
# real PR2 bag of 2012 carries: the real sample rosbag_pr2)
TF = ("tf2_msgs/msg/TFMessage", "tf/msg/tfMessage")
STRING = ("std_msgs/msg/String",)
POSE_NAMES = ("x", "y", "z", "qx", "qy", "qz", "qw")


def normalize_type(msgtype: str) -> str:
    """rosbags names ROS 1 types as ROS 2 ones (`sensor_msgs/msg/JointState`); a plain `pkg/Type` gets `msg/`."""
    return msgtype if msgtype.count("/") == 2 else msgtype.replace("/", "/msg/", 1)


def topic_key(topic: str) -> str:
    """A topic as a stream name: `/wx200/joint_states` -> `wx200.joint_states`."""
    return topic.strip("/").replace("/", ".") or "root"


def camera_name(topic: str) -> str:
    """An image topic's camera name: `/camera/color/image_raw` -> `camera_color_image_raw`."""
    return topic_key(topic).replace(".", "_")


def wanted_camera(topic: str, cameras: list[str] | None) -> bool:
    """Whether the `cameras` option (None: every camera) names the image topic, by its camera name or its topic."""
    return cameras is None or bool({camera_name(topic), topic, topic.strip("/")} & set(cameras))


def undeclared_cameras(cameras: list[str], connections: list[Any]) -> list[str]:
    """Why each camera the option names that no image topic of the bag is (`wanted_camera`) is refused, with the
    closest camera the bag has (issue 86: a bag's topics are known only once it is opened, so this is said at
    discovery, where the spec check of other sources says it)."""
    topics = [c.topic for c in connections if normalize_type(c.msgtype) in (*cam.IMAGE, *cam.COMPRESSED)]
    have = [camera_name(t) for t in topics]
    return [
        f"camera {name!r} is no image topic of the bag; " + did_you_mean(name, have, listing="its cameras")
        for name in cameras
        if not any(wanted_camera(t, [name]) for t in topics)
    ]


def matches(topic: str, patterns: list[str]) -> bool:
    return any(fnmatch(topic, p) or fnmatch(topic.strip("/"), p.strip("/")) for p in patterns)


@dataclass
class TopicData:
    """What one topic sent within the episode."""

    topic: str
    msgtype: str
    log_ns: list[int] = field(default_factory=list)
    stamps: list[int] = field(default_factory=list)  # header stamps (empty: no header)
    frames: set[str] = field(default_factory=set)  # header frame_ids
    rows: list[dict[str, np.ndarray]] = field(default_factory=list)  # flattened numeric fields
    strings: dict[str, set[str]] = field(default_factory=dict)  # string fields -> values seen (at most a few)
    joints: list[dict[str, tuple[float, float, float]]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    encoding: str | None = None
    first_frame: np.ndarray | None = None
    sizes: set[tuple[int, int]] = field(default_factory=set)
    unnamed_joints: bool = False  # a JointState that names no joint: its joints are named by index
    joint_names: set[tuple[str, ...]] = field(default_factory=set)  # a controller state's `joint_names`, as sent

    @property
    def kind(self) -> str:
        kinds = (("image", (*cam.IMAGE, *cam.COMPRESSED)), ("joints", JOINT_STATE), ("tf", TF), ("string", STRING))
        return next((kind for kind, types in kinds if self.msgtype in types), "fields")

    def add(self, log_ns: int, msg: Any, tree: TfTree, static: bool) -> None:
        self.log_ns.append(log_ns)
        h = header_of(msg)
        if h is not None:
            self.stamps.append(stamp_ns(h.stamp))
            self.frames.add(h.frame_id)
        kind = self.kind
        if kind == "image":
            enc = "compressed: " + msg.format if self.msgtype in cam.COMPRESSED else msg.encoding
            self.encoding = self.encoding or enc
            if self.first_frame is None and cam.colour_problem(self.msgtype, enc) is None:
                self.first_frame = cam.decode(msg, self.msgtype)
            if self.msgtype in cam.IMAGE:
                self.sizes.add((int(msg.height), int(msg.width)))
        elif kind == "joints":
            # A driver may leave `name` empty (the Feetech driver of the real sample rosbag_ats publishes positions
            # only): its joints are then named by their index in the arrays, never dropped for want of a name.
            names = list(msg.name) or [str(i) for i in range(len(msg.position))]
            self.unnamed_joints |= not msg.name
            arrays = (np.asarray(getattr(msg, f), np.float64).ravel() for f in ("position", "velocity", "effort"))
            pos, vel, eff = (a if len(a) == len(names) else np.full(len(names), np.nan) for a in arrays)
            self.joints.append({nm: (pos[i], vel[i], eff[i]) for i, nm in enumerate(names)})
        elif kind == "tf":
            for tr in msg.transforms:
                t, r = tr.transform.translation, tr.transform.rotation
                xyzq = np.array([t.x, t.y, t.z, r.x, r.y, r.z, r.w])
                tree.add(tr.header.frame_id, tr.child_frame_id, log_ns, xyzq, static)
        elif kind == "string":
            self.texts.append(msg.data)
        else:
            nums, strs = flatten(msg)
            self.rows.append(nums)
            joints = getattr(msg, "joint_names", None)  # control_msgs' controller states, trajectory_msgs' trajectories
            if isinstance(joints, list | tuple) and len(self.joint_names) < 2:
                self.joint_names.add(tuple(str(j) for j in joints))
            for k, v in strs.items():
                seen = self.strings.setdefault(k, set())
                if len(seen) < 8:
                    seen.add(v)


def joint_arrays(rows: list[dict[str, tuple[float, float, float]]]) -> tuple[tuple[str, ...], np.ndarray]:
    """(joint names in first-seen order, (T, J, 3) position / velocity / effort; NaN where a message lacks one)."""
    order = tuple(dict.fromkeys(n for r in rows for n in r))
    nan = (np.nan, np.nan, np.nan)
    return order, np.array([[r.get(n, nan) for n in order] for r in rows], np.float64).reshape(len(rows), len(order), 3)


def same_joints(data: dict[str, TopicData], streams: dict[str, Stream]) -> list[str]:
    """Which JointState topic (of those that became `streams`, states or actions) a reading by joint name follows
    where several name the same joints (a real Franka bag, real sample rosbag_franka_larics: `/joint_states`
    throughout, two controllers' `/p2p/joint_states` and `/hocook/joint_states` each over part of it): the one
    covering the most of the episode, then the fastest (`adapters.same_signal`, the rule forward kinematics reads
    joints by, `ingest.canonical.joint_columns`); the others stay natives. A JointState naming no joint (its joints
    by index) shares no name."""
    named = {
        t: (s, s.names or ())
        for t, d in data.items()
        if d.kind == "joints" and not d.unnamed_joints and (s := streams.get(f"{topic_key(t)}.position")) is not None
    }
    names = [n for _, ns in named.values() for n in ns]
    verbs = ("followed by a reading by joint name (forward kinematics) from", "kept as natives only")
    return choices_said("topics carrying the same joints:", names, shared(named, name_key), name_key, verbs)


def is_static(topic: str) -> bool:
    """A latched transform topic (`/tf_static`): timeless, its messages held for every frame."""
    return topic.rstrip("/").endswith("tf_static")


def accounting(topic: str, v: dict[str, Any]) -> str:
    """One topic as the episode's lineage names it: type, messages read, what it became and which time it is on."""
    clock, lat = "no message in the episode", v.get("latency_median_s")
    if v.get("stamps") == "header":
        clock = "header stamps" + ("" if lat is None else f" (received {lat * 1e3:.3g} ms after, median)")
    elif v.get("stamps") == "receive":
        clock = f"receive times ({v['stamps_reason']})"
    role = v["role"] if v["role"] != "not used" else f"not used: {v['reason']}"
    return f"{topic} ({v['type']}, {v['messages']} of {v['messages_in_bag']} messages): {role}; {clock}"
