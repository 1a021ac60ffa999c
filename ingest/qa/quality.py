"""Quality tier of a canonical episode: the source's default tier lowered by signals, each demotion with its reason.

A tier is only ever lowered (`schemas.tiers.tier_of`). Reasons are stable strings naming the signal, the measured
value and the threshold, so a catalog query can group episodes by why they were demoted (DESIGN.md section 4).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks

from ingest.canonical.validity import fill_nonfinite, window_spread, window_turn
from schemas.canonical import (
    CANONICAL_FPS,
    FINGERTIPS_XYZ,
    GRIPPER,
    HANDS,
    WRIST_POS,
    WRIST_ROT6D,
    hand_dims,
    present_hands,
)
from schemas.canonicalize import QualityConfig
from schemas.qa import ValidityReport, Verdict
from schemas.tiers import MISSING_ACTIONS, QualityTier, TierVerdict, reasons_of, tier_of


def stillness(
    state: np.ndarray, mask: np.ndarray, hands: list[int], cfg: QualityConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Per frame of one contiguous block, over the centred idle window: whether no present effector point (wrist,
    fingertips, gripper opening) moves more than its idle rate times the window, and the largest turn rate (deg/s)
    of a present wrist orientation (`window_turn` over the window's seconds; 0 where no present hand holds one)."""
    window = max(2, round(cfg.idle_window_s * CANONICAL_FPS) + 1)
    seconds = (window - 1) / CANONICAL_FPS
    still, turn = np.ones(len(state), dtype=bool), np.zeros(len(state))
    for h in hands:
        parts = [(state[:, hand_dims(h, WRIST_POS)][:, None, :], cfg.idle_speed_m_s)]
        tips, grip, rot = hand_dims(h, FINGERTIPS_XYZ), hand_dims(h, GRIPPER), hand_dims(h, WRIST_ROT6D)
        if mask[tips].all():
            parts.append((state[:, tips].reshape(len(state), 5, 3), cfg.idle_speed_m_s))
        if mask[grip].all():
            parts.append((state[:, grip][:, None, :], cfg.idle_gripper_per_s))
        for pts, rate in parts:
            still &= window_spread(pts, window) < rate * seconds
        if mask[rot].all():
            turn = np.maximum(turn, np.degrees(window_turn(state[:, rot], window)) / seconds)
    return still, turn


def _idle(state: np.ndarray, mask: np.ndarray, hands: list[int], cfg: QualityConfig) -> tuple[int, int]:
    """(idle frames, measured frames) of one contiguous block: idle is still (`stillness`) and turning under
    `idle_turn_deg_s`. A wrist that turns in place (pouring, screwing, wiping) is not idle, however little it travels
    (newcomer review 10, D5)."""
    still, turn = stillness(state, mask, hands, cfg)
    idle = still & (turn < cfg.idle_turn_deg_s)
    measured = np.isfinite(state[:, mask]).all(axis=1)
    return int((idle & measured).sum()), int(measured.sum())


def idle_bounds(mask: np.ndarray, config: QualityConfig) -> str:
    """The bounds an idle frame is under, for the idle reason: the wrist speed, and the turn where a present hand has
    its wrist orientation; a hand without one (a position-only hand) is named, its idle judged on translation (and
    fingertips and gripper where it has them) alone."""
    hands = present_hands(mask)
    blind = [HANDS[h] for h in hands if not mask[hand_dims(h, WRIST_ROT6D)].all()]
    bounds = f"speed < {config.idle_speed_m_s:g} m/s"
    if len(blind) < len(hands):
        bounds += f", turn < {config.idle_turn_deg_s:g} deg/s"
    if blind:
        bounds += f"; no wrist orientation ({', '.join(blind)}): turn not measured"
    return f" ({bounds})"


def _reversals(state: np.ndarray, hands: list[int], cfg: QualityConfig) -> int:
    """Direction reversals of one block: per hand and axis, turning points with at least the minimum amplitude."""
    most = 0
    for h in hands:
        wrist = fill_nonfinite(state[:, hand_dims(h, WRIST_POS)].astype(np.float64))
        if not np.isfinite(wrist).all():
            continue
        for axis in range(3):
            x = wrist[:, axis]
            peaks, _ = find_peaks(x, prominence=cfg.reversal_min_amplitude_m)
            troughs, _ = find_peaks(-x, prominence=cfg.reversal_min_amplitude_m)
            most = max(most, len(peaks) + len(troughs))
    return most


