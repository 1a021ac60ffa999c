"""Resampling native streams onto the canonical grid (`schemas.canonical.CANONICAL_FPS`, 10 Hz).

Each stream, on its own timestamps (seconds from the episode start), is brought onto the grid by its kind: positions
piecewise-linearly, rotations by SLERP, poses by both, discrete signals and video frames by zero-order hold, relative
values (deltas) accumulated over each grid step (`accumulate`: their sum is kept). Grid
times outside a stream's span take its end values. Conventions shared by every function here:
- timestamps are 1-D, finite and non-decreasing, else ValueError naming the first bad index;
- duplicate timestamps: the LAST sample at a duplicated time wins (a re-sent or corrected value supersedes the earlier
  one), for interpolation, hold and frame lookup alike;
- NaN values propagate to the grid times whose interpolation uses them and nowhere else (validity flags them); a grid
  time that hits a sample exactly takes that sample verbatim.

Output timestamps are exactly `frame_index / fps` (`make_grid`); pass episode-relative times, not epoch seconds, or
float64 cannot resolve the grid.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy.spatial.transform import Rotation

from schemas.canonical import CANONICAL_FPS


def validate_timestamps(t: np.ndarray, name: str = "timestamps") -> np.ndarray:
    """Return `t` as float64 after checking it is 1-D, non-empty, finite and non-decreasing."""
    t = np.asarray(t, dtype=np.float64)
    if t.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {t.shape}")
    if len(t) == 0:
        raise ValueError(f"{name} is empty: nothing to resample")
    bad = np.flatnonzero(~np.isfinite(t))
    if len(bad):
        raise ValueError(f"{name}[{bad[0]}] is not finite ({t[bad[0]]})")
    back = np.flatnonzero(np.diff(t) < 0)
    if len(back):
        i = back[0] + 1
        raise ValueError(f"{name} decrease at index {i}: {t[i - 1]} -> {t[i]}")
    return t


def _grid(grid: np.ndarray) -> np.ndarray:
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or not np.all(np.isfinite(grid)):
        raise ValueError(f"grid must be 1-D and finite, got shape {grid.shape}")
    return grid


def _values(t: np.ndarray, values: np.ndarray, min_ndim: int = 1) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim < min_ndim or values.shape[0] != len(t):
        raise ValueError(f"values of shape {values.shape} do not match {len(t)} timestamps")
    return values


def _bracket(t: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices (i0, i1) around each grid time and the weight w of i1, with w == 0 exactly on and outside samples."""
    last = len(t) - 1
    first = int(np.searchsorted(t, t[0], side="right")) - 1  # last duplicate of t0: keep-last also before t0
    i0 = np.clip(np.searchsorted(t, grid, side="right") - 1, first, last)
    i1 = np.minimum(i0 + 1, last)
    if len(t) > 1 and np.any(t[1:] == t[:-1]):  # keep-last towards the next sample too
        i1 = np.searchsorted(t, t[i1], side="right") - 1
    dt = t[i1] - t[i0]  # > 0 unless i1 == i0: side="right" lands on the last of any duplicates
    w = np.divide(grid - t[i0], dt, out=np.zeros_like(grid), where=dt > 0)
    return i0, i1, np.clip(w, 0.0, 1.0)


def make_grid(t_start: float, t_end: float) -> np.ndarray:
    """Grid times relative to t_start: k / fps for k = 0..floor((t_end - t_start) * fps + 1e-9); float64.

    Computed as `arange(n) / fps` (one rounding per element, no accumulation), so frame k's timestamp is the float
    nearest k / fps however long the episode. The 1e-9 frame slack absorbs float error in `t_end - t_start`.
    """
    if not (np.isfinite(t_start) and np.isfinite(t_end)) or t_end < t_start:
        raise ValueError(f"bad grid span [{t_start}, {t_end}]")
    n = int(np.floor((t_end - t_start) * CANONICAL_FPS + 1e-9)) + 1
    return np.arange(n, dtype=np.float64) / CANONICAL_FPS


def common_span(streams_t: Iterable[np.ndarray]) -> tuple[float, float]:
    """The time span covered by every given stream: (max of starts, min of ends); ValueError if empty/disjoint."""
    spans = [
        (float(t[0]), float(t[-1]))
        for t in (validate_timestamps(s, f"stream {i} timestamps") for i, s in enumerate(streams_t))
    ]
    if not spans:
        raise ValueError("no streams given: the common span is undefined")
    starts, ends = np.array(spans).T
    start, end = float(starts.max()), float(ends.min())
    if start > end:
        raise ValueError(
            f"streams do not overlap: stream {int(starts.argmax())} starts at {start} s, "
            f"after stream {int(ends.argmin())} ends at {end} s"
        )
    return start, end


