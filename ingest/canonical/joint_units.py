"""Which unit a dataset's arm joints are in, settled by the values against the description's joint limits.

A LeRobot dataset's joint columns carry no unit. The same robot is recorded in radians (most ROS and SDK
recorders), degrees (lerobot < 0.2; lerobot >= 0.2 with `use_degrees=True`), lerobot's normalized -100..100
(`MotorNormMode.RANGE_M100_100`, the default of its `*_follower` robots) or raw encoder ticks (0..4095 on a Feetech
STS3215 / Dynamixel, what a hand-made recorder reading `Present_Position` stores). The conventions, from the maker's
code (huggingface/lerobot src/lerobot/motors/motors_bus.py @ 049856c7 `MotorsBus._normalize`):

- RANGE_M100_100 = (steps - range_min) / (range_max - range_min) * 200 - 100, steps first clamped to
  [range_min, range_max], so a recorded value never leaves -100..100; negated for drive_mode 1;
- DEGREES = (steps - mid) * 360 / (resolution - 1), mid = (range_min + range_max) / 2 (not clamped);
- ticks: `MODEL_RESOLUTION["sts3215"] = 4096` (src/lerobot/motors/feetech/tables.py @ 0558acc9), integers
  0..4095, the calibration's homing offset already applied by the motor (feetech.py @ 16777626
  `_get_half_turn_homings`: Present_Position = Actual_Position - Homing_Offset, 2047 at the calibration pose), so
  range_min / range_max are in the same steps as the recorded values.

`infer_units` reads the values under every unit (`READINGS`), counts the share of joint values (frames x joints)
inside the description's limits (with a margin of `MARGIN` of each joint's range), and decides. Per value, not per
frame: limits are copied, not trusted (the real GR00T GR1 sample holds a wrist at 1.1 rad against the MJCF's 0.61),
while a wrong unit misses by 10x to 60x on most joints at once.

1. an explicit `units` option is taken as given (its fit is still measured and reported);
2. a reading fits when at least `FIT_MIN` of the values are inside and at least `DOMAIN_MIN` can be of the unit at
   all (a value beyond -100..100 is no lerobot RANGE_M100_100, a fraction no encoder step). A reading is set aside
   when a reading that turns each value into a 10x larger angle fits at least `FIT_DOMINATES` of the values: values
   that fit as radians would, read as degrees or -100..100, keep the arm within a 57th of its motion (the usual
   "larger than 2 pi is degrees" test, made per robot);
3. one reading left: chosen by evidence. Several (degrees and -100..100 have nearly the same scale): the recorder's
   default (`recorder_units` from the robot_type, else the embodiment's unit) if it is one of them, else none;
   none left: none.

FK runs only on a chosen reading that can be turned into angles (-100..100 and ticks need the arm's calibration).
The decision, with every reading's fit, goes with the episode to its lineage (`UnitDecision.record`) and reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from schemas.robots.joint_space import JointSpaceOptions, JointUnit, JointUnitsRecord, name_key

READINGS: tuple[JointUnit, ...] = ("rad", "deg", "range_m100_100", "ticks")
FIT_MIN = 0.9  # share of values inside the limits for a reading to fit
DOMAIN_MIN = 0.99  # share of values a unit's own range must hold (lerobot clamps -100..100; steps are whole)
FIT_DOMINATES = 0.5  # a 10x larger reading fitting this share rules a smaller one out
MARGIN = 0.15  # of each joint's range, outside its limits: calibrations and URDFs differ by a few degrees


class CalibrationMissing(ValueError):
    """The reading needs the motors' calibration and the dataset has none for these joints."""


