"""Native vectors: the source's own numeric state, signal and action streams, kept beside the canonical ones.

Each is resampled onto the 10 Hz grid and flattened into `*.native` columns named `<stream>.<component>`; what is too
wide to keep is left out here and named in a tier reason by `canonicalize`. A column is resampled by its kind
(`discrete_reason`): a continuous one linearly, a discrete one (booleans, integers, two integer levels held from row to
row such as a 0/1 gripper, a few small integer codes such as a mode 0..5, a column named like a gripper, mode, button
or flag whose samples sit at two values) at the row at or before each grid time, never blended: a gripper recorded as
exactly 0 or 1 stays 0 or 1, where blending wrote fractions no recorder sent (issue 37 reports 174 of 18,281 frames
of a real Dobot CR5 set; the real Bridge sample here: 28 of 475, BENCHMARKS.md). Calling a continuous column discrete
costs little (each frame still holds a value the source recorded, at most one row old), blending a discrete one
invents values, so the rule leans discrete. The columns sampled so, with why, go to the lineage (`native_discrete`).
A column its stream declares relative (`Stream.relative`: a delta action, by its maker's setting or an option) is
neither: it is accumulated over each 0.1 s (`resample.accumulate`), so its sum over an episode is kept, and the
columns accumulated, with why, go to the lineage (`native_accumulated`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from adapters.base import CameraSource, HandSignals, RawEpisode, Stream
from ingest.canonical import resample as rs
from ingest.episode import Natives

MAX_NATIVE_STREAM_DIMS = 64  # wider per-step tensors (T, A, B, ...) (depth, full skeletons) stay out of `*.native`
# A per-step vector (T, D) is a source column (a 96-dim xvla state, 168-dim Isaac teleop hands): kept up to this
# width; wider ones (sentence embeddings, 512+) stay out. Either way what is left out is named in a tier reason.
MAX_NATIVE_VECTOR_DIMS = 256
# All native columns of one side together (the GR00T humanoid sample's state natives are 58; 16 vectors at the
# per-vector cap are 4096): an episode past it is refused, not written, as its width would fix its dataset's features.
MAX_NATIVE_DIMS = 4096


def stream_width(s: Stream) -> int:
    return int(np.prod(s.values.shape[1:])) if s.values.ndim > 1 else 1


def too_wide(s: Stream) -> bool:
    return stream_width(s) > (MAX_NATIVE_VECTOR_DIMS if s.values.ndim <= 2 else MAX_NATIVE_STREAM_DIMS)


def check_native_width(side: str, items: list[tuple[str, Stream]]) -> None:
    """ValueError (the episode is quarantined) when `items`, the natives of one side (`observation.state.native` or
    `action.native`), add up to more than MAX_NATIVE_DIMS columns: the first episode written fixes its dataset's
    features, so one file with 10^5 scalar columns made a 100,058-dim native state and every later valid episode of
    its subset was refused as not matching it (reliability review 1e')."""
    width = sum(stream_width(s) for _, s in items)
    if width > MAX_NATIVE_DIMS:
        widest = ", ".join(
            f"{k} ({stream_width(s)})" for k, s in sorted(items, key=lambda kv: -stream_width(kv[1]))[:3]
        )
        raise ValueError(
            f"{side} natives: {width:,} dims from {len(items):,} streams (widest {widest}), more than the "
            f"{MAX_NATIVE_DIMS:,} one episode may give its dataset's schema"
        )


def stream_window(t: np.ndarray) -> tuple[float, float, float]:
    """A stream's window on its clock: its first and last sample, and the slack within which it still counts as
    present at an end (one and a half of its median steps, at least a 10 Hz frame)."""
    t = np.asarray(t, np.float64)
    step = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    return float(t[0]), float(t[-1]), max(1.5 * step, 0.1)


def native_streams(streams: dict[str, Stream], derived: frozenset[str]) -> list[tuple[str, Stream]]:
    """The streams kept as natives, by name: numeric, not empty, not too wide, not derived by the adapter."""
    kept = lambda k, s: k not in derived and s.values.dtype.kind in "fiub" and not too_wide(s) and len(s)  # noqa: E731
    return [(k, streams[k]) for k in sorted(streams) if kept(k, streams[k])]


# Name tokens of columns that hold a state or command by levels (a gripper open/closed, a control mode, a pressed
# button, an episode flag), as recorders name them: `gripper`, `gripper_open`, `control_mode`, `is_terminal`, ...
DISCRETE_TOKENS = frozenset(
    {"gripper", "grip", "grasp", "claw", "mode", "button", "buttons", "flag", "switch", "trigger", "done", "success",
     "terminal", "is", "contact", "status", "phase"}
)  # fmt: skip
MAX_LEVELS = 8  # a column of at most this many small integer values (codes), held from row to row, is levels
MAX_CODE = 16  # codes are small: a joint read in encoder steps that barely moves (2804 .. 2811) is no mode
MAX_CHANGE_SHARE = 0.5  # held: at most this share of its row-to-row steps changes the value (a ramp 0, 1, 2 is not)
BINARY_SHARE = 0.9  # a column named as above with this share of its samples at its two most frequent values


def discrete_reason(name: str, values: np.ndarray) -> str | None:
    """Why the native column `name` with `values` (T,) is discrete, or None when it is continuous (or constant:
    either way of sampling gives the same). Decided from the dtype, the values and the name."""
    v = np.asarray(values)
    if v.dtype.kind == "b":
        return "boolean"
    finite = v[np.isfinite(v)] if v.dtype.kind == "f" else v
    levels, counts = np.unique(finite, return_counts=True)
    if len(levels) < 2:
        return None
    if v.dtype.kind in "iu":
        return "integer"
    changes = np.count_nonzero(np.diff(finite)) / max(len(finite) - 1, 1)
    codes = len(levels) == 2 or (len(levels) <= MAX_LEVELS and np.abs(levels).max() <= MAX_CODE)
    if codes and np.all(levels == np.round(levels)) and changes <= MAX_CHANGE_SHARE:
        shown = ", ".join(f"{x:g}" for x in levels)
        return f"{len(levels)} integer levels ({shown})"
    tokens = _tokens(name)
    if tokens & DISCRETE_TOKENS:
        top = np.sort(counts)[-2:].sum() / counts.sum()
        if top >= BINARY_SHARE:
            a, b = sorted(levels[np.argsort(counts)[-2:]])
            return f"named {sorted(tokens & DISCRETE_TOKENS)[0]!r}, {top:.0%} of samples at {a:g} or {b:g}"
    return None


def _columns(items: list[tuple[str, Stream]]) -> list[tuple[str, Stream, int]]:
    """(column name, stream, component index) of every column `resample_natives` makes of `items`."""
    out = []
    for key, s in items:
        width = stream_width(s)
        comp = list(s.names or ())
        out += [(f"{key}.{comp[i]}" if len(comp) == width else f"{key}.{i}", s, i) for i in range(width)]
    return out


def _tokens(name: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()))


