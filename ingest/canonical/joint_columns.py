"""Which column of an episode's streams holds each joint of a joint-space embodiment: by the joint's names (with
its arm's side prefixes), a GR00T modality slice, the dataset's `joint_map`, its motor id; a numbering counted from
0 where the description's counts from 1 read shifted or refused (`joint_numbering`). Used by
`ingest.canonical.joint_space` for states and actions alike. A name several streams carry (a robot's state on three
JointState topics) is read from the one covering the most of the episode, then the fastest (`adapters.same_signal`),
among the streams of its kind (a state-named stream before the others: velocity and effort vectors share the motor
names); the choice goes to the notes, naming the others."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from adapters.base import Stream
from adapters.same_signal import Coverage, choices_said, shared
from ingest.canonical.joint_numbering import renumbered
from schemas.actions import NotCanonical
from schemas.robots.joint_space import ArmMap, JointMap, JointSpaceOptions, JointUnitsRecord, column_names, name_key

STATE_STREAMS = ("observation.state", "state.")  # searched first: velocity / effort vectors share the motor names
ACTION_STREAMS = ("action", "action.")
MOTOR_ID_STYLES = ("j", "joint", "motor")  # how datasets name a column by its motor's id: j3, joint_3, motor_3


NativeLimits = Mapping[str, tuple[float, float]]  # native state column -> (lower, upper) in its decided unit


class JointSpaceError(ValueError):
    """The joints an embodiment needs are not all in the episode (or not convertible): the message names them. When
    the unit was measured before it failed, `joint_units` and `native_limits` say what was found; `cause` is why the
    episode then has no canonical action (`schemas.actions.NotCanonical`): joints not read, unless the unit failed."""

    def __init__(
        self,
        message: str,
        joint_units: JointUnitsRecord | None = None,
        native_limits: NativeLimits | None = None,
        cause: NotCanonical = NotCanonical.joints_unread,
    ) -> None:
        super().__init__(message)
        self.joint_units, self.native_limits, self.cause = joint_units, dict(native_limits or {}), cause


@dataclass(frozen=True)
class Column:
    stream: str
    index: int
    name: str  # the native component name (or `<stream>.<index>`)


def _names(key: str, s: Stream) -> list[str]:
    """The stream's component names (`schemas.robots.joint_space.column_names`)."""
    return column_names(key, s.names, None if s.values.ndim == 1 else s.values.shape[1])


def _matrix(s: Stream) -> np.ndarray:
    """(T, width) values: a scalar column as one column."""
    return s.values[:, None] if s.values.ndim == 1 else s.values


def _later(key: str, first: tuple[str, ...]) -> bool:
    """Whether stream `key` is not named like `first` (searched after those that are)."""
    return not any(key == p or (p.endswith(".") and key.startswith(p)) for p in first)


def _columns(streams: Mapping[str, Stream], first: tuple[str, ...]) -> list[tuple[str, Stream, list[str]]]:
    """(key, stream, component names) of the numeric vector and scalar streams (a bool one reads as 0/1: a binary
    gripper such as toto's `open_gripper`), the ones named like `first` ahead of the others."""
    usable = lambda s: s.values.ndim in (1, 2) and s.values.dtype.kind in "fiub" and len(s)  # noqa: E731
    keys = [k for k in sorted(streams, key=lambda k: (_later(k, first), k)) if usable(streams[k])]
    return [(k, streams[k], _names(k, streams[k])) for k in keys]


