"""Per-frame validity of a canonical episode: which frames are defective, which spans to keep, or why to reject it.

Inputs are canonical arrays on the 10 Hz grid (DESIGN.md section 3). Only dims in the embodiment mask are looked at, so
the zeros of an absent hand never raise a flag. Checks are vectorized over frames; the only Python loops run over
hands (at most 2), axes and spans.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from ingest.frames import rot6d_to_matrix
from schemas.canonical import CANONICAL_DIM, CANONICAL_FPS, FINGERTIPS_XYZ, HANDS, WRIST_POS, hand_dims, present_hands
from schemas.canonicalize import KinematicLimits, ValidityConfig
from schemas.qa import ValidityReport

# Per-frame defect checks, in report order. `static_hands` (human) and `short_span` crop rather than invalidate.
CHECKS = ("non_finite", "timestamps", "zero_state", "truncated", "speed", "acceleration", "workspace", "low_confidence")
CROPS = ("static_hands", "short_span")


def runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) of the maximal runs of True in a 1-D bool array."""
    edges = np.diff(np.concatenate([[0], np.asarray(flags, dtype=np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def fill_nonfinite(x: np.ndarray) -> np.ndarray:
    """Rows with any non-finite value replaced by the previous finite row (the next one before the first)."""
    ok = np.isfinite(x).reshape(len(x), -1).all(axis=1)
    if ok.all() or not ok.any():
        return x
    idx = np.where(ok, np.arange(len(x)), -1)
    idx = np.maximum.accumulate(idx)
    idx[idx < 0] = np.flatnonzero(ok)[0]
    return x[idx]


def dilate_pairs(step_bad: np.ndarray, n: int) -> np.ndarray:
    """A bad step i -> i+1 flags both of its frames: which endpoint is wrong cannot be told."""
    out = np.zeros(n, dtype=bool)
    out[:-1] |= step_bad
    out[1:] |= step_bad
    return out


def _kinematics(wrist: np.ndarray, t: np.ndarray, lim: KinematicLimits) -> tuple[np.ndarray, np.ndarray]:
    """(speed-flagged, acceleration-flagged) frames of one hand's (N, 3) wrist track; non-finite steps are skipped."""
    n = len(wrist)
    speed_bad, acc_bad = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    if n < 2:
        return speed_bad, acc_bad
    dt = np.diff(t)
    dt = np.where(dt > 0, dt, np.nan)  # non-increasing time is its own check; no speed is measured across it
    with np.errstate(invalid="ignore", divide="ignore"):
        vel = np.diff(wrist, axis=0) / dt[:, None]
        speed_bad = dilate_pairs(np.linalg.norm(vel, axis=1) > lim.max_wrist_speed_m_s, n)
        if n >= 3:
            acc = np.diff(vel, axis=0) / (0.5 * (dt[:-1] + dt[1:]))[:, None]
            acc_bad[1:-1] = np.linalg.norm(acc, axis=1) > lim.max_wrist_acc_m_s2
    return speed_bad, acc_bad


def _hand_spread(state: np.ndarray, hands: list[int], mask: np.ndarray, window: int) -> np.ndarray:
    """Per frame, the largest window spread of any present wrist or fingertip (wrist frame: articulation counts)."""
    spread = np.zeros(len(state))
    for h in hands:
        cols = [hand_dims(h, WRIST_POS)]
        tips = hand_dims(h, FINGERTIPS_XYZ)
        if mask[tips].all():
            cols += [slice(tips.start + 3 * i, tips.start + 3 * i + 3) for i in range(5)]
        pts = np.stack([state[:, c] for c in cols], axis=1)  # (N, P, 3)
        spread = np.maximum(spread, window_spread(pts, window))
    return spread


def window_spread(points: np.ndarray, window: int) -> np.ndarray:
    """(N, P, k) tracks -> (N,): the largest bounding-box diagonal of any track over a centred window of frames.

    Unlike a path length it does not grow with tracking jitter, and unlike a displacement it sees out-and-back moves.
    Non-finite frames take their previous finite value.
    """
    pts = fill_nonfinite(np.asarray(points, dtype=np.float64))
    hi = maximum_filter1d(pts, size=window, axis=0, mode="nearest")
    lo = minimum_filter1d(pts, size=window, axis=0, mode="nearest")
    return np.linalg.norm(hi - lo, axis=2).max(axis=1)


def window_turn(rot6d: np.ndarray, window: int) -> np.ndarray:
    """(N, 6) wrist orientations (canonical 6D) -> (N,): the largest angle (radians) between any two of them over the
    centred window of `window_spread`, the turning twin of its spread: a wrist that turns in place (pouring,
    screwing) and one that turns out and back within the window both count. Non-finite rows take their previous
    finite value; an orientation that decodes to nothing (a degenerate 6D row) measures no turn."""
    r = rot6d_to_matrix(fill_nonfinite(np.asarray(rot6d, dtype=np.float64)), bad_as_nan=True)
    n = len(r)
    lo = window // 2  # the frames `maximum_filter1d(size=window)` takes before the centre; the rest after it
    frames = np.clip(np.arange(n)[:, None] + np.arange(-lo, window - lo)[None, :], 0, n - 1)
    w = r[frames]  # (N, window, 3, 3)
    cos = (np.einsum("niab,njab->nij", w, w) - 1.0) / 2.0  # trace(Ri^T Rj) = sum(Ri * Rj)
    angle = np.arccos(np.clip(np.nan_to_num(cos, nan=1.0), -1.0, 1.0))
    return angle.max(axis=(1, 2))


def _trailing(flags: np.ndarray) -> np.ndarray:
    """The run of True that ends at the last frame."""
    out = np.zeros_like(flags)
    false = np.flatnonzero(~flags)
    start = false[-1] + 1 if len(false) else 0
    out[start:] = True
    return out


def check_validity(
    state: np.ndarray,
    *,
    mask: np.ndarray,
    timestamps: np.ndarray,
    embodiment: str,
    config: ValidityConfig,
    action: np.ndarray | None = None,
    keypoints: np.ndarray | None = None,
    confidence: np.ndarray | None = None,
    human: bool = False,
    hand_valid: np.ndarray | None = None,
) -> ValidityReport:
    """Flag defective frames, crop motionless human fragments, keep spans of at least `min_length_frames`.

    Per-frame checks (masked dims only): non-finite state/action/keypoints, non-increasing timestamps (the later
    frame), an all-zero masked state (no real pose has a zero rotation), trailing zero or NaN padding (truncated
    stream), wrist speed and acceleration above the embodiment's limits (both frames of a fast step; the centre of a
    sharp turn), wrist outside the workspace, tracking confidence below `min_confidence` for a present hand. Pass an
    all-False mask for video-only episodes: then only timestamps and length are checked.

    `hand_valid` (N, 2) bool says where each hand is tracked (None: every hand of the mask in every frame). Every
    check looks at a hand only where it is tracked: a frame where one hand is untracked (its dims NaN) is judged on
    the other; a frame where no present hand is tracked counts as `non_finite`, as its values are.
    """
    state = np.asarray(state)
    mask = np.asarray(mask, dtype=bool)
    t = np.asarray(timestamps, dtype=np.float64)
    n = len(state)
    if state.shape != (n, CANONICAL_DIM) or mask.shape != (CANONICAL_DIM,) or t.shape != (n,):
        got = f"{state.shape}, {mask.shape}, {t.shape}"
        raise ValueError(f"expected state (N, {CANONICAL_DIM}), mask ({CANONICAL_DIM},), timestamps (N,); got {got}")
    empty = np.zeros(0, dtype=bool)
    if n == 0:
        return ValidityReport(empty, dict.fromkeys(CHECKS + CROPS, 0), [], "empty episode (0 frames)", empty)

    hands = present_hands(mask)
    lim = config.limits_for(embodiment)
    flags = {name: np.zeros(n, dtype=bool) for name in CHECKS}
    tracked = np.ones((n, len(HANDS)), dtype=bool) if hand_valid is None else np.asarray(hand_valid, dtype=bool)
    looked = np.broadcast_to(mask, (n, CANONICAL_DIM)).copy()  # (N, 50): masked dims of the hands tracked there
    for h in range(len(HANDS)):
        looked[:, hand_dims(h, slice(0, 25))] &= tracked[:, h, None]
    state = np.where(looked, state, 0.0)  # an untracked hand's NaN is no defect of its frame
    masked = state[:, mask]

    flags["non_finite"] = ~np.isfinite(masked).all(axis=1) | (mask.any() & ~looked.any(axis=1))
    if action is not None:
        flags["non_finite"] |= ~np.isfinite(np.where(looked, action, 0.0)).all(axis=1)
    if keypoints is not None and hands:
        kp = np.asarray(keypoints)[:, hands]
        flags["non_finite"] |= ~(np.isfinite(kp).all(axis=(2, 3)) | ~tracked[:, hands]).all(axis=1)

    finite_t = np.where(np.isfinite(t), t, -np.inf)
    flags["timestamps"] = ~np.isfinite(t)
    flags["timestamps"][1:] |= finite_t[1:] <= np.maximum.accumulate(finite_t)[:-1]

    if mask.any():
        zero = (masked == 0).all(axis=1) & looked.any(axis=1)
        flags["truncated"] = _trailing(zero | ~(np.isfinite(state) & looked).any(axis=1))
        flags["zero_state"] = zero & ~flags["truncated"]

    # Padding and dropouts are not poses: no speed is measured into them, no workspace applies to them.
    no_pose = flags["truncated"] | flags["zero_state"]
    for h in hands:
        wrist = state[:, hand_dims(h, WRIST_POS)].astype(np.float64)
        wrist[no_pose | ~tracked[:, h]] = np.nan
        speed_bad, acc_bad = _kinematics(wrist, t, lim)
        flags["speed"] |= speed_bad
        flags["acceleration"] |= acc_bad
        if lim.workspace is not None:
            lo, hi = np.asarray(lim.workspace.low), np.asarray(lim.workspace.high)
            flags["workspace"] |= ((wrist < lo) | (wrist > hi)).any(axis=1)
        if confidence is not None:
            c = np.asarray(confidence, dtype=np.float64)[:, h]
            flags["low_confidence"] |= ~(c >= config.min_confidence) & tracked[:, h]  # NaN confidence is none

    defect = np.logical_or.reduce(list(flags.values()))
    valid = ~defect
    reasons = {name: int(f.sum()) for name, f in flags.items()}

    static = np.zeros(n, dtype=bool)
    if human and hands and valid.any():
        window = max(1, round(config.motion_window_s * CANONICAL_FPS))
        # a glitch is not motion, nor a hand leaving the view: invalid frames hold the last pose, each hand its own
        pose = np.where(valid[:, None] & looked, state, np.nan)
        static = _hand_spread(pose, hands, mask, window) < config.min_hand_motion_m
    reasons["static_hands"] = int(static.sum())

    # Candidate spans: drop removes every invalid frame; mask keeps them inside spans trimmed to valid ends.
    if config.policy == "drop":
        starts, ends = runs(valid & ~static)
    else:
        starts, ends = runs(~static & ~flags["truncated"])
        good = np.flatnonzero(valid & ~static)
        if len(good):
            first = good[np.minimum(np.searchsorted(good, starts), len(good) - 1)]
            last = good[np.maximum(np.searchsorted(good, ends) - 1, 0)]
            has = (first >= starts) & (first < ends)
            starts, ends = first[has], last[has] + 1
        else:
            starts, ends = starts[:0], ends[:0]
    lengths = ends - starts
    long = lengths >= config.min_length_frames
    reasons["short_span"] = int(lengths[~long].sum())
    keep = [(int(s), int(e)) for s, e in zip(starts[long], ends[long], strict=True)]

    set_by = check_settings(config, embodiment)

    def said(k: str) -> str:
        return f"{k} {reasons[k]}" + (f" ({set_by[k]})" if k in set_by else "")

    def _summary() -> str:
        hit = [said(k) for k, v in reasons.items() if v and k in CHECKS]
        return ", ".join(hit) if hit else "no check failed"

    # a refusal names the key that sets its bound (`Keyed.key`), so the message says what a spec may relax
    rejected = None
    frac = float(defect.mean())
    shortest = f"{config.key('min_length_frames')} {config.min_length_frames}"
    if n < config.min_length_frames:
        rejected = f"episode too short: {n} frames < {shortest}"
    elif not valid.any():
        rejected = f"no valid frame among {n} ({_summary()})"
    elif frac > config.max_gap_fraction:
        bound = f"{config.key('max_gap_fraction')} {config.max_gap_fraction:.2f}"
        rejected = f"invalid frame fraction {frac:.2f} > {bound} ({_summary()})"
    elif not keep:
        longest = int(lengths.max()) if len(lengths) else 0
        rejected = (
            f"no span of at least {shortest} remains after cleaning"
            f" (longest {longest} of {n} frames; {_summary()}, {said('static_hands')})"
        )
    return ValidityReport(valid, reasons, [] if rejected else keep, rejected, static)


def check_settings(config: ValidityConfig, embodiment: str) -> dict[str, str]:
    """The key of the setting behind each check that has one (the embodiment's kinematic limits, or the defaults for
    an embodiment without its own); a defect of the data itself (NaN, time going back, zeros, padding) has none."""
    limits = f"{config.key('limits')}.{embodiment}" if embodiment in config.limits else config.key("default_limits")
    return {
        "speed": f"{limits}.max_wrist_speed_m_s",
        "acceleration": f"{limits}.max_wrist_acc_m_s2",
        "workspace": f"{limits}.workspace",
        "low_confidence": config.key("min_confidence"),
        "static_hands": config.key("min_hand_motion_m"),
    }