def native_kinds(items: list[tuple[str, Stream]]) -> dict[str, str]:
    """The discrete columns of `items` by name, each with why (`discrete_reason`); the others are continuous. A
    float column with more than `MAX_LEVELS` distinct values and no discrete name is continuous without a closer
    look (counted for a whole stream at once: a 92-column episode costs about what its resampling does)."""
    out = {}
    for key, s in items:
        v = s.values.reshape(len(s), -1)
        many = np.zeros(v.shape[1], bool)  # finite float columns of more distinct values than levels can have
        if v.dtype.kind == "f" and len(v):
            distinct = 1 + np.count_nonzero(np.diff(np.sort(v, axis=0), axis=0), axis=0)
            many = (distinct > MAX_LEVELS) & np.isfinite(v).all(axis=0)
        relative = set(s.relative.components) if s.relative is not None else set()
        for name, _, i in _columns([(key, s)]):
            if i in relative or (many[i] and not _tokens(name) & DISCRETE_TOKENS):
                continue
            why = discrete_reason(name, v[:, i])
            if why is not None:
                out[name] = why
    return out


def native_accumulated(items: list[tuple[str, Stream]]) -> dict[str, str]:
    """The columns of `items` accumulated over each grid step (their stream's `relative` components), each with why
    (the stream's evidence that they are deltas)."""
    out = {}
    for key, s in items:
        if s.relative is not None:
            comps = set(s.relative.components)
            out |= {name: s.relative.why for name, _, i in _columns([(key, s)]) if i in comps}
    return out