class Resolver:
    """Finds each needed joint's column in one group of streams (states or actions)."""

    def __init__(self, streams: Mapping[str, Stream], first: tuple[str, ...], group: str, opts: JointSpaceOptions):
        self.streams, self.group, self.opts = streams, group, opts
        self.table = _columns(streams, first)
        self.by_key: dict[str, Column] = {}
        self.by_urdf: dict[str, Column] = {}
        self.notes: dict[str, None] = {}  # joint numbering read shifted (joint_numbering), to the notes
        # a name several streams of one kind carry -> those streams, best first; a state-named stream that carries
        # it is read before the others whatever they cover (velocity and effort vectors share the motor names)
        kinds = [{k: (s, names) for k, s, names in self.table if _later(k, first) is later} for later in (False, True)]
        firsts = {name_key(n) for _, names in kinds[0].values() for n in names}
        self.ranked: dict[str, list[Coverage]] = shared(kinds[0], name_key)
        self.ranked |= {k: r for k, r in shared(kinds[1], name_key).items() if k not in firsts}
        self.held: dict[tuple[str, str], Column] = {}  # (stream, name key) -> the stream's first column of it
        for key, _, names in self.table:
            for i, n in enumerate(names):
                self.held.setdefault((key, name_key(n)), Column(key, i, n))
                self.by_key.setdefault(name_key(n), self.held[key, name_key(n)])
        self.by_key |= {k: self.held[r[0].name, k] for k, r in self.ranked.items()}
        explicit = dict(opts.joint_map)
        for key, _, names in self.table:
            for i, n in enumerate(names):
                col = Column(key, i, n)
                chosen = name_key(n) not in self.ranked or self.by_key[name_key(n)] == col
                # a one-value stream answers to its key as well (`action.gripper`, recorded (T, 1))
                for given in {n, key} if len(names) == 1 else {n}:
                    if given in explicit and (given == key or chosen):
                        self.by_urdf.setdefault(explicit[given], col)

    def modality(self, slice_key: str | None, width: int) -> list[Column] | None:
        """The columns of a GR00T modality slice (`state.left_arm` / `action.left_arm`) of exactly `width` values."""
        if slice_key is None:
            return None
        key = f"{self.group}.{slice_key}"
        s = self.streams.get(key)
        if s is None or _matrix(s).shape[1] != width:
            return None
        return [Column(key, i, name) for i, name in enumerate(_names(key, s))]

    def find(
        self, joints, prefixes: tuple[str, ...], slice_key: str | None, motors: frozenset[int] = frozenset(), groups=()
    ) -> tuple[list[Column | None], list[str]]:
        """Columns of `joints` in order (None where missing) and the missing URDF names. Numbered names counted from
        0 where the description's count from 1 (or the reverse) are read shifted or refused (`renumbered`, over
        `groups`: the arm with its gripper, the arm). A `joint_map` entry whose key is no column is a name of the
        joint without its arm prefix (`j1` -> shoulder_pan reads `arm1_j1`). Last, a joint with a motor id is found
        by it (`by_motor`, `motors` the arm's motor table)."""
        cols: list[Column | None] = [self.by_urdf.get(j.urdf) for j in joints]
        sliced = self.modality(slice_key, len(joints))
        mapped = set(self.opts.joint_map.values())
        unmapped = [[j for j in g if j.urdf not in mapped] for g in (groups or (joints,))]
        shift = None if sliced else renumbered([(k, names) for k, _, names in self.table], unmapped, prefixes)
        if shift is not None:
            self.notes[shift.note] = None
        for i, j in enumerate(joints):
            if cols[i] is None and sliced is not None:
                cols[i] = sliced[i]
            if cols[i] is None and shift is not None and j.urdf in shift.columns:
                cols[i] = Column(*shift.columns[j.urdf])
            if cols[i] is None:
                aliases = tuple(n for n, u in self.opts.joint_map.items() if u == j.urdf)
                keys = j.model_copy(update={"native": (*j.native, *aliases)}).keys(prefixes)
                cols[i] = next((self.by_key[k] for k in sorted(keys) if k in self.by_key), None)
            if cols[i] is None and j.motor_id is not None:
                cols[i] = self.by_motor(j.motor_id, prefixes, motors)
        cols = self._one_stream(cols)
        chosen = [c.name for c in cols if c is not None and self.by_key.get(name_key(c.name)) == c]
        for said in choices_said(f"joint space: {self.group} joints", chosen, self.ranked, name_key):
            self.notes[said] = None
        return cols, [j.urdf for j, c in zip(joints, cols, strict=True) if c is None]

    def _one_stream(self, cols: list[Column | None]) -> list[Column | None]:
        """`cols` from one stream where the choice among streams carrying the same joints (`ranked`) spread them over
        several and one stream holds them all: the best-ranked such stream, said (one arm read from two recorders
        would mix their clocks, and `values` refuses that)."""
        found = [c for c in cols if c is not None]
        keys = [name_key(c.name) for c in found]
        if len({c.stream for c in found}) < 2 or not any(k in self.ranked for k in keys):
            return cols
        ranked = dict.fromkeys(c.name for k in keys for c in self.ranked.get(k, ()))
        whole = next((s for s in ranked if all((s, k) in self.held for k in keys)), None)
        if whole is None:
            return cols
        spread = sorted({c.stream for c in found})
        self.notes[
            f"joint space: {self.group} joints {[c.name for c in found]} read together from {whole}, the stream "
            f"covering the most of the episode that holds them all (each joint's best stream alone: {spread})"
        ] = None
        return [None if c is None else self.held[whole, name_key(c.name)] for c in cols]

    def by_motor(self, motor: int, prefixes: tuple[str, ...], motors: frozenset[int]) -> Column | None:
        """The column named by the motor's id in the maker's table (`j3`, `joint_3`, `motor_3`, `<arm>_j3` with an
        arm prefix), when the columns so named (the same spelling and prefix) use only the table's ids: GR00T's
        `motor_0` .. `motor_43` count columns from 0, not motors, and never resolve so."""
        for p in prefixes:
            for style in MOTOR_ID_STYLES:
                head = name_key(f"{p}_{style}_0" if p else f"{style}_0")[:-1]  # as the key of `<p>_<style>_<n>`
                used = {int(m[1]) for k in self.by_key if (m := re.fullmatch(re.escape(head) + r"(\d+)", k))}
                if motor in used and used <= motors:
                    return self.by_key[f"{head}{motor}"]
        return None

    def values(self, cols: list[Column]) -> tuple[np.ndarray, np.ndarray]:
        """(timestamps, (T, len(cols)) float64) of columns that must share one clock."""
        clocks = {c.stream for c in cols}
        ts = self.streams[cols[0].stream].timestamps
        for key in clocks:
            other = self.streams[key].timestamps
            if len(other) != len(ts) or not np.array_equal(other, ts):
                raise JointSpaceError(f"{self.group} joints come from streams on different clocks: {sorted(clocks)}")
        return ts, np.stack([_matrix(self.streams[c.stream])[:, c.index].astype(np.float64) for c in cols], axis=1)

    def width(self, key: str) -> int | None:
        """How many values a frame of stream `key` holds (None: no such numeric stream here)."""
        return next((len(names) for k, _, names in self.table if k == key), None)


def arm_prefixes(arm: ArmMap, opts: JointSpaceOptions) -> tuple[str, ...]:
    """The arm's own side prefixes plus the dataset's numbered ones for its side (`sides`: arm1 -> left)."""
    return (*arm.prefixes, *(p for p, side in opts.sides.items() if side == arm.side))


def numbering_groups(arm: ArmMap) -> tuple[tuple[JointMap, ...], ...]:
    """The joints whose numbering is checked together: the arm with its gripper, then the arm alone."""
    return ((*arm.joints, arm.gripper.joint), arm.joints) if arm.gripper else (arm.joints,)


def calibration_name(col: str, urdf: str, side: str, two_arms: bool, opts: JointSpaceOptions) -> str:
    """The name a column's motor calibration is keyed by: the column's own (`shoulder_pan.pos`, `motor_0`), else the
    arm's side and joint (`right_shoulder_pan`, lerobot's per-arm files given as {right: {...}}); else the column."""
    keys = {name_key(k) for k in opts.calibration or {}}
    options = (col, f"{side}_{urdf}" if two_arms else urdf, urdf if not two_arms else col)
    return next((n for n in options if name_key(n) in keys), col)