def _calibrations(names: Sequence[str], opts: JointSpaceOptions, unit: str) -> list:
    calib = {name_key(k): c for k, c in (opts.calibration or {}).items()}
    missing = [n for n in names if name_key(n) not in calib]
    if missing:
        what = (
            "lerobot's RANGE_M100_100 (-100..100 of the calibrated range)"
            if unit == "range_m100_100"
            else (f"raw encoder ticks (0..{opts.resolution - 1})")
        )
        raise CalibrationMissing(
            f"joints {missing} are in {what}: give the arm's calibration file (option joint_space.calibration, "
            "lerobot's calibration/robots/<type>/<id>.json)"
            + (", or, if it was recorded with use_degrees=True, joint_space.units='deg'" if unit != "ticks" else "")
        )
    return [calib[name_key(n)] for n in names]


def to_radians(values: np.ndarray, names: Sequence[str], unit: JointUnit, opts: JointSpaceOptions) -> np.ndarray:
    """(T, J) arm joint values as a dataset records them -> radians; CalibrationMissing names what is needed."""
    if unit == "rad":
        return values
    if unit == "deg":
        return np.radians(values)
    cals = _calibrations(names, opts, unit)
    out = np.empty(values.shape, dtype=np.float64)
    per_step = 2.0 * np.pi / (opts.resolution - 1)  # as DEGREES: * 360 / max_res
    for i, c in enumerate(cals):
        mid = (c.range_min + c.range_max) / 2.0
        if unit == "ticks":
            out[:, i] = (values[:, i] - mid) * per_step  # DEGREES applies no drive mode
        else:
            v = -values[:, i] if c.drive_mode else values[:, i]
            out[:, i] = v / 100.0 * (c.range_max - c.range_min) / 2.0 * per_step  # inverse of _normalize
    return out


def ticks_percent(steps: np.ndarray, name: str, opts: JointSpaceOptions) -> np.ndarray:
    """Raw gripper steps -> RANGE_0_100 as MotorsBus._normalize computes it (clamped, 100 - x for drive_mode 1)."""
    [c] = _calibrations([name], opts, "ticks")
    pct = (np.clip(steps, c.range_min, c.range_max) - c.range_min) / (c.range_max - c.range_min) * 100.0
    return 100.0 - pct if c.drive_mode else pct