def resample_natives(items: list[tuple[str, Stream]], grid_abs: np.ndarray) -> tuple[np.ndarray | None, list[str]]:
    """`items` on the grid as one float32 (T, D) array and its column names; None when there is none. A relative
    column (`Stream.relative`) is accumulated over each grid step, a discrete one (`native_kinds`) takes the row at
    or before each grid time, a continuous one is interpolated linearly."""
    if not items:
        return None, []
    discrete = native_kinds(items)
    cols, names = [], []
    for key, s in items:
        v = s.values.reshape(len(s), -1).astype(np.float64)
        own = [c[0] for c in _columns([(key, s)])]
        summed = np.isin(np.arange(len(own)), s.relative.components if s.relative is not None else ())
        held = np.array([name in discrete for name in own]) & ~summed
        out = np.empty((len(grid_abs), v.shape[1]))
        if (~held & ~summed).any():  # one call per kind and stream, not per column
            out[:, ~held & ~summed] = rs.resample_linear(s.timestamps, v[:, ~held & ~summed], grid_abs)
        if held.any():
            out[:, held] = rs.resample_hold(s.timestamps, v[:, held], grid_abs)
        if summed.any():
            out[:, summed] = rs.accumulate(s.timestamps, v[:, summed], grid_abs)
        cols.append(out)
        names += own
    return np.concatenate(cols, axis=1).astype(np.float32), names


def native_valid(items: list[tuple[str, Stream]], grid_abs: np.ndarray) -> np.ndarray | None:
    """(T, D) float32, column for column with `resample_natives`: the validity mask (`schemas.canonical.NATIVE_VALID`),
    1 where the column's stream has a sample within its slack (`stream_window`) of the grid time; None without natives.
    Where 0, the native column holds the stream's nearest sample, as the writer refuses NaN."""
    if not items:
        return None
    grid = np.asarray(grid_abs, np.float64)
    cols = []
    for _, s in items:
        t = np.asarray(s.timestamps, np.float64)
        tol = stream_window(t)[2]
        i = np.clip(np.searchsorted(t, grid), 1, max(len(t) - 1, 1))
        near = np.minimum(np.abs(grid - t[i - 1]), np.abs(t[np.minimum(i, len(t) - 1)] - grid))
        cols.append(np.repeat((near <= tol)[:, None], stream_width(s), axis=1))
    return np.concatenate(cols, axis=1).astype(np.float32)


def native_units(items: list[tuple[str, Stream]]) -> list[str]:
    """The unit of each column `resample_natives` makes of `items`, as its stream gives it (`Stream.unit`: "rad",
    "m", "quat_xyzw", ...; "" where the source does not say); a stream whose unit names one per component
    ("rad,m": the AgiBot waist's pitch and lift) gives each column its own."""
    out: list[str] = []
    for _, s in items:
        width = stream_width(s)
        parts = s.unit.split(",")
        out += parts if len(parts) == width > 1 else [s.unit] * width
    return out


