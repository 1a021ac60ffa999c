"""Which member of a robot family an episode was recorded on, told from the recording (issue 65): a source may name
only the family (`schemas/robots/embodiments.yaml` `families`: Leju's KUAVO 4 Pro, made with long or short arms, whose
recordings and LeRobot exports say `kuavo4pro` for both). Two kinds of evidence, both the recording's own:

- the joint limits: each member's description bounds its joints (the long arm's elbow reaches -2.618 rad where the
  short one's stops at -1.571; the short arm's wrist turns +-1.571 where the long one's stops at +-0.698); a recorded
  value past a member's limit by more than LIMIT_MARGIN of the joint's range rules that member out;
- where the episode also holds a recorded end-effector pose (a TF chain or pose topic its adapter declared as the
  hands), FK of each member is fitted to it (`eef_agreement.compare`: the constant base and tool transforms fitted,
  the residuals left): a member whose p95 residuals exceed the agreement tolerances is ruled out.

The one member left is the robot, and the tier reasons say why, with every member's figures. Otherwise (no evidence
either way, joints that do not reach FK, no member or several left) the episode keeps its natives (`unknown`), and
the reason names the family, what was measured and the `embodiment` option that names the member."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from adapters.base import HandSignals, RawEpisode
from ingest.canonical.eef_agreement import POS_TOL_M, ROT_TOL_DEG, compare
from ingest.canonical.hand_state import wrist_poses
from ingest.canonical.joint_columns import JointSpaceError, NativeLimits
from ingest.canonical.joint_space import EvaluatedHands, joint_space_signals
from schemas.robots.registry import FAMILIES, UNKNOWN_EMBODIMENT, EmbodimentRegistry

LIMIT_MARGIN = 0.02  # of a joint's range: a recorded value this far past a limit is no reading noise


def resolve_family(raw: RawEpisode, registry: EmbodimentRegistry) -> tuple[RawEpisode, tuple[str, ...]]:
    """(`raw` as an episode of the member its recording shows, or of `unknown`; the reasons) where `raw.embodiment`
    names a family; `raw` unchanged and no reason otherwise."""
    family = FAMILIES.get(raw.embodiment)
    if family is None:
        return raw, ()
    option = " or ".join(f"`embodiment: {m}`" for m in family.members)
    head = f"robot family {raw.embodiment} ({family.why})"
    bare = replace(raw, hands=HandSignals())
    evaluated: dict[str, EvaluatedHands] = {}
    for member in family.members:
        try:
            evaluated[member] = joint_space_signals(bare, registry.get(member).joint_space)
        except JointSpaceError as err:
            return _unknown(raw, f"{head}: the joints do not reach FK ({err}): natives only; set {option}")
    said, out = [], set()
    for member, ev in evaluated.items():
        past = _past_limits(raw, ev.native_limits)
        said.append(f"{member}: {past[0]}" if past else f"{member}: every joint within its limits")
        out |= {member} if past else set()
    wrists = {h: w for h, t in raw.hands.hands.items() if (w := wrist_poses(t)) is not None and len(w) >= 2}
    if wrists:
        for member, ev in evaluated.items():
            fit = _fit(wrists, ev)
            if fit is None:
                return _unknown(raw, f"{head}: no FK wrist of {member} on a recorded side: natives only; set {option}")
            r95, p95 = fit
            said.append(f"{member}: FK vs the recorded end-effector poses p95 {r95:.2f} deg, {p95 * 1000:.1f} mm")
            out |= {member} if r95 > ROT_TOL_DEG or p95 > POS_TOL_M else set()
    left = [m for m in family.members if m not in out]
    figures = "; ".join(said) + (f" (fit tolerance {ROT_TOL_DEG:g} deg, {POS_TOL_M * 1000:g} mm)" if wrists else "")
    if len(left) != 1:
        why = "rules out every member" if not left else f"rules out neither {' nor '.join(left)}"
        if left and not wrists:
            why += " and holds no recorded end-effector pose to fit FK to"
        return _unknown(raw, f"{head}: the recording {why} ({figures}): natives only; set {option}")
    return replace(raw, embodiment=left[0]), (f"{head}: {left[0]}, by the recording ({figures})",)


def _past_limits(raw: RawEpisode, limits: NativeLimits) -> list[str]:
    """The recorded joint columns past `limits` (native column -> (lower, upper)) by more than the margin, said."""
    out = []
    for column, (lo, hi) in limits.items():
        key = next((k for k in raw.states if column.startswith(k + ".")), None)
        if key is None:
            continue
        stream, name = raw.states[key], column[len(key) + 1 :]
        names = list(stream.names or ())
        at = names.index(name) if name in names else int(name) if name.isdigit() else None
        if at is None:
            continue
        v = np.asarray(stream.values, dtype=np.float64).reshape(len(stream), -1)[:, at]
        margin = LIMIT_MARGIN * (hi - lo)
        if np.nanmin(v) < lo - margin or np.nanmax(v) > hi + margin:
            out.append(
                f"{name} recorded {np.nanmin(v):.3f} .. {np.nanmax(v):.3f}, past its limits {lo:.3f} .. {hi:.3f}"
            )
    return out


def _fit(wrists: dict, ev: EvaluatedHands) -> tuple[float, float] | None:
    """(worst p95 rotation residual in degrees, worst p95 position residual in metres) over the recorded sides of
    FK's wrists against the recorded ones; None when FK gives no wrist on a recorded side."""
    worst = (0.0, 0.0)
    for hand, recorded in wrists.items():
        track = ev.signals.hands.get(hand)
        by_fk = wrist_poses(track) if track is not None else None
        if by_fk is None:
            return None
        _, r95, _, p95 = compare(recorded, by_fk)
        worst = (max(worst[0], r95), max(worst[1], p95))
    return worst


def _unknown(raw: RawEpisode, reason: str) -> tuple[RawEpisode, tuple[str, ...]]:
    return replace(raw, embodiment=UNKNOWN_EMBODIMENT, hands=HandSignals()), (reason,)
