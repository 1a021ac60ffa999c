"""Which of several streams that carry the same signal (the same joints on three JointState topics, one motor in two
columns) is read: the one covering the most of the episode, then the fastest, and the sentence that says so.

Issue 97 item 2: a real Franka bag (real sample rosbag_franka_larics) records the arm on `/joint_states` for its whole
59.5 s and on two controllers' `/p2p/joint_states` (6.5..36.6 s) and `/hocook/joint_states` (36.7..58.7 s), all naming
panda_joint1..7. The first stream in name order won (`hocook`), so forward kinematics followed 22 s of the recording
and the episode was cut to it, silently. A choice among such streams is made here, by evidence, for every reader of
joints (`ingest.canonical.joint_columns.Resolver`, whatever adapter wrote the streams) and said where the adapter can
name its own sources (the rosbag adapter's topics).

`rank` orders the candidates, each described by its `Coverage`:
- coverage: the seconds of the episode its finite samples cover, a step longer than `GAP_S` counting as not covered
  (canonicalization cuts a stream there: `schemas.canonicalize.CanonicalizeSpec.max_gap_s`'s default). Streams whose
  coverage differs by less than one canonical frame (`1 / CANONICAL_FPS`) cover the episode alike: on the 10 Hz grid
  neither holds a frame the other lacks;
- then the rate (the median step's), then the name (a stable order, never a reason).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from adapters.base import Stream
from schemas.canonical import CANONICAL_FPS
from schemas.canonicalize import CanonicalizeSpec

GAP_S: float = CanonicalizeSpec.model_fields["max_gap_s"].default
ALIKE_S = 1.0 / CANONICAL_FPS  # coverages closer than one canonical frame tie, and the rate decides


@dataclass(frozen=True)
class Coverage:
    """What one candidate stream covers of the episode."""

    name: str
    start_s: float  # its first and last finite sample (NaN: none)
    end_s: float
    covered_s: float  # seconds between samples no further apart than GAP_S
    rate_hz: float  # 1 / its median step (0: fewer than two samples)

    def said(self) -> str:
        if not np.isfinite(self.start_s):
            return f"{self.name} (no finite sample)"
        rate = f", {self.rate_hz:.3g} Hz" if self.rate_hz else ""
        return f"{self.name} ({self.start_s:.2f}..{self.end_s:.2f} s: {self.covered_s:.1f} s covered{rate})"


def finite_times(s: Stream) -> np.ndarray:
    """The stream's timestamps where any of its values is finite (a message lacking the signal is NaN there)."""
    v = np.asarray(s.values)
    if v.dtype.kind != "f" or not len(v):
        return np.asarray(s.timestamps, np.float64)
    return np.asarray(s.timestamps, np.float64)[np.isfinite(v.reshape(len(v), -1)).any(axis=1)]


def coverage(name: str, times: np.ndarray, span: tuple[float, float] | None = None) -> Coverage:
    """`name`'s coverage of `span` (seconds; None: its own extent) by samples at `times`."""
    t = np.sort(np.asarray(times, np.float64))
    if span is not None:
        t = t[(t >= span[0]) & (t <= span[1])]
    if not len(t):
        return Coverage(name, float("nan"), float("nan"), 0.0, 0.0)
    steps = np.diff(t)
    covered = float(steps[steps <= GAP_S].sum())
    rate = float(1.0 / np.median(steps)) if len(steps) and np.median(steps) > 0 else 0.0
    return Coverage(name, float(t[0]), float(t[-1]), covered, rate)


def rank(candidates: Mapping[str, np.ndarray], span: tuple[float, float] | None = None) -> list[Coverage]:
    """The candidates (name -> sample times) best first: the most coverage of `span` (alike within ALIKE_S), then
    the highest rate, then the name; the others after it by coverage."""
    covs = sorted((coverage(n, t, span) for n, t in candidates.items()), key=lambda c: (-c.covered_s, c.name))
    if not covs:
        return []
    alike = [c for c in covs if c.covered_s >= covs[0].covered_s - ALIKE_S]
    best = min(alike, key=lambda c: (-c.rate_hz, c.name))
    return [best, *(c for c in covs if c is not best)]


def rank_streams(streams: Mapping[str, Stream]) -> list[Coverage]:
    """`rank` of streams by their finite samples, over the span they cover together."""
    times = {k: finite_times(s) for k, s in streams.items()}
    full = [t for t in times.values() if len(t)]
    span = (min(float(t.min()) for t in full), max(float(t.max()) for t in full)) if full else None
    return rank(times, span)


def shared(
    named: Mapping[str, tuple[Stream, Sequence[str]]], key: Callable[[str], str] = str
) -> dict[str, list[Coverage]]:
    """Each component name (compared by `key`) that several streams carrying the same signal hold -> those streams,
    best first (`rank_streams`). `named`: stream -> (stream, its component names). Two streams carry the same signal
    when one's names are all among the other's (a controller's JointState of an arm's seven joints beside the robot's
    of nine: the real Franka bag); a stream sharing only some names with another (a driver's q0..q2 beside a
    controller's q1..q3: the real sample rosbag_ats) does not, so an arm is never read from two recorders at once by
    this choice. Each set of such streams is ranked once: every name it shares follows the best stream holding it."""
    sets = {s: frozenset(key(n) for n in names) for s, (_, names) in named.items()}
    group = {s: s for s in sets}  # union-find over "one's names contain the other's"

    def root(s: str) -> str:
        while group[s] != s:
            s = group[s]
        return s

    order = list(sets)
    for i, a in enumerate(order):
        for b in order[i + 1 :]:
            if sets[a] and sets[b] and (sets[a] <= sets[b] or sets[b] <= sets[a]):
                group[root(b)] = root(a)
    out: dict[str, list[Coverage]] = {}
    for r in dict.fromkeys(root(s) for s in order):
        members = [s for s in order if root(s) == r]
        if len(members) < 2:
            continue
        ranked = rank_streams({s: named[s][0] for s in members})
        for k in dict.fromkeys(k for s in members for k in sets[s]):
            holders = [c for c in ranked if k in sets[c.name]]
            if len(holders) > 1:
                out.setdefault(k, holders)
    return out


def choices_said(
    what: str,
    names: Sequence[str],
    ranked: Mapping[str, Sequence[Coverage]],
    key: Callable[[str], str] = str,
    verbs: tuple[str, str] = ("read from", "not read"),
) -> list[str]:
    """One sentence per set of streams `names` were chosen among (`ranked`, by `key`): the stream read (`verbs[0]`)
    and the others that carry them (`verbs[1]`), with their coverage; names no other stream carries are not said."""
    groups: dict[tuple[Coverage, ...], list[str]] = {}
    for n in dict.fromkeys(names):
        r = ranked.get(key(n))
        if r is not None:
            groups.setdefault(tuple(r), []).append(n)
    out = []
    for (best, *others), said in groups.items():
        listed = ", ".join(said) if len(said) <= 4 else f"{said[0]} .. {said[-1]} ({len(said)} of them)"
        rest = ", ".join(c.said() for c in others)
        out.append(
            f"{what} {listed} {verbs[0]} {best.said()}; {verbs[1]}: {rest} (the stream covering the most of the "
            "episode, then the fastest: adapters.same_signal)"
        )
    return out