def partial_windows(
    clock: np.ndarray, windows: dict[str, tuple[float, float, float]], a: int, b: int
) -> dict[str, list]:
    """The streams present in only part of frames [a, b) of a span (`clock`: its frames' times in the source's
    clock): stream -> [first, last] s of the episode where it has samples ([] for none). Elsewhere its columns hold
    its nearest sample, as every resampling here does past a stream's ends: the writer refuses non-finite values and
    lerobot-train normalises every column, so a NaN stand-in would poison both; the frames' validity mask
    (`*.native_valid`, `native_valid`) is how a consumer masks them, the window in the lineage (`native_windows`)
    says the same per stream. A stream counts as present over the episode when its first and last samples lie within
    one of its own steps (at least a frame) of the episode's ends: a 1 Hz status topic throughout a recording is
    present throughout."""
    e0, e1 = float(clock[a]), float(clock[b - 1])
    out: dict[str, list] = {}
    for key, (lo, hi, tol) in sorted(windows.items()):
        if lo <= e0 + tol and hi >= e1 - tol:
            continue
        w0, w1 = max(lo, e0) - e0, min(hi, e1) - e0
        out[key] = [round(w0, 3), round(w1, 3)] if w1 >= w0 else []
    return out


CAMERA_NATIVES = [f"camera.{c}" for c in ("x", "y", "z", *(f"rot6d_{i}" for i in range(6)))]
CAMERA_NATIVE_UNITS = ["m"] * 3 + ["rot6d"] * 6  # the trajectory as `pose_to_pos_rot6d` gives it


def grid_natives(
    raw: RawEpisode, sig: HandSignals, cams: Mapping[str, CameraSource], grid_abs: np.ndarray, traj: np.ndarray | None
) -> tuple[Natives, dict[str, tuple[float, float, float]]]:
    """The source's own streams on the grid `grid_abs` (the source's clock): its states and other signals, its
    actions, its per-step outcomes (a reward, a done flag) apart from the state; a moving camera's trajectory `traj`
    (n, 9) joins the state natives. `sig` says which states are kept, `cams` are the cameras written. Beside them,
    each stream's and camera's window (`stream_window`)."""
    derived = raw.derived
    native_states = raw.states if sig.native_state_keys is None else {k: raw.states[k] for k in sig.native_state_keys}
    native_states = {**{k: v for k, v in raw.signals.items() if k not in native_states}, **native_states}
    kept = native_streams(native_states, derived)
    st_native, st_names = resample_natives(kept, grid_abs)
    st_units = native_units(kept)
    actions = native_streams(raw.actions, derived)
    ac_native, ac_names = resample_natives(actions, grid_abs)
    outcomes = native_streams({k: v for k, v in raw.outcomes.items() if k not in native_states}, derived)
    oc_native, oc_names = resample_natives(outcomes, grid_abs)
    discrete = native_kinds(kept) | native_kinds(actions) | native_kinds(outcomes)  # sampled at a row, and why
    windows = {k: stream_window(s.timestamps) for k, s in [*kept, *actions, *outcomes]}
    windows |= {f"camera {k}": stream_window(c.timestamps) for k, c in cams.items()}
    st_valid, ac_valid = native_valid(kept, grid_abs), native_valid(actions, grid_abs)
    oc_valid = native_valid(outcomes, grid_abs)
    if traj is not None:  # the camera's trajectory is over the span the camera sets: valid throughout
        st_native = traj if st_native is None else np.concatenate([st_native, traj], axis=1)
        traj_valid = np.ones(traj.shape, np.float32)
        st_valid = traj_valid if st_valid is None else np.concatenate([st_valid, traj_valid], axis=1)
        st_names += CAMERA_NATIVES
        st_units += CAMERA_NATIVE_UNITS
    natives = Natives(
        state=st_native,
        state_names=st_names,
        action=ac_native,
        action_names=ac_names,
        state_units=st_units,
        state_valid=st_valid,
        action_valid=ac_valid,
        outcome=oc_native,
        outcome_names=oc_names,
        outcome_valid=oc_valid,
        discrete=discrete,
        accumulated=native_accumulated(kept) | native_accumulated(actions) | native_accumulated(outcomes),
    )
    return natives, windows
