"""Glitches: a signal that leaves its local trend and comes back within `glitch_max_s` (a wrist read 0.8 rad off for
0.1 s, an encoder's bad packet), in any channel of the episode (`ingest.qa.signals`).

The trend is a running median over 2L+1 frames, L = `glitch_max_s` on the grid: an excursion of up to L frames
cannot move it, a step that stays (a real move, held) passes through it unchanged, so the residual from it is the
excursion. A real motion leaves a residual too, where it turns faster than the window (a wrist's flick), so an
excursion is a glitch only when it is both

- large in physical terms: in radians (joints; rotations by the angle their column vectors turn), metres, or, for
  a column of unknown unit (a normalized finger), as a share of the range its trend covers in the episode less the
  share its command made within the tracking lag (a finger the operator flicked is commanded, not a glitch; the
  physical bounds need no such excuse: a wrist commanded through 0.8 rad and back in 0.1 s is a defect too); and
- far outside the channel's own motion: in robust sigmas of its frame-to-frame steps (1.4826 x the median step
  over the frames it moves), floored at the resolution of its unit so a channel resting on one encoder tick does
  not make every tick a thousand sigmas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

from ingest.qa.signals import Channel, Unit
from schemas.behaviour import BehaviourConfig
from schemas.canonical import CANONICAL_FPS

# Below these a step is resolution, not motion: a 12-bit encoder's tick is 1.5e-3 rad; positions are stored to
# 0.1 mm or better; a column of unknown unit is read to a thousandth of its range.
RESOLUTION: dict[str, float] = {"rad": 1e-3, "m": 1e-4, "span": 1e-3}


@dataclass(frozen=True)
class Glitch:
    """The largest excursion of one channel."""

    signal: str
    value: float  # in `unit`; for "span" a share of the channel's trend range
    unit: Unit
    sigma: float  # robust sigmas of the channel's steps
    frame: int  # the grid frame farthest from the trend
    seconds: float  # how long the excursion stays above half its peak

    def score(self, config: BehaviourConfig) -> float:
        """min(value / its unit's bound, sigma / glitch_sigma_low): > 1 when both are crossed."""
        return min(self.value / config.glitch_bound(self.unit), self.sigma / config.glitch_sigma_low)


def window(config: BehaviourConfig) -> int:
    """L: the longest excursion in frames (at least one)."""
    return max(1, round(config.glitch_max_s * CANONICAL_FPS))


def trend(values: np.ndarray, half: int) -> np.ndarray:
    """Running median of each column over 2 * half + 1 frames (the end values repeated past the ends)."""
    return median_filter(np.asarray(values, np.float64), size=(2 * half + 1, 1), mode="nearest")


def amplitude(diff: np.ndarray, rotation: bool) -> np.ndarray:
    """(N,) size of each row of a difference: |d| of a scalar; for rot6d the larger angle one of its two column
    vectors turns (a chord c of a unit vector is the angle 2 asin(c / 2))."""
    d = np.asarray(diff, np.float64)
    if not rotation:
        return np.abs(d[:, 0])
    chords = np.stack([np.linalg.norm(d[:, :3], axis=1), np.linalg.norm(d[:, 3:], axis=1)], axis=1)
    return (2 * np.arcsin(np.clip(chords / 2, 0.0, 1.0))).max(axis=1)


def step_sigma(values: np.ndarray, rotation: bool, floor: float) -> float:
    """1.4826 x the median step above `floor` (an idle stretch would shrink it to nothing), at least `floor`."""
    steps = amplitude(np.diff(values, axis=0), rotation)
    moving = steps[steps > floor]
    return max(1.4826 * float(np.median(moving)) if len(moving) else 0.0, floor)


def channel_glitch(ch: Channel, config: BehaviourConfig) -> Glitch | None:
    """The channel's largest excursion; None when it is too short to have a trend or not finite (NaN/Inf are
    counted and routed by their own check)."""
    v = ch.values
    half = window(config)
    if len(v) < 2 * half + 2 or not np.isfinite(v).all():
        return None
    base = trend(v, half)
    out = amplitude(v - base, ch.rotation)
    t = int(out.argmax())
    peak = float(out[t])
    if ch.unit == "span":
        span = float(np.ptp(base[:, 0]))
        value = _share(peak, span) - _commanded(ch.command, t, half, round(config.tracking_max_lag_s * CANONICAL_FPS))
        floor = RESOLUTION["span"] * (span if span > 0 else peak) or 1.0  # a flat trend: its own excursion's
    else:
        value, floor = peak, RESOLUTION[ch.unit]
    sigma = peak / step_sigma(v, ch.rotation, floor)
    above = out > peak / 2
    a = b = t
    while a > 0 and above[a - 1]:
        a -= 1
    while b + 1 < len(out) and above[b + 1]:
        b += 1
    return Glitch(ch.name, max(float(value), 0.0), ch.unit, float(sigma), t, (b - a + 1) / CANONICAL_FPS)


SHARE_CAP = 1e3  # a share of a trend that does not move at all (a resting column's one excursion): finite, for JSON


def _share(peak: float, span: float) -> float:
    return min(peak / span, SHARE_CAP) if span > 0 else (SHARE_CAP if peak > 0 else 0.0)


def _commanded(command: np.ndarray | None, frame: int, half: int, lag: int) -> float:
    """The command's own largest excursion within `lag` frames of `frame`, as a share of its trend's range: the part
    of a state's excursion the command made (0 without a command)."""
    if command is None or not np.isfinite(command).all():
        return 0.0
    base = trend(command[:, None], half)[:, 0]
    lo, hi = max(0, frame - lag), frame + lag + 1
    return _share(float(np.abs(command - base)[lo:hi].max()), float(np.ptp(base)))


def worst_glitch(channels: list[Channel], config: BehaviourConfig) -> Glitch | None:
    """The episode's glitch: the measured channel with the highest `Glitch.score`; None when none is measured."""
    found = [g for g in (channel_glitch(ch, config) for ch in channels) if g is not None]
    return max(found, key=lambda g: g.score(config), default=None)
