"""Per-dim limits and units of a stream (`DimLimits`), what canonicalization's idle cut and the behaviour checks
measure motion against (issue 77: here, so canonicalization imports nothing of QA), and those of the canonical
hand-centric state (`canonical_limits`, `schemas.canonical`), so the checks run on canonical episodes as on natives.

Per hand: wrist xyz in metres within the embodiment's validity workspace (a 5 m cube when it has none: jumps are then
judged in m/s and sigmas, not by the range), the 6D rotation's entries in [-1, 1], the gripper opening in [0, 1] and the
fingertips in the wrist frame in metres (within 0.3 m of the wrist), both rest dims (a gripper and a hand rest open
or closed at a range end). Dims outside the embodiment's mask get a zero range: not in use, never dead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from schemas.canonical import DIMS_PER_HAND, FINGERTIPS_XYZ, GRIPPER, HANDS, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.canonicalize import Workspace

Unit = Literal["rad", "m", "other"]


@dataclass(frozen=True)
class DimLimits:
    """Per-dim limits and units of one stream."""

    lower: np.ndarray  # (D,)
    upper: np.ndarray  # (D,)
    units: tuple[Unit, ...]
    rest: np.ndarray | None = None  # (D,) bool: grippers and fingers, whose normal state is resting at a range end

    @classmethod
    def observed(
        cls, values: np.ndarray, units: tuple[Unit, ...] | None = None, rest: np.ndarray | None = None
    ) -> DimLimits:
        """Limits from observed values, e.g. a dataset's stats min/max over every episode (NaN ignored)."""
        v = np.asarray(values, np.float64)
        with np.errstate(invalid="ignore"):
            lo, hi = np.nanmin(v, axis=0), np.nanmax(v, axis=0)
        return cls(lo, hi, units or ("other",) * v.shape[1], rest)

    @property
    def resting(self) -> np.ndarray:
        return np.zeros(len(self.lower), bool) if self.rest is None else np.asarray(self.rest, bool)

    @property
    def span(self) -> np.ndarray:
        """upper - lower; 0 for a dim that never moves in the dataset, inf for an unbounded one."""
        return self.upper - self.lower


def in_use(limits: DimLimits) -> np.ndarray:
    """The dims that move within finite limits, or have unbounded ones (continuous joints)."""
    return np.isfinite(limits.lower) & np.isfinite(limits.upper) & (limits.span > 0) | ~np.isfinite(limits.span)


def finite_span(limits: DimLimits) -> np.ndarray:
    """Spans with unbounded dims (continuous joints) given a turn, 2 pi."""
    return np.where(np.isfinite(limits.span), limits.span, 2 * np.pi)


UNSET_WORKSPACE = Workspace(low=(-5.0, -5.0, -5.0), high=(5.0, 5.0, 5.0))
FINGERTIP_REACH_M = 0.3  # a fingertip lies within this of its wrist in the wrist frame (human hands ~0.2 m)


def canonical_limits(mask: np.ndarray, workspace: Workspace | None = None) -> DimLimits:
    """Limits of the (len(HANDS) * DIMS_PER_HAND,) canonical state under an embodiment's mask."""
    ws = workspace or UNSET_WORKSPACE
    n = len(HANDS) * DIMS_PER_HAND
    lower, upper = np.zeros(n), np.zeros(n)
    units: list[Unit] = ["other"] * n
    rest = np.zeros(n, bool)
    for h in range(len(HANDS)):
        pos, rot, grip, tips = (hand_dims(h, p) for p in (WRIST_POS, WRIST_ROT6D, GRIPPER, FINGERTIPS_XYZ))
        lower[pos], upper[pos] = ws.low, ws.high
        lower[rot], upper[rot] = -1.0, 1.0
        lower[grip], upper[grip] = 0.0, 1.0
        lower[tips], upper[tips] = -FINGERTIP_REACH_M, FINGERTIP_REACH_M
        for part in (pos, tips):
            units[part] = ["m"] * (part.stop - part.start)
        rest[grip] = rest[tips] = rest[rot] = True  # an axis-aligned wrist holds rot6d entries at +-1 or 0
    used = np.asarray(mask, bool)
    lower, upper = np.where(used, lower, 0.0), np.where(used, upper, 0.0)
    return DimLimits(lower, upper, tuple(units), rest)
