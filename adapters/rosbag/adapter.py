"""ROS bags as a source: ROS 2 (MCAP or sqlite3, a bag folder with `metadata.yaml` or a bare file) and ROS 1 `.bag`,
read with rosbags (`bags.py`). An episode is a bag, or a span of one cut by `options.episodes` (`segments.py`);
subset = the folder holding the bag (the root's name for a bag at the root); raw id = the bag's path under the root
(`#k` for its k-th span).

`read` passes once over the episode's messages (`topics.py`), chooses each topic's clock by evidence (`clock.py`) and
puts every stream on one clock (seconds from the episode's first message); canonicalization resamples to 10 Hz,
continuous values linearly, discrete ones and camera frames held. What a topic gives is accounted for in
`metadata["topics"]`; a topic that gives nothing is named in the episode's findings. Joint-space robots reach the
canonical hands by FK (`array_joints.py` for unnamed arrays); the `eef` option declares an end-effector pose from the
TF tree (`tf.py`) or a PoseStamped topic instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property, partial
from typing import Any, ClassVar

import numpy as np
from rosbags.interfaces.typing import Typesdict
from rosbags.typesys import TypesysError

from adapters.base import AdapterError, EpisodeRef, Language, RawEpisode, Stream
from adapters.camera_roles import camera_role
from adapters.rosbag import segments
from adapters.rosbag.array_joints import name_joints
from adapters.rosbag.assembled import Assembled, hand_signals
from adapters.rosbag.bags import KINDS, FoundBag, find_bags, log_times, message_types, open_bag
from adapters.rosbag.camera import BagCamera, colour_problem
from adapters.rosbag.clock import ClockChoice, choose, core_topics, rate, recording_clock
from adapters.rosbag.fields import by_joint, constant_columns, stack, without_nonfinite_columns
from adapters.rosbag.options import RosbagOptions
from adapters.rosbag.signatures import Told, tell
from adapters.rosbag.topics import (
    TopicData,
    accounting,
    camera_name,
    is_static,
    joint_arrays,
    matches,
    normalize_type,
    same_joints,
    topic_key,
    undeclared_cameras,
    wanted_camera,
)
from adapters.source_adapter import SourceAdapter
from adapters.storage.location import Location
from adapters.storage.root import Root
from schemas.canonical import Camera
from schemas.faults import environment_fault
from schemas.findings import SourceFinding
from schemas.robots.registry import JOINT_SPACE, UNKNOWN_EMBODIMENT


class RosbagAdapter(SourceAdapter[RosbagOptions]):
    name: ClassVar[str] = "rosbag"
    expects: ClassVar[str] = "ROS bags: folders with metadata.yaml (ROS 2), *.mcap, *.db3 or *.bag files"

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        _ = self.message_types  # a `message_definitions` folder that gives no type fails discovery, once
        return (ref for bag in find_bags(root, self.options.max_depth) for ref in self._refs(root, bag))

    @cached_property
    def message_types(self) -> Typesdict:
        """The robot's own types, from the `message_definitions` folders (read once)."""
        types: Typesdict = {}
        for folder in self.options.message_definitions:
            try:
                # a folder the spec names, not the source's: its own root (a checkout of px4_msgs lies elsewhere)
                types.update(message_types(Root(folder, self.storage).location(), self.options.max_depth))
            except (ValueError, TypesysError) as e:
                raise self.error(f"{type(e).__name__}: {e}", file=folder, field="message_definitions") from e
        return types

    def _refs(self, root: Location, bag: FoundBag) -> Iterator[EpisodeRef]:
        subset = self.options.subset or (bag.rel.rsplit("/", 1)[0] if "/" in bag.rel else root.name) or "bags"
        ref = partial(self.new_ref, paths=[str(bag.path)], subset=subset, source=self.options.source)
        base = {"kind": bag.kind, "root": str(root)}
        cut = self.options.episodes
        if self.options.cameras is not None:  # a typo's every episode flagged here, naming the closest camera
            with self._reading(str(bag.path), None) as (reader, _):
                if typos := undeclared_cameras(self.options.cameras, list(reader.connections)):
                    yield ref(bag.rel, locator=base, error=self.error("; ".join(typos), file=bag.path, field="cameras"))
                    return
        if cut.by == "bag":
            yield ref(bag.rel, locator={**base, "span": None})
            return
        try:
            spans, short = self._spans(bag.path)
        except AdapterError as e:
            yield ref(bag.rel, locator=base, error=e)
            return
        note = partial(self.note, root=root, subset=subset, path=bag.path, episodes=())
        if short:
            lens = ", ".join(f"{(b - a) / 1e9:.3g} s" for a, b in short)
            msg = f"{len(short)} span(s) shorter than episodes.min_s {cut.min_s} s left out ({lens})"
            note("segment_too_short", msg)
        if not spans:
            note("no_segments", f"episodes.by {cut.by!r} cut no episode from this bag")
        for k, span in enumerate(spans):
            yield ref(f"{bag.rel}#{k}", locator={**base, "span": list(span)})

    def _spans(self, path: Location) -> tuple[list[segments.Span], list[segments.Span]]:
        """The episode spans `options.episodes` cuts from one bag (reads only what the cut needs)."""
        cut = self.options.episodes
        with self._reading(str(path), None) as (reader, where):
            if cut.by == "window":  # the log times read, not the bag's stated range (`segments.windows`)
                spans = segments.windows(log_times(reader), cut.window_s or 0)
            elif cut.by == "gap":
                conns = [c for c in reader.connections if cut.gap_topics is None or matches(c.topic, cut.gap_topics)]
                spans = segments.gaps(np.fromiter((t for _, t, _ in reader.messages(conns)), np.int64), cut.gap_s or 0)
            else:
                conns = [c for c in reader.connections if c.topic == cut.topic]
                if not conns:
                    raise self.error(f"marker topic {cut.topic!r} is not in the bag", file=path, field="episodes.topic")
                times, values = [], []
                for i, (c, t, raw) in enumerate(reader.messages(conns)):
                    where[:] = [c.topic, i]
                    data = getattr(reader.deserialize(raw, c.msgtype), "data", None)
                    times.append(t)
                    values.append(float(data) if isinstance(data, bool | int | float | np.generic) else None)
                spans = segments.marked(times, values, reader.end_time)
        return segments.split_short(spans, cut.min_s)

    def read(self, ref: EpisodeRef) -> RawEpisode:
        bag, opts = ref.paths[0], self.options
        span = ref.locator.get("span")
        ep = Assembled()
        data, counts, skipped = ep.data, ep.counts, ep.skipped
        with self._reading(bag, ref.raw_id) as (reader, where):
            a, b = span or segments.whole(reader.start_time, reader.end_time)[0]
            conns = []
            for c in reader.connections:
                counts[c.topic] = counts.get(c.topic, 0) + c.msgcount
                data.setdefault(c.topic, TopicData(c.topic, normalize_type(c.msgtype)))
                if matches(c.topic, opts.exclude_topics):
                    skipped[c.topic] = "excluded by the exclude_topics option"
                elif c.msgcount and c.msgtype not in reader.typestore.fielddefs:
                    # a robot's own types in a bag without definitions (sqlite3 bags before rosbag2 stored them:
                    # px4_msgs in the real sample rosbag_ats): named, the bag's other topics read
                    skipped[c.topic] = (
                        f"{c.msgcount} message(s) that cannot be decoded: no definition of its type in the bag (ROS "
                        "2 Humble's standard types, bags.DEFAULT_TYPES, and the message_definitions option's stand in "
                        "only for a bag that holds none)"
                    )
                else:
                    conns.append(c)
            # static transforms hold for the whole bag (latched once at its start): read whatever the span
            static = [c for c in conns if is_static(c.topic)]
            moving = [c for c in conns if not is_static(c.topic)]
            for group, start, stop in ((static, None, None), (moving, a, b)):
                for conn, log_ns, raw in reader.messages(group, start=start, stop=stop) if group else ():
                    d = data[conn.topic]
                    where[:] = [conn.topic, len(d.log_ns)]
                    d.add(log_ns, reader.deserialize(raw, conn.msgtype), ep.tree, static=group is static)
        return self._episode(ref, bag, (a, b), ep)

    @contextmanager
    def _reading(self, bag: str, episode: str | None) -> Iterator[tuple[Any, list[Any]]]:
        """An open reader and `where` ([topic, message index] being read); any failure inside becomes the episode's
        AdapterError naming the file, the topic and the message index (an environment fault passes as it is)."""
        where: list[Any] = []
        failed: list[BaseException] = []
        opening = open_bag(self.file(bag), self.message_types)
        try:
            with opening as reader:
                try:
                    yield reader, where
                except BaseException as e:
                    failed.append(e)
                    raise
        except Exception as e:
            first = failed[0] if failed else e  # a reader that cannot close a broken file: the first cause is kept
            if not isinstance(first, Exception) or isinstance(first, AdapterError) or environment_fault(first):
                raise first from first.__cause__
            topic, index = [*where, None, None][:2]
            at = f"message {index} of topic {topic}: " if topic is not None else "opening the bag: "
            msg = f"{at}{type(first).__name__}: {first}"
            file = bag if topic is not None else self._one_file(bag)
            raise self.error(msg, file=file, episode=episode, field=topic or "bag") from first

    def _one_file(self, bag: str) -> str:
        """The file a bag that did not open is: a folder's one storage file (a cut `.mcap`: rosbags' error names
        none), else the bag as given (issue 85)."""
        folder = self.file(bag)
        if not folder.is_dir():
            return bag
        stored = [p for p in folder.iterdir() if p.suffix in KINDS]
        return str(stored[0]) if len(stored) == 1 else bag

    def _episode(self, ref: EpisodeRef, bag: str, span: tuple[int, int], ep: Assembled) -> RawEpisode:
        opts, data, counts, skipped = self.options, ep.data, ep.counts, ep.skipped
        clocks: dict[str, ClockChoice] = {}
        times: dict[str, np.ndarray] = {}
        for t, d in data.items():
            if d.log_ns:
                log, stamps = np.asarray(d.log_ns, np.int64), np.asarray(d.stamps, np.int64)
                clocks[t] = choose(log, stamps if d.stamps else None, opts.stamps, opts.stamp_tolerance_s)
                times[t] = stamps if clocks[t].choice == "header" else log
        timed = [v[0] for t, v in times.items() if not is_static(t)]
        if not timed:
            raise self.error("no message in this episode's span", file=bag, episode=ref.raw_id, field="messages")
        t0 = min(timed)
        rel = {t: (v - t0) / 1e9 for t, v in times.items()}
        for topic, d in sorted(data.items()):
            if not d.log_ns:
                why = "no message in this episode's span" if counts.get(topic) else "the bag holds no message of it"
                skipped.setdefault(topic, why)
                continue
            self._topic(d, rel[topic], ep, bag, span)
        name_joints(opts.joints, ep, partial(self.error, file=bag, episode=ref.raw_id))
        ep.said += [("same_signal", m) for g in (ep.states, ep.actions) for m in same_joints(data, g)]
        told = tell({t: d.msgtype for t, d in data.items() if d.log_ns}, opts.joints, opts.embodiment, ep)
        named = {j.topic for j in opts.joints} | (told.topics if told else set())  # joint states: `core_topics`
        hands = hand_signals(ep, opts.eef, opts.gripper, t0, partial(self.error, file=bag, episode=ref.raw_id))
        if opts.task_topic is None and opts.task:
            ep.language.append(Language(opts.task))
        accounted = {
            t: {
                "type": data[t].msgtype,
                "messages_in_bag": counts[t],
                "messages": len(data[t].log_ns),
                "role": ep.roles.get(t, "not used"),
                "reason": skipped.get(t),
                **(clocks[t].record() if t in clocks else {}),
            }
            for t in sorted(counts)
        }
        said = [
            ("topic_not_used", f"topic {t} ({accounted[t]['type']}, {accounted[t]['messages']} messages): {why}")
            for t, why in sorted(skipped.items())
        ]
        said += ep.said
        said.append(("bag_topics", " | ".join(accounting(t, v) for t, v in accounted.items())))
        findings = [
            SourceFinding(
                source=opts.source,
                adapter=self.name,
                root=ref.locator.get("root", ""),
                subset=ref.subset,
                code=code,
                severity="info",
                message=message,
                path=bag,
                episodes=(ref.raw_id,),
            )
            for code, message in said
        ]
        # the robot the bag's topics name by their common first namespace (`/wx200/joint_states` -> wx200), if one
        not_tf = [t.strip("/") for t in counts if not t.rstrip("/").endswith(("tf", "tf_static"))]
        spaces = {t.split("/", 1)[0] for t in not_tf if "/" in t}
        robot_type = opts.robot_type or (spaces.pop() if len(spaces) == 1 else None)
        embodiment, embodiment_from = _embodiment(opts.embodiment, robot_type, told)
        meta: dict[str, Any] = {
            "bag": bag,
            "bag_kind": ref.locator.get("kind"),
            "span_ns": list(span),
            "start_ns": int(t0),
            "topics": accounted,
            "fields_left_out": ep.left_out,
            "tf_chain": ep.chain,
            "tf_static": {f"{p}->{c}": v.tolist() for (p, c), v in sorted(ep.tree.static.items())},
            "embodiment_from": embodiment_from,
        }
        return RawEpisode(
            ref=ref,
            robot_type=robot_type,
            embodiment=embodiment,
            tier=opts.tier,
            native_fps=rate(rel, data, named),
            states=ep.states,
            actions=ep.actions,
            cameras=ep.cameras,
            signals=ep.signals,
            language=ep.language,
            metadata=meta,
            joint_space=opts.joint_space,
            hands=hands,
            findings=findings,
            clock=recording_clock(clocks, core_topics(data, opts.action_topics, named), t0),
        )

    def _topic(self, d: TopicData, t: np.ndarray, ep: Assembled, bag: str, span: tuple[int, int]) -> None:
        opts, key, kind = self.options, topic_key(d.topic), d.kind
        frame = next(iter(d.frames)) if len(d.frames) == 1 else None
        if kind == "image" and not wanted_camera(d.topic, opts.cameras):
            ep.skipped[d.topic] = "a camera the cameras option leaves out"
        elif kind == "image":
            problem = colour_problem(d.msgtype, d.encoding or "")
            if problem or d.first_frame is None:
                ep.skipped[d.topic] = problem or "no decodable frame"
                return
            if len(d.sizes) > 1:
                ep.skipped[d.topic] = f"frame size changes within the episode {sorted(d.sizes)}"
                return
            name = camera_name(d.topic)
            h, w = d.first_frame.shape[:2]
            canonical = self._camera_slot(d.topic, ep)
            ep.cameras[name] = BagCamera(self.file(bag), d.topic, d.msgtype, span, name, canonical, t, h, w)
            ep.roles[d.topic] = f"camera {name}" + (f" ({canonical.value})" if canonical else "")
        elif kind == "joints":
            names, arr = joint_arrays(d.joints)
            target = ep.actions if matches(d.topic, opts.action_topics) else ep.states
            target[f"{key}.position"] = Stream(t, arr[:, :, 0], names, frame=frame)
            parts = ["position"]
            for i, part in ((1, "velocity"), (2, "effort")):
                if not np.all(np.isnan(arr[:, :, i])):
                    ep.signals[f"{key}.{part}"] = Stream(t, arr[:, :, i], names)
                    parts.append(part)
            unnamed = "; no joint names in the messages: by index" if d.unnamed_joints else ""
            if d.unnamed_joints:
                ep.said.append(
                    ("joints_unnamed", f"topic {d.topic}: JointState with an empty name list, joints by index")
                )
            ep.constant(d.topic, [f"position.{n}" for n in constant_columns(arr[:, :, 0], names)])
            role = "action" if target is ep.actions else "state"
            ep.roles[d.topic] = f"joint states ({role}: {', '.join(parts)}){unnamed}"
        elif kind == "tf":
            static = is_static(d.topic)
            ep.roles[d.topic] = "tf static edges (metadata tf_static)" if static else "tf moving edges (signals tf.*)"
        elif kind == "string":
            if d.topic == opts.task_topic:
                ends = [*t[1:], None]
                ep.language += [
                    Language(s, "instruction", float(a), None if b is None else float(b))
                    for s, a, b in zip(d.texts, t, ends, strict=True)
                ]
                ep.roles[d.topic] = "task text"
            else:
                ep.skipped[d.topic] = "a string topic with no numeric field (task_topic names one that is task text)"
        else:
            values, names, left_out = stack(d.rows)
            if left_out:
                ep.left_out[d.topic] = left_out
            if values is None:
                ep.skipped[d.topic] = f"fields of changing width {left_out}" if left_out else "no numeric field"
                return
            values, names, nonfinite = without_nonfinite_columns(values, names)
            if not names:
                ep.skipped[d.topic] = f"no numeric field holds a float32 number in any message {nonfinite}"
                return
            names = self._joint_names(d, names, ep)
            ep.constant(d.topic, constant_columns(values, names))
            action = matches(d.topic, opts.action_topics)
            (ep.actions if action else ep.signals)[key] = Stream(t, values, names, frame=frame)
            varying = {k: sorted(v) for k, v in d.strings.items() if len(v) > 1}
            ep.roles[d.topic] = (
                ("action" if action else "signal")
                + f" ({len(names)} numeric fields)"
                + (f"; string fields vary {varying}" if varying else "")
                + (f"; fields of changing width left out {left_out}" if left_out else "")
                + (f"; no float32 number in any message, left out {nonfinite}" if nonfinite else "")
            )

    @staticmethod
    def _joint_names(d: TopicData, names: tuple[str, ...], ep: Assembled) -> tuple[str, ...]:
        """`names` with the arrays of a message that names its joints named by joint (`fields.by_joint`); an empty
        or changing `joint_names` is said, its columns kept by index."""
        if not d.joint_names:
            return names
        if len(d.joint_names) > 1:
            ep.said.append(
                ("joints_unnamed", f"topic {d.topic}: joint_names change between messages, columns by index")
            )
            return names
        [joints] = d.joint_names
        if not joints:
            ep.said.append(("joints_unnamed", f"topic {d.topic}: an empty joint_names list, columns by index"))
        return by_joint(names, joints)

    def _camera_slot(self, topic: str, ep: Assembled) -> Camera | None:
        """The canonical camera of an image topic: the option's, else the shared vocabulary's for the topic name
        (`adapters/camera_roles.yaml`), never twice."""
        taken = {c.canonical for c in ep.cameras.values()}
        exact = self.options.camera_map
        slot = exact.get(topic) or exact.get(topic.strip("/")) or camera_role(topic)
        return None if slot in taken else slot


def _embodiment(option: str | None, robot_type: str | None, told: Told | None) -> tuple[str, str]:
    """The embodiment and why: the option's, else the robot the bag's own message types name (`signatures.py`), else
    the robot type when it is the very name of a registered robot with a
    kinematic description (Interbotix's driver puts its topics under robot_name, whose default is robot_model:
    Interbotix/interbotix_ros_manipulators interbotix_xsarm_control/launch/xsarm_control.launch @ cc9cac6, so
    `/wx200/joint_states` is a WidowX 200's), else none: natives only. Canonicalization still needs the joints by
    name: a namespace that only looks like a model resolves no joint and stays natives only, with the reason."""
    if option:
        return option, "option embodiment"
    if told is not None and told.embodiment:
        return told.embodiment, told.why
    if robot_type and robot_type in JOINT_SPACE:
        return robot_type, f"topic namespace {robot_type!r} (a registered joint-space robot)"
    return UNKNOWN_EMBODIMENT, "none given: natives only"