def resample_linear(t: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation of (T, ...) values at grid times (same clock as t), clamped; float64 (N, ...)."""
    t = validate_timestamps(t)
    v = _values(t, values).astype(np.float64, copy=False)
    i0, i1, w = _bracket(t, _grid(grid))
    w = w.reshape(w.shape + (1,) * (v.ndim - 1))
    a = v[i0]
    out = (1.0 - w) * a + w * v[i1]
    return np.where(w == 0, a, out)  # exact sample values on samples, even next to a NaN neighbour


def _slerp(q: np.ndarray, i0: np.ndarray, i1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """SLERP between rows i0 and i1 of sign-continuous unit quaternions `q` at weights w."""
    q0, q1 = q[i0], q[i1]
    q1 = np.where(np.sum(q0 * q1, axis=-1, keepdims=True) < 0, -q1, q1)  # shortest path within each interval
    # angle between the unit vectors via atan2: accurate for tiny and near-pi angles, unlike arccos(dot)
    theta = 2.0 * np.arctan2(np.linalg.norm(q1 - q0, axis=-1), np.linalg.norm(q1 + q0, axis=-1))
    s = np.sin(theta)
    small = s < 1e-9
    s_safe = np.where(small, 1.0, s)
    a = np.where(small, 1.0 - w, np.sin((1.0 - w) * theta) / s_safe)[:, None]
    b = np.where(small, w, np.sin(w * theta) / s_safe)[:, None]
    out = a * q0 + b * q1
    out /= np.linalg.norm(out, axis=-1, keepdims=True)
    return np.where((w == 0)[:, None], q0, out)


def _sign_continuous(q: np.ndarray) -> np.ndarray:
    """Flip signs so consecutive quaternions have dot >= 0 (same rotations; the first sample keeps its sign)."""
    flips = np.where(np.sum(q[1:] * q[:-1], axis=-1) < 0, -1.0, 1.0)
    return q * np.concatenate([[1.0], np.cumprod(flips)])[:, None]


def resample_poses(t: np.ndarray, poses: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(T, 4, 4) SE(3) -> (N, 4, 4): translation linearly, rotation by SLERP; poses on samples are copied verbatim."""
    t = validate_timestamps(t)
    p = _values(t, poses, 3).astype(np.float64, copy=False)
    if p.shape[1:] != (4, 4):
        raise ValueError(f"poses must have shape (T, 4, 4), got {p.shape}")
    i0, i1, w = _bracket(t, _grid(grid))
    ok = np.all(np.isfinite(p[:, :3, :3]), axis=(1, 2))  # scipy rejects NaN matrices: those rows stay NaN
    q = np.full((len(t), 4), np.nan)
    if ok.any():
        q[ok] = Rotation.from_matrix(p[ok, :3, :3]).as_quat()
    qg = _slerp(_sign_continuous(q), i0, i1, w)
    out = np.zeros((len(w), 4, 4))
    out[:, 3, 3] = 1.0
    finite = np.all(np.isfinite(qg), axis=-1)
    out[:, :3, :3] = np.nan
    if finite.any():
        out[finite, :3, :3] = Rotation.from_quat(qg[finite]).as_matrix()
    wc = w[:, None]
    trans0 = p[i0, :3, 3]
    out[:, :3, 3] = np.where(wc == 0, trans0, (1.0 - wc) * trans0 + wc * p[i1, :3, 3])
    on = w == 0
    out[on, :3, :] = p[i0[on], :3, :]  # bit-exact identity on the native grid
    return out


def accumulate(t: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Relative values (per-step increments: a delta action) on the grid, float64 (N, ...): frame k holds what the
    stream moves over [grid[k], grid[k] + 1 / fps), so the frames sum to what the stream sums over them, where
    sampling would keep one row in two at 20 Hz (issue 55: an Isaac Lab IK-Rel demo's deltas summed 0.44 after
    resampling, 0.86 in the file).

    Each sample's increment is spread evenly over its own step [t_i, t_{i+1}) (the last over the median step), so a
    15 Hz stream gives every frame 1.5 samples' worth instead of 2, 1, 2, 1, and a 5 Hz one splits each increment
    over the two frames it spans instead of leaving every second frame at 0; the last frame takes, whole, every
    sample that starts before its end. Samples before grid[0] count only for the part of their step inside the grid.
    Duplicate timestamps: the last sample wins, as everywhere here. A NaN increment makes NaN the frames its step
    overlaps and no others. `grid` may repeat a time (a frame that then moves nothing)."""
    t = validate_timestamps(t)
    v = _values(t, values).astype(np.float64, copy=False)
    grid = _grid(grid)
    if len(grid) == 0:
        return np.zeros((0, *v.shape[1:]))
    if np.any(np.diff(grid) < 0):
        raise ValueError("grid must be non-decreasing to accumulate over it")
    keep = np.append(t[1:] != t[:-1], True)  # the last of each run of equal times
    t, flat = t[keep], v[keep].reshape(int(keep.sum()), -1)
    step = np.diff(t)
    ends = np.append(t[1:], t[-1] + (float(np.median(step)) if len(step) else 1.0 / CANONICAL_FPS))
    knots = np.append(t, ends[-1])
    nan = ~np.isfinite(flat)
    total = np.vstack([np.zeros((1, flat.shape[1])), np.cumsum(np.where(nan, 0.0, flat), axis=0)])
    edges = np.append(grid, grid[-1] + 1.0 / CANONICAL_FPS)
    i = np.clip(np.searchsorted(knots, edges, side="right") - 1, 0, len(t) - 1)
    w = np.clip((edges - knots[i]) / (knots[i + 1] - knots[i]), 0.0, 1.0)[:, None]
    at = total[i] + w * (total[i + 1] - total[i])  # the running sum at each edge, linear within a sample's step
    at[-1] = total[np.searchsorted(t, edges[-1], side="left")]  # whole samples starting before the last frame's end
    out = np.diff(at, axis=0)
    for row, col in zip(*np.nonzero(nan), strict=True):  # rare: only the frames the NaN sample's step overlaps
        first = np.searchsorted(edges[1:], t[row], side="right")
        last = np.searchsorted(edges[:-1], ends[row], side="left")
        out[first:last, col] = np.nan
    return out.reshape(len(grid), *v.shape[1:])


def nearest_at_or_before(t: np.ndarray, grid: np.ndarray, tolerance_s: float = 1e-6) -> np.ndarray:
    """int64 index of the sample at or before each grid time (within `tolerance_s` after counts as at), clamped to
    the first sample before t0. Never a sample from the future; among duplicates, the last. For video frames."""
    t = validate_timestamps(t)
    if tolerance_s < 0:
        raise ValueError(f"tolerance_s must be >= 0, got {tolerance_s}")
    first = int(np.searchsorted(t, t[0], side="right")) - 1
    i = np.searchsorted(t, _grid(grid) + tolerance_s, side="right") - 1
    return np.clip(i, first, len(t) - 1).astype(np.int64)


def resample_hold(t: np.ndarray, values: np.ndarray, grid: np.ndarray, tolerance_s: float = 1e-6) -> np.ndarray:
    """Zero-order hold: the last sample at or before each grid time (the first before t0). Keeps dtype; for gripper
    commands, discrete flags, labels. A sample within `tolerance_s` after a grid time counts as at it."""
    t = validate_timestamps(t)
    return _values(t, values)[nearest_at_or_before(t, grid, tolerance_s)]


def interpolated_mask(t: np.ndarray, grid: np.ndarray, tolerance_s: float) -> np.ndarray:
    """bool (N,): True where no native sample lies within tolerance_s of the grid time (the value is made up)."""
    t = validate_timestamps(t)
    grid = _grid(grid)
    j = np.searchsorted(t, grid)  # t[j-1] < g <= t[j]
    last = len(t) - 1
    d = np.minimum(np.abs(grid - t[np.clip(j - 1, 0, last)]), np.abs(t[np.clip(j, 0, last)] - grid))
    return d > tolerance_s


def find_gaps(t: np.ndarray, max_gap_s: float) -> list[tuple[float, float]]:
    """(start, end) of every interval between consecutive samples longer than max_gap_s."""
    if not max_gap_s > 0:
        raise ValueError(f"max_gap_s must be positive, got {max_gap_s}")
    t = validate_timestamps(t)
    i = np.flatnonzero(np.diff(t) > max_gap_s)
    return [(float(a), float(b)) for a, b in zip(t[i], t[i + 1], strict=True)]


def _merge(gaps: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sort and merge overlapping open intervals (gaps of several streams); touching ones stay apart."""
    merged: list[tuple[float, float]] = []
    for a, b in sorted((float(a), float(b)) for a, b in gaps):
        if not a < b:
            raise ValueError(f"gap ({a}, {b}) is empty or reversed")
        if merged and a < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def segments_without_gaps(
    t_start: float, t_end: float, gaps: list[tuple[float, float]], min_length_s: float = 0.0
) -> list[tuple[float, float]]:
    """The [start, end] spans of [t_start, t_end] that contain no gap, dropping spans shorter than min_length_s.

    Gaps are open intervals between two samples, so their end points (samples) belong to the spans; gaps of several
    streams may be passed together. A lone sample between two gaps is a zero-length span, kept when min_length_s == 0.
    """
    if t_end < t_start:
        raise ValueError(f"bad span [{t_start}, {t_end}]")
    spans, cursor = [], float(t_start)
    for a, b in _merge(gaps):
        if b <= cursor or a >= t_end:
            continue
        if a >= cursor:
            spans.append((cursor, a))
        cursor = b
    if cursor <= t_end:
        spans.append((cursor, float(t_end)))
    return [(a, b) for a, b in spans if b - a >= min_length_s]


def gap_mask(grid_abs: np.ndarray, gaps: list[tuple[float, float]], tolerance_s: float = 1e-6) -> np.ndarray:
    """bool (N,): True for grid times strictly inside a gap (to invalidate frames instead of splitting).

    A grid time within `tolerance_s` of a gap's end samples is on that sample (float noise of t_start + k / fps), not
    inside the gap.
    """
    grid_abs = _grid(grid_abs)
    merged = _merge(gaps)
    if not merged:
        return np.zeros(len(grid_abs), dtype=bool)
    starts, ends = np.array(merged).T
    k = np.searchsorted(starts, grid_abs - tolerance_s, side="left") - 1  # last gap starting before g - tol
    return (k >= 0) & (grid_abs < ends[np.maximum(k, 0)] - tolerance_s)