def _inside(q: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """(T, J) True where a joint value lies within its limits widened by MARGIN of the range."""
    span = np.where(np.isfinite(upper - lower), upper - lower, 0.0)
    lo = np.where(np.isfinite(lower), lower - MARGIN * span, -np.inf)
    hi = np.where(np.isfinite(upper), upper + MARGIN * span, np.inf)
    return (q >= lo) & (q <= hi)


def _domain(values: np.ndarray, unit: JointUnit, opts: JointSpaceOptions) -> np.ndarray:
    """(T, J) True where a value can be of the unit at all: lerobot clamps -100..100; ticks are whole steps."""
    if unit == "range_m100_100":
        return np.abs(values) <= 100.0 + 1e-4
    if unit == "ticks":
        whole = np.abs(values - np.round(values)) < 1e-3
        return whole & (values >= 0) & (values <= opts.resolution - 1)
    return np.ones(values.shape, dtype=bool)


def _scale(unit: JointUnit, lower: np.ndarray, upper: np.ndarray, opts: JointSpaceOptions) -> float:
    """About how many radians one recorded unit is (for the 10x rule; -100..100 spans the joint's range)."""
    if unit == "rad":
        return 1.0
    if unit == "deg":
        return float(np.pi / 180.0)
    if unit == "ticks":
        return 2.0 * np.pi / opts.resolution
    span = (upper - lower)[np.isfinite(upper - lower)]
    return float(np.mean(span) / 200.0) if len(span) else float(np.pi / 180.0)


@dataclass
class Reading:
    unit: JointUnit
    fit: float  # share of the joint values (frames x joints) inside the limits and the unit's domain
    convertible: bool  # the values can be turned into angles (a calibration where one is needed)
    why: str = ""  # why not convertible
    domain: float = 1.0  # share of values the unit can hold at all


@dataclass
class UnitDecision:
    unit: JointUnit | None
    basis: str  # option | evidence | recorder default | ambiguous | no reading fits
    readings: dict[str, Reading]
    frames: int
    recorder: JointUnit | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def fk(self) -> bool:
        """FK may run: one reading chosen, and it turns into angles."""
        return self.unit is not None and self.readings[self.unit].convertible

    def fits(self) -> str:
        return ", ".join(f"{u} {r.fit:.0%}" for u, r in self.readings.items())

    def summary(self) -> str:
        head = f"{self.unit} ({self.basis})" if self.unit else f"not settled ({self.basis})"
        return f"joint units: {head}; share of joint values ({self.frames} frames) inside the limits: {self.fits()}"

    def reason(self) -> str:
        """Why FK does not run (the first specific cause), with the measured fits."""
        if self.unit is None:
            return f"{self.summary()}; natives only (set joint_space.units to decide)"
        return f"{self.summary()}; {self.readings[self.unit].why}"

    def record(self) -> JointUnitsRecord:
        return JointUnitsRecord(
            unit=self.unit,
            basis=self.basis,
            frames=self.frames,
            fit={u: round(r.fit, 4) for u, r in self.readings.items()},
            recorder_default=self.recorder,
            fk=self.fk,
        )


def measure(
    values: np.ndarray,
    names: Sequence[str],
    unit: JointUnit,
    lower: np.ndarray,
    upper: np.ndarray,
    opts: JointSpaceOptions,
) -> Reading:
    """The share of joint values inside the limits when `values` (T, J) are read as `unit`."""
    ok = _domain(values, unit, opts)
    domain = float(ok.mean()) if ok.size else 0.0
    try:
        q = to_radians(values, names, unit, opts)
    except CalibrationMissing as err:
        return Reading(unit, domain, False, str(err), domain)
    ok &= _inside(q, lower, upper)
    return Reading(unit, float(ok.mean()) if ok.size else 0.0, True, domain=domain)


def infer_units(
    values: np.ndarray,
    names: Sequence[str],
    lower: np.ndarray,
    upper: np.ndarray,
    opts: JointSpaceOptions,
    default: JointUnit | None,
) -> UnitDecision:
    """The reading of (T, J) arm joint values `names` with URDF limits `lower`/`upper` (see the module docstring).
    `default`: the embodiment's usual unit, used when the dataset's recorder names none (`recorder_units`)."""
    readings = {u: measure(values, names, u, lower, upper, opts) for u in READINGS}
    recorder = opts.recorder_units or default
    n = len(values)
    if opts.units is not None:
        d = UnitDecision(opts.units, "option", readings, n, recorder)
        if readings[opts.units].fit < FIT_MIN:
            d.notes.append(f"joint_space.units={opts.units!r} fits only {readings[opts.units].fit:.0%} of values")
        return d
    scale = {u: _scale(u, lower, upper, opts) for u in READINGS}
    fitting = [u for u in READINGS if readings[u].fit >= FIT_MIN and readings[u].domain >= DOMAIN_MIN]
    left = [
        u for u in fitting if not any(scale[b] >= 10 * scale[u] and readings[b].fit >= FIT_DOMINATES for b in READINGS)
    ]
    if len(left) == 1:
        return UnitDecision(left[0], "evidence", readings, n, recorder)
    if len(left) > 1 and recorder in left:
        others = ", ".join(u for u in left if u != recorder)
        return UnitDecision(recorder, f"recorder default; {others} fit as well", readings, n, recorder)
    if left:
        return UnitDecision(None, f"ambiguous: {', '.join(left)} fit equally", readings, n, recorder)
    if fitting:  # only small readings fit, and a 10x larger one fits half the frames: no reading is clear
        return UnitDecision(None, "ambiguous: no reading fits clearly", readings, n, recorder)
    return UnitDecision(None, f"no reading fits {FIT_MIN:.0%} of values", readings, n, recorder)
