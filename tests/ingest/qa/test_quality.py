"""Quality tiers: a table of tier cases with their reasons, and the rule that a tier is never raised."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from ingest.canonical.validity import check_validity
from ingest.frames import matrix_to_rot6d
from ingest.qa.quality import assess_quality, motion_signals
from schemas.canonical import CANONICAL_DIM, FINGERTIPS_XYZ, GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.canonicalize import QualityConfig, ValidityConfig
from schemas.qa import ValidityReport
from schemas.robots.registry import default_registry
from schemas.tiers import QualityTier
from tests.fixtures.motion import franka_reach

H, L, A, R = QualityTier.high, QualityTier.low, QualityTier.actionless, QualityTier.rejected
FRANKA = default_registry().get("franka").mask()
HUMAN = default_registry().get("human").mask()
CFG = QualityConfig()
N = 100


T = np.arange(N) / 10.0
SMOOTH = franka_reach(0.1 * np.sin(2 * np.pi * T / 8.0))  # one slow out-and-back reach
IDLE80 = franka_reach(np.minimum(T, 2.0) * 0.1)  # moves for 2 s, then stands still for 8 s
OSCILLATING = franka_reach(0.05 * np.sin(2 * np.pi * 2.0 * T))  # 2 Hz back and forth: 4 reversals per second


def report(invalid: float) -> ValidityReport:
    valid = np.arange(N) >= round(invalid * N)
    return ValidityReport(valid=valid, reasons={"non_finite": int((~valid).sum())}, keep=[(round(invalid * N), N)])


CLEAN = report(0.0)
REJECTED = ValidityReport(np.zeros(N, bool), {"non_finite": N}, [], "no valid frame among 100 (non_finite 100)")

IDLE_RE = r"^idle ratio 0\.[78]\d > canonicalize\.quality\.max_idle_ratio 0\.50 \(speed < 0\.02 m/s, turn < 10 deg/s\)$"
OSC_RE = r"^oscillation [34]\.\d\d reversals/s > canonicalize\.quality\.max_reversals_per_s 2\.00$"
INVALID_RE = r"^invalid frame fraction 0\.30 > canonicalize\.quality\.max_invalid_fraction 0\.20$"

# id, default tier, success, has_action, state, validity, expected tier, expected reasons (regex, in order)
CASES = [
    ("clean_high_stays_high", H, True, True, SMOOTH, CLEAN, H, []),
    ("unknown_success_is_no_signal", H, None, True, SMOOTH, CLEAN, H, []),
    ("failed", H, False, True, SMOOTH, CLEAN, L, [r"^failed episode \(success=False\)$"]),
    ("no_actions", H, True, False, SMOOTH, CLEAN, A, [r"^missing actions \(has_action=False\)$"]),
    ("idle_80", H, True, True, IDLE80, CLEAN, L, [IDLE_RE]),
    ("oscillating", H, True, True, OSCILLATING, CLEAN, L, [OSC_RE]),
    ("invalid_30", H, True, True, SMOOTH, report(0.3), L, [INVALID_RE]),
    ("invalid_10_is_fine", H, True, True, SMOOTH, report(0.1), H, []),
    (
        "low_stays_low_and_collects",
        L,
        False,
        True,
        IDLE80,
        report(0.3),
        L,
        [r"^failed", r"^invalid frame fraction 0\.30", r"^idle ratio"],
    ),
    ("actionless_never_promoted", A, True, True, SMOOTH, CLEAN, A, []),
    ("actionless_failed_stays_actionless", A, False, False, None, None, A, [r"^failed", r"^missing actions"]),
    ("no_state_no_motion_signals", H, True, True, None, None, H, []),
    ("failed_without_actions", H, False, False, None, None, A, [r"^failed", r"^missing actions"]),
    (
        "rejected_by_validity",
        H,
        True,
        True,
        SMOOTH,
        REJECTED,
        R,
        [r"^rejected by validity: no valid frame among 100", r"^invalid frame fraction 1\.00"],
    ),
]


@pytest.mark.parametrize(
    ("default", "success", "has_action", "state", "validity", "tier", "reasons"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES],
)
def test_tier_table(default, success, has_action, state, validity, tier, reasons) -> None:  # type: ignore[no-untyped-def]
    verdict = assess_quality(
        default, success=success, has_action=has_action, state=state, mask=FRANKA, validity=validity, config=CFG
    )
    got, why = verdict.tier, verdict.reasons
    assert got is tier
    assert len(why) == len(reasons), why
    for pattern, reason in zip(reasons, why, strict=True):
        assert re.search(pattern, reason), (pattern, reason)


def test_idle_ratio_is_measured() -> None:
    ratio, _ = motion_signals(IDLE80, FRANKA, [(0, N)], CFG)  # type: ignore[misc]
    assert 0.75 <= ratio <= 0.82
    why = assess_quality(H, success=True, has_action=True, state=IDLE80, mask=FRANKA, validity=None, config=CFG).reasons
    assert float(why[0].split()[2]) == pytest.approx(ratio, abs=0.005)


def test_a_moving_gripper_is_not_idle() -> None:
    s = franka_reach(np.zeros(N), gripper=0.5 + 0.4 * np.sin(2 * np.pi * T / 10.0))
    ratio, rate = motion_signals(s, FRANKA, [(0, N)], CFG)  # type: ignore[misc]
    assert ratio < 0.2 and rate == 0.0
    assert motion_signals(franka_reach(np.zeros(N)), FRANKA, [(0, N)], CFG) == (1.0, 0.0)


def turned(s: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    """`s` with the right wrist turned about its own x axis by `degrees` at each frame (its position kept)."""
    s = s.copy()
    s[:, hand_dims(1, WRIST_ROT6D)] = matrix_to_rot6d(
        Rotation.from_euler("x", degrees[:, None], degrees=True).as_matrix()
    )
    return s


# A pour: the wrist tips 90 degrees and back every 6 s (at most 47 deg/s) and never travels (newcomer review 10, D5)
POUR = turned(franka_reach(np.zeros(N)), 45.0 * (1.0 - np.cos(2 * np.pi * T / 6.0)))


def test_a_wrist_turning_in_place_is_not_idle() -> None:
    """Pouring, screwing and wiping turn the wrist where it stands: only the turning points of the pour, where it
    turns under 10 deg in the 1 s window, are idle (e7043c41 read 1.0: all of it, and lowered the episode)."""
    ratio, _ = motion_signals(POUR, FRANKA, [(0, N)], CFG)  # type: ignore[misc]
    assert ratio < 0.3
    verdict = assess_quality(H, success=True, has_action=True, state=POUR, mask=FRANKA, validity=None, config=CFG)
    assert verdict.tier is H and verdict.reasons == []
    # the same pour with 20 s held still in the middle stays idle: stillness is all of translation, turn and gripper
    held = np.concatenate([POUR[:50], np.repeat(POUR[50:51], 200, axis=0), POUR[50:]])
    verdict = assess_quality(H, success=True, has_action=True, state=held, mask=FRANKA, validity=None, config=CFG)
    assert verdict.tier is L and re.search(
        r"^idle ratio 0\.\d\d > .*\(speed < 0\.02 m/s, turn < 10 deg/s\)$", verdict.reasons[0]
    )


def test_a_turn_is_idle_under_its_bound() -> None:
    """A wrist that turns slower than `idle_turn_deg_s` (rest jitter, a drift) is idle; the bound is the setting."""
    drift = turned(franka_reach(np.zeros(N)), 0.8 * T)  # 0.8 deg/s
    assert motion_signals(drift, FRANKA, [(0, N)], CFG)[0] == 1.0  # type: ignore[index]
    tight = CFG.model_copy(update={"idle_turn_deg_s": 0.5})
    assert motion_signals(drift, FRANKA, [(0, N)], tight)[0] < 0.05  # type: ignore[index]  # the ends' half windows


def test_a_hand_without_wrist_orientation_is_judged_on_translation_and_says_so() -> None:
    """A position-only wrist (no orientation in the mask) cannot show a turn: its idle is translation and gripper,
    and the reason names the hand whose turn is not measured."""
    no_rot = FRANKA.copy()
    no_rot[hand_dims(1, WRIST_ROT6D)] = False
    assert motion_signals(POUR, no_rot, [(0, N)], CFG)[0] == 1.0  # type: ignore[index]
    verdict = assess_quality(H, success=True, has_action=True, state=POUR, mask=no_rot, validity=None, config=CFG)
    assert verdict.reasons == [
        "idle ratio 1.00 > canonicalize.quality.max_idle_ratio 0.50 "
        "(speed < 0.02 m/s; no wrist orientation (right): turn not measured)"
    ]


def test_tracking_jitter_is_neither_motion_nor_oscillation() -> None:
    """A human hand at rest with 2 mm tracking noise: idle, and its zig-zags are far below the reversal amplitude."""
    rng = np.random.default_rng(1)
    s = np.zeros((300, CANONICAL_DIM), dtype=np.float32)
    for h in (0, 1):
        s[:, hand_dims(h, WRIST_POS)] = np.array([0.2 * (2 * h - 1), 0.0, 0.5]) + rng.normal(0, 0.002, (300, 3))
        s[:, hand_dims(h, WRIST_ROT6D)] = [1, 0, 0, 0, 1, 0]
        s[:, hand_dims(h, FINGERTIPS_XYZ)] = np.tile([0.0, 0.08, 0.0], 5) + rng.normal(0, 0.002, (300, 15))
    ratio, rate = motion_signals(s, HUMAN, [(0, 300)], CFG)  # type: ignore[misc]
    assert ratio > 0.9 and rate == 0.0


def test_motion_is_measured_over_kept_spans_only() -> None:
    """An idle stretch cropped by validity does not count as idle, and the join of two spans is not a reversal."""
    s = franka_reach(0.1 * np.sin(2 * np.pi * np.minimum(T, 3.9) / 8.0))  # stops at 3.9 s
    s[40:, hand_dims(1, GRIPPER)] = np.nan
    validity = check_validity(
        s, mask=FRANKA, timestamps=T, embodiment="franka", config=ValidityConfig(max_gap_fraction=1.0)
    )
    assert validity.keep == [(0, 40)]
    verdict = assess_quality(
        H,
        success=True,
        has_action=True,
        state=s,
        mask=FRANKA,
        validity=validity,
        config=CFG.model_copy(update={"max_invalid_fraction": 1.0}),
    )
    tier, why = verdict.tier, verdict.reasons
    assert tier is H and why == []
    # Measured on the whole array instead (gripper values present), the 6 idle seconds dominate.
    s[40:, hand_dims(1, GRIPPER)] = 0.5
    ratio, _ = motion_signals(s, FRANKA, [(0, 100)], CFG)  # type: ignore[misc]
    assert ratio > 0.5


def test_the_join_of_two_spans_is_not_a_reversal() -> None:
    x = np.concatenate([np.linspace(0, 0.2, 50), np.linspace(0, 0.2, 50)])  # two forward sweeps, a jump back between
    s = franka_reach(x)
    assert motion_signals(s, FRANKA, [(0, 50), (50, 100)], CFG)[1] == 0.0  # type: ignore[index]
    assert motion_signals(s, FRANKA, [(0, 100)], CFG)[1] > 0.0  # type: ignore[index]


def test_cropped_state_is_measured_whole() -> None:
    verdict = assess_quality(
        H, success=True, has_action=True, state=IDLE80[:30], mask=FRANKA, validity=CLEAN, config=CFG
    )
    tier, why = verdict.tier, verdict.reasons
    assert tier is H and why == []


def test_too_few_frames_give_no_motion_signal() -> None:
    assert motion_signals(IDLE80[:4], FRANKA, [(0, 4)], CFG) is None
    assert motion_signals(SMOOTH, np.zeros(CANONICAL_DIM, bool), [(0, N)], CFG) is None


def test_config_is_validated() -> None:
    with pytest.raises(ValueError):
        QualityConfig(max_idle_ratio=1.5)
    with pytest.raises(ValueError):
        QualityConfig(idle_speed_m_s=0)
    with pytest.raises(ValueError, match="idle_turn_deg_s"):
        QualityConfig(idle_turn_deg_s=0)


@settings(max_examples=80, deadline=None)
@given(
    default=st.sampled_from(list(QualityTier)),
    success=st.sampled_from([True, False, None]),
    has_action=st.booleans(),
    state=st.sampled_from([None, SMOOTH, IDLE80, OSCILLATING]),
    validity=st.sampled_from([None, CLEAN, report(0.3), REJECTED]),
)
def test_never_raises_and_every_change_has_a_reason(default, success, has_action, state, validity) -> None:  # type: ignore[no-untyped-def]
    order = [H, L, A, R]
    verdict = assess_quality(
        default, success=success, has_action=has_action, state=state, mask=FRANKA, validity=validity, config=CFG
    )
    tier, why = verdict.tier, verdict.reasons
    assert order.index(tier) >= order.index(default)
    assert tier is default or why
    assert len(set(why)) == len(why)
    assert has_action or tier in (A, R)


def test_one_hour_of_smooth_reaching_stays_high() -> None:
    """One hour at 10 Hz (its speed: benchmarks/episode_checks.py)."""
    n = 36_000
    t = np.arange(n) / 10.0
    s = franka_reach(0.1 * np.sin(2 * np.pi * t / 8.0))
    verdict = assess_quality(H, success=True, has_action=True, state=s, mask=FRANKA, validity=None, config=CFG)
    tier, why = verdict.tier, verdict.reasons
    assert tier is H and why == []
