"""Is one episode a copy of another? The verification of a near-duplicate candidate on the signals themselves.

The content fingerprint (`duplicates`) finds candidates: episodes whose motion passes through the same levels. Many
repetitions of one task by one operator do that too (the real Unitree G1 teleop set: 59 % of 93 demonstrations of one
task had a fingerprint twin at similarity 0.78-1.0), so a candidate is only a duplicate when its signals match the
other episode's elementwise after the changes a copy undergoes on its way to us: trimmed (the later episode searched
at every lag, over an overlap of at least `copy_min_overlap` of the shorter one), resampled (the best integer lag
refined to a sub-frame shift by linear interpolation, as our own resampler does), float32 / float16 rounding or a
re-encoded video (below the tolerance by orders of magnitude).

What stays is the difference a copy cannot explain: per frame the largest absolute difference over the compared
dims, each in units of its scale (the dataset's range of the dim, at least the unit's floor); its `copy_quantile`
over the overlap is the episode pair's residual, a copy at or below `copy_tolerance`. Two recordings of one task
differ by far more than that somewhere on the path (the G1 demonstrations: joint states 0.3-0.8 rad apart at worst),
so the verdict names copies, not repetitions. Pure numpy; the lag search is one FFT correlation per dim.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schemas.behaviour import BehaviourConfig

SUBFRAME_STEPS = 20  # sub-frame shifts tried each side of the best integer lag (a twentieth of a frame)
# A dim that barely moves in its dataset says nothing of which recording an episode is, and divided by its own tiny
# range a float32 rounding or a re-gridding would look like a difference (the real GR00T sample's resting left hand:
# fingertip ranges of 1e-6-1e-4 m). Its scale is at least: a centimetre for a metre dim, 0.05 for a unitless one (a
# 6D rotation's entries, a gripper in [0, 1]), and for a native column of unknown unit a hundredth of the largest
# range among its stream's columns.
SCALE_FLOOR = {"m": 0.01, "other": 0.05}
NATIVE_FLOOR_FRACTION = 0.01


def scale_with_floor(ranges: np.ndarray, units: tuple[str, ...] | None = None) -> np.ndarray:
    """Per dim, its range in the dataset raised to the floor of its unit (`units` None: one stream of natives)."""
    r = np.nan_to_num(np.asarray(ranges, np.float64), nan=0.0, posinf=0.0)
    if units is None:
        return np.maximum(r, NATIVE_FLOOR_FRACTION * r.max(initial=0.0))
    return np.maximum(r, [SCALE_FLOOR.get(u, SCALE_FLOOR["other"]) for u in units])


@dataclass(frozen=True)
class CopyCheck:
    """How well the later episode `b` is explained as a copy of the earlier `a`."""

    residual: float  # the copy_quantile of per-frame worst normalised differences over the overlap (inf: not compared)
    overlap: float  # overlap frames / frames of the shorter episode
    lag_frames: float  # b's frame t lies at a's frame t + lag_frames (sub-frame)
    dims: int  # dims compared

    def is_copy(self, config: BehaviourConfig) -> bool:
        return self.dims > 0 and self.overlap >= config.copy_min_overlap and self.residual <= config.copy_tolerance


NOT_COMPARED = CopyCheck(float("inf"), 0.0, 0.0, 0)


def _sums_of_squares(x: np.ndarray) -> np.ndarray:
    """(N + 1,) cumulative sum of the rows' squared norms, for overlap sums in O(1)."""
    return np.concatenate([[0.0], np.cumsum((x * x).sum(axis=1))])


def _mean_square_by_lag(a: np.ndarray, b: np.ndarray, min_overlap: int) -> tuple[np.ndarray, np.ndarray]:
    """(lags, mean squared difference per lag) for every lag with at least `min_overlap` frames: b[t] vs a[t + lag].
    The cross term of every lag at once by FFT, the squares by cumulative sums."""
    na, nb = len(a), len(b)
    n = 1 << int(np.ceil(np.log2(na + nb)))
    fa, fb = np.fft.rfft(a, n, axis=0), np.fft.rfft(b[::-1], n, axis=0)
    cross = np.fft.irfft(fa * fb, n, axis=0).sum(axis=1)  # index k: sum_t a[t + lag] b[t], lag = k - (nb - 1)
    lags = np.arange(-(nb - 1), na)
    t0 = np.maximum(0, -lags)
    t1 = np.minimum(nb, na - lags)
    count = t1 - t0
    ok = count >= min_overlap
    lags, t0, t1, count = lags[ok], t0[ok], t1[ok], count[ok]
    sa, sb = _sums_of_squares(a), _sums_of_squares(b)
    ssd = (sa[t1 + lags] - sa[t0 + lags]) + (sb[t1] - sb[t0]) - 2 * cross[lags + nb - 1]
    return lags, np.maximum(ssd, 0.0) / (count * a.shape[1])


def _shifted(a: np.ndarray, at: np.ndarray) -> np.ndarray:
    """a linearly interpolated at fractional frame positions `at` (inside [0, len(a) - 1])."""
    i = np.clip(np.floor(at).astype(int), 0, len(a) - 2)
    w = (at - i)[:, None]
    return a[i] * (1 - w) + a[i + 1] * w


def copy_check(a: np.ndarray, b: np.ndarray, scale: np.ndarray, config: BehaviourConfig) -> CopyCheck:
    """Compare two episodes' (N, D) signals on one frame grid, the same D dims in the same order, each dim divided by
    `scale` (D,) (its range in the dataset, at least its unit's floor; dims with scale 0 or not finite are left out)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.asarray(scale, np.float64)
    keep = np.isfinite(scale) & (scale > 0)
    if not keep.any() or len(a) < 2 or len(b) < 2:
        return NOT_COMPARED
    a, b = a[:, keep] / scale[keep], b[:, keep] / scale[keep]
    a, b = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0), np.nan_to_num(b, nan=0.0, posinf=0.0, neginf=0.0)
    shorter = min(len(a), len(b))
    min_overlap = max(2, int(np.ceil(config.copy_min_overlap * shorter)))
    lags, msd = _mean_square_by_lag(a, b, min_overlap)
    if not len(lags):
        return NOT_COMPARED
    best = int(lags[int(np.argmin(msd))])
    # refine: b[t] against a at t + best + phi for phi in [-1, 1], over the frames where that stays inside a
    t = np.arange(len(b))
    worst, where = float("inf"), (float(best), 0)
    for phi in np.linspace(-1.0, 1.0, 2 * SUBFRAME_STEPS + 1):
        at = t + best + phi
        inside = (at >= 0) & (at <= len(a) - 1)
        if inside.sum() < min_overlap:
            continue
        diff = np.abs(b[inside] - _shifted(a, at[inside])).max(axis=1)
        r = float(np.quantile(diff, config.copy_quantile))
        if r < worst:
            worst, where = r, (best + float(phi), int(inside.sum()))
    if not np.isfinite(worst):
        return NOT_COMPARED
    return CopyCheck(worst, where[1] / shorter, where[0], int(keep.sum()))
