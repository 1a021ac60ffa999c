"""Which member of a robot family an episode was recorded on, told from the recording (issue 65): a source may name
only the family (`schemas/robots/embodiments.yaml` `families`: Leju's KUAVO 4 Pro, made with long or short arms, whose
recordings and LeRobot exports say `kuavo4pro` for both). Where the episode holds both the joints and a recorded
end-effector pose (a TF chain or pose topic its adapter declared as the hands), FK of each member's description is
fitted to the recorded poses (`eef_agreement.compare`: the constant base and tool transforms fitted, the residuals
left): the member whose p95 residuals are within the agreement tolerances, and the only one, is the robot, and the
tier reasons give every member's residuals. Otherwise (no recorded pose, joints that do not reach FK, no member or
several that fit) the episode keeps its natives (`unknown`), and the reason names the family, the residuals where
measured, and the `embodiment` option that names the member."""

from __future__ import annotations

from dataclasses import replace

from adapters.base import HandSignals, RawEpisode
from ingest.canonical.eef_agreement import POS_TOL_M, ROT_TOL_DEG, SIDES, compare
from ingest.canonical.hand_state import wrist_poses
from ingest.canonical.joint_columns import JointSpaceError
from ingest.canonical.joint_space import joint_space_signals
from schemas.robots.registry import FAMILIES, UNKNOWN_EMBODIMENT, EmbodimentRegistry


def resolve_family(raw: RawEpisode, registry: EmbodimentRegistry) -> tuple[RawEpisode, tuple[str, ...]]:
    """(`raw` as an episode of the member its recording shows, or of `unknown`; the reasons) where `raw.embodiment`
    names a family; `raw` unchanged and no reason otherwise."""
    family = FAMILIES.get(raw.embodiment)
    if family is None:
        return raw, ()
    option = " or ".join(f"`embodiment: {m}`" for m in family.members)
    head = f"robot family {raw.embodiment} ({family.why})"
    wrists = {h: w for h, t in raw.hands.hands.items() if (w := wrist_poses(t)) is not None and len(w) >= 2}
    if not wrists:
        why = "the recording names no member and holds no recorded end-effector pose to fit the members' FK to"
        return _unknown(raw, f"{head}: {why}: natives only; set {option}")
    fits: dict[str, tuple[float, float]] = {}
    for member in family.members:
        try:
            fk = joint_space_signals(replace(raw, hands=HandSignals()), registry.get(member).joint_space).signals
        except JointSpaceError as err:
            return _unknown(raw, f"{head}: the joints do not reach FK ({err}): natives only; set {option}")
        worst = (0.0, 0.0)
        for hand, recorded in wrists.items():
            track = fk.hands.get(hand)
            by_fk = wrist_poses(track) if track is not None else None
            if by_fk is None:
                return _unknown(raw, f"{head}: no FK {SIDES[hand]} wrist of {member}: natives only; set {option}")
            _, r95, _, p95 = compare(recorded, by_fk)
            worst = (max(worst[0], r95), max(worst[1], p95))
        fits[member] = worst
    said = "; ".join(f"{m}: p95 rotation {r:.2f} deg, position {p * 1000:.1f} mm" for m, (r, p) in fits.items())
    fitting = [m for m, (r, p) in fits.items() if r <= ROT_TOL_DEG and p <= POS_TOL_M]
    tolerance = f"tolerance {ROT_TOL_DEG:g} deg, {POS_TOL_M * 1000:g} mm"
    if len(fitting) != 1:
        which = "no member" if not fitting else f"{' and '.join(fitting)} alike"
        why = f"FK against the recorded end-effector poses fits {which} ({said}; {tolerance})"
        return _unknown(raw, f"{head}: {why}: natives only; set {option}")
    (member,) = fitting
    note = f"{head}: {member}, by FK against the recorded end-effector poses ({said}; {tolerance})"
    return replace(raw, embodiment=member), (note,)


def _unknown(raw: RawEpisode, reason: str) -> tuple[RawEpisode, tuple[str, ...]]:
    return replace(raw, embodiment=UNKNOWN_EMBODIMENT, hands=HandSignals()), (reason,)