def motion_signals(
    state: np.ndarray, mask: np.ndarray, spans: list[tuple[int, int]], config: QualityConfig
) -> tuple[float, float] | None:
    """(idle ratio, reversals per second) over the spans, or None when too few frames or no present hand."""
    hands = present_hands(mask)
    spans = [(s, e) for s, e in spans if e - s >= 2]
    if not hands or sum(e - s for s, e in spans) < config.min_frames:
        return None
    idle = measured = reversals = 0
    duration = 0.0
    for s, e in spans:  # per span: a join of two spans is not motion
        block = np.asarray(state[s:e], dtype=np.float64)
        i, m = _idle(block, mask, hands, config)
        idle, measured = idle + i, measured + m
        reversals += _reversals(block, hands, config)
        duration += (e - s - 1) / CANONICAL_FPS
    ratio = idle / measured if measured else 0.0
    return ratio, reversals / duration if duration > 0 else 0.0


def native_action_note(names: list[str]) -> str:
    """The reason an episode without a canonical dim is not actionless: its native command is its action."""
    shown = ", ".join(names[:4]) + (f", ... ({len(names)} in all)" if len(names) > 4 else "")
    return f"action: its native command at 10 Hz (action.native, {len(names)} dims: {shown}), no canonical mapping"


def assess_quality(
    default_tier: QualityTier,
    *,
    success: bool | None,
    has_action: bool,
    state: np.ndarray | None,
    mask: np.ndarray,
    validity: ValidityReport | None,
    config: QualityConfig,
    native_action: list[str] | None = None,
    no_action_cause: str | None = None,
) -> Verdict:
    """The default tier lowered by every signal that fires, with one reason per signal. Never raises a tier.

    Signals: validity rejection -> rejected; success False -> low; no actions -> actionless; idle ratio, wrist
    oscillation, invalid-frame fraction above their thresholds -> low. `native_action`: the names of the native
    command that is the episode's action where no canonical dim is filled (a robot without a description), said
    in a note: such an episode has an action, so it is not actionless; `no_action_cause`: why an episode has none
    (canonicalization's note), said in the reason so the episodes that lost their actions group by it. `state` is
    the array given to `check_validity` (motion is then measured over `validity.keep`) or one already cropped to the
    frames to write.
    """
    verdicts: list[TierVerdict] = []

    def lower(to: QualityTier, code: str, reason: str, value: float | None = None, bound: float | None = None) -> None:
        figures = {} if value is None or bound is None else {"value": float(value), "threshold": float(bound)}
        verdicts.append(TierVerdict(tier=to, reason=reason, code=code, figures=figures))

    if validity is not None and validity.rejected:
        lower(QualityTier.rejected, "quality_validity", f"rejected by validity: {validity.rejected}")
    if success is False:
        lower(QualityTier.low, "quality_failed", "failed episode (success=False)")
    if not has_action:
        cause = f": {no_action_cause}" if no_action_cause else ""
        lower(QualityTier.actionless, "quality_no_action", MISSING_ACTIONS + cause)
    elif native_action is not None:  # a note: lowers nothing, says which action the episode trains on
        lower(QualityTier.high, "quality_native_action", native_action_note(native_action))

    def above(code: str, what: str, value: float, field: str, unit: str = "", after: str = "") -> None:
        """Lowered to low where `value` is past the config's `field`, the reason naming both (the field by its key in
        a job spec, `canonicalize.quality.<field>`: what to set to relax it)."""
        if value > (bound := getattr(config, field)):
            said = f"{what} {value:.2f}{unit} > {config.key(field)} {bound:.2f}{after}"
            lower(QualityTier.low, code, said, value, bound)

    if validity is not None:
        above("quality_invalid_fraction", "invalid frame fraction", validity.invalid_fraction, "max_invalid_fraction")
    if state is not None:
        n = len(state)
        spans = validity.keep if validity is not None and validity.n_frames == n else [(0, n)]
        mask = np.asarray(mask, dtype=bool)
        signals = motion_signals(state, mask, spans, config)
        if signals is not None:
            ratio, rate = signals
            above("quality_idle_ratio", "idle ratio", ratio, "max_idle_ratio", after=idle_bounds(mask, config))
            above("quality_oscillation", "oscillation", rate, "max_reversals_per_s", unit=" reversals/s")
    return Verdict(tier=tier_of(default_tier, verdicts), reasons=reasons_of(verdicts), verdicts=verdicts)
