"""Every signal of one canonical episode as channels the glitch and plateau checks measure alike.

A channel is one scalar column, or one rotation given as two unit column vectors (rot6d), on the grid, with the unit
its excursions are judged in:

- `rad`: joint angles (degrees converted; a stream the adapter calls `rad` unwrapped, so an angle crossing +-pi is not
  an excursion) and rotations, whose excursion is the angle its column vectors turn (quaternions and 4x4 poses become
  rot6d: q and -q, one rotation, stay one);
- `m`: positions (`mm` converted);
- `span`: any other column (a normalized finger, a gripper): a share of the range the column covers.

Canonical: the used wrist position and rotation of each hand (fingertips and grippers are the natives' hand joints,
which rest and snap at range ends). Natives: each state column an action column commands or whose unit the source
gives; signals with neither (reward, done, labels, a force log, a camera's clock) are not positions of anything and are
left out, as is every discrete column (a gripper switch toggles, it does not glitch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ingest.episode import CanonicalEpisode
from ingest.frames import matrix_to_rot6d, quat_to_matrix
from schemas.canonical import HANDS, STATE, WRIST_POS, WRIST_ROT6D, hand_dims

Unit = Literal["rad", "m", "span"]

# Stream units (`adapters.base.Stream.unit`) as a channel's unit and the factor into it.
_SCALAR_UNITS: dict[str, tuple[Unit, float]] = {
    "rad": ("rad", 1.0),
    "joint_rad": ("rad", 1.0),
    "deg": ("rad", np.pi / 180),
    "m": ("m", 1.0),
    "mm": ("m", 1e-3),
}
_SPANS = ("0..1", "-1..1")  # an opening or a position scaled by the source: judged as a share of its range
_ROTATIONS = {"quat_xyzw": 4, "se3_4x4": 16, "rot6d": 6}  # columns per rotation


@dataclass(frozen=True)
class Channel:
    """One signal of an episode on the grid."""

    name: str  # a native column (`observation.state.kRightWristRoll`), a canonical part (`...right.wrist.rot6d`)
    values: np.ndarray  # (N, 1) in `unit`, or (N, 6) a rotation as rot6d
    unit: Unit
    command: np.ndarray | None = None  # (N,) the paired action column, times the state's factor into `unit`
    limits: tuple[float, float] | None = None  # the description's joint limits, in `unit`

    @property
    def rotation(self) -> bool:
        return self.values.shape[1] == 6


def canonical_channels(ep: CanonicalEpisode) -> list[Channel]:
    """Each present hand's wrist position (three `m` channels) and rotation (one rot6d channel)."""
    state = np.asarray(ep.state, np.float64)
    out = []
    for h, hand in enumerate(HANDS):
        pos, rot = hand_dims(h, WRIST_POS), hand_dims(h, WRIST_ROT6D)
        if ep.mask[pos].all():
            dims = range(pos.start, pos.stop)
            out += [Channel(f"{STATE}.{hand}.wrist.{a}", state[:, [d]], "m") for a, d in zip("xyz", dims, strict=True)]
        if ep.mask[rot].all():
            out.append(Channel(f"{STATE}.{hand}.wrist.rot6d", state[:, rot], "rad"))
    return out


def native_channels(ep: CanonicalEpisode, pairs: tuple[list[int], list[int]]) -> list[Channel]:
    """The native state columns that are positions (see the module doc), as channels; `pairs`: (state columns,
    action columns) an action commands."""
    s = ep.natives.state
    if s is None or not len(s):
        return []
    v = np.asarray(s, np.float64)
    units = list(ep.natives.state_units) or [""] * v.shape[1]
    names = ep.natives.state_names
    command = dict(zip(*pairs, strict=True))
    a = None if ep.natives.action is None else np.asarray(ep.natives.action, np.float64)
    limits = ep.native_limits
    discrete = ep.natives.discrete  # `natives.native_kinds`: switches, labels, sampled at a row
    joint_unit = ep.joint_units.unit if ep.joint_units is not None else ""
    out: list[Channel] = []
    k = 0
    while k < v.shape[1]:
        unit = units[k]
        width = _ROTATIONS.get(unit, 1)
        if width > 1:  # a rotation: as many columns as it takes, while the unit lasts
            cols = v[:, k : k + width]
            if cols.shape[1] == width and all(u == unit for u in units[k : k + width]):
                last = names[k + width - 1].rsplit(".", 1)[-1]
                out.append(Channel(f"{names[k]}..{last}", _rot6d(cols, unit), "rad"))  # end.orientation.4..7
                k += width
                continue
            k += 1
            continue
        name, x = names[k], v[:, k]
        if names[k] in limits:  # an arm joint of the description, in the decided unit
            unit = unit or joint_unit
        cu, factor = _SCALAR_UNITS.get(unit, ("span", 1.0))
        if (k in command or unit in _SCALAR_UNITS or unit in _SPANS) and name not in discrete:
            x = np.unwrap(x) if cu == "rad" and np.isfinite(x).all() else x
            lim = limits.get(name)
            out.append(
                Channel(
                    name,
                    (x * factor)[:, None],
                    cu,
                    None if a is None or k not in command else a[:, command[k]] * factor,
                    None if lim is None else (lim[0] * factor, lim[1] * factor),
                )
            )
        k += 1
    return out


def _rot6d(cols: np.ndarray, unit: str) -> np.ndarray:
    """(N, w) rotation columns in `unit` -> (N, 6) rot6d (NaN rows where a quaternion is zero or not finite)."""
    if unit == "rot6d":
        return cols
    if unit == "quat_xyzw":
        return matrix_to_rot6d(quat_to_matrix(cols))
    return matrix_to_rot6d(cols.reshape(-1, 4, 4)[:, :3, :3])  # se3_4x4, row-major as flattened
