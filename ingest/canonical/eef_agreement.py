"""A recorded end-effector pose checked against forward kinematics of the same episode's joints, where the episode
holds both: its adapter declared the wrists (a recorded pose: RoboCOIN's unified end effector, a TF chain, an EEF
column) and its embodiment has a joint-space description (`schemas/robots/joint_space.yaml` or a job spec's
`robots:`) whose joints the episode records. The recorded pose stays the canonical one; the check says whether the two
tell the same motion.

Both are poses of the hand over the same rows, but each in its own frame: the recorder's base (RoboCOIN: x forward,
y left, z up at the base) against the description's canonical base (a constant transform A on the left), the
recorder's point on the hand (a site, a TCP) against the canonical wrist (a constant transform B on the right):
recorded = A·fk·B. Both are fitted, then what is left is the disagreement:
- B's rotation from the turns: each pose's rotation since the first row, as a rotation vector, is B's rotation of the
  FK one (Bᵀ·(F0ᵀ·Fi)·B), so the two sets of vectors are aligned (Kabsch, scipy `Rotation.align_vectors`); A's
  rotation is then the mean of recorded·Bᵀ·fkᵀ over the rows;
- B's offset and A's translation by least squares from the positions (recorded = R_A·(p_fk + R_fk·o) + t);
- the residuals per row: the angle between the recorded rotation and A·fk·B's, the distance between the positions.
Verdict, in the tier reasons (a note: the episode is neither demoted nor dropped): `agree` when the p95 rotation
residual is within ROT_TOL_DEG and the p95 position residual within POS_TOL_M, else `disagree` with both figures
and what to look at (the joint mapping, units, the description, which body the recorded pose is on); the figures go
with the note by name (`schemas.pose_agreement`), where the ingest summary counts the disagreements. A hand that
barely turns leaves B's rotation unsettled (the fit takes the least-norm one): the residuals still say whether the
motions agree.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.base import HandSignals, RawEpisode, Stream
from ingest.canonical import resample as rs
from ingest.canonical.hand_state import wrist_poses
from ingest.canonical.joint_columns import JointSpaceError
from ingest.canonical.joint_space import joint_space_signals
from schemas.pose_agreement import FK_AGREEMENT, PoseAgreement
from schemas.robots.registry import Embodiment
from schemas.tiers import TierVerdict

ROT_TOL_DEG = 3.0  # p95 rotation residual after the fit
POS_TOL_M = 0.01  # p95 position residual after the fit
SIDES = {0: "left", 1: "right"}


def fit_residuals(recorded: np.ndarray, fk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T,) rotation residuals in degrees and (T,) position residuals in metres of recorded (T,4,4) poses against
    FK ones (T,4,4) after the constant transforms A, B that best make recorded = A·fk·B."""
    R_rec, R_fk = recorded[:, :3, :3], fk[:, :3, :3]
    turn_rec = Rotation.from_matrix(np.swapaxes(R_rec[:1], 1, 2) @ R_rec).as_rotvec()
    turn_fk = Rotation.from_matrix(np.swapaxes(R_fk[:1], 1, 2) @ R_fk).as_rotvec()
    R_B = np.eye(3)
    if np.linalg.norm(turn_rec, axis=1).max() > 1e-6 and np.linalg.norm(turn_fk, axis=1).max() > 1e-6:
        bt, _ = Rotation.align_vectors(turn_rec, turn_fk)  # turn_rec ~ Bᵀ turn_fk
        R_B = bt.as_matrix().T
    R_A = Rotation.from_matrix(R_rec @ R_B.T @ np.swapaxes(R_fk, 1, 2)).mean().as_matrix()
    fitted = R_A @ R_fk @ R_B
    rot = np.degrees(Rotation.from_matrix(np.swapaxes(fitted, 1, 2) @ R_rec).magnitude())
    n = len(recorded)
    lhs = np.concatenate([R_A @ R_fk, np.broadcast_to(np.eye(3), (n, 3, 3))], axis=2).reshape(3 * n, 6)
    rhs = (recorded[:, :3, 3] - fk[:, :3, 3] @ R_A.T).reshape(3 * n)
    x, *_ = np.linalg.lstsq(lhs, rhs, rcond=None)  # B's offset o (in the FK wrist frame), A's translation t
    pos = np.linalg.norm((lhs @ x - rhs).reshape(n, 3), axis=1)
    return rot, pos


def compare(recorded: Stream, fk: Stream) -> tuple[float, float, float, float]:
    """(p50, p95 rotation residual in degrees, p50, p95 position residual in metres) of two (T,4,4) pose streams, the
    FK one taken at the recorded one's timestamps (`fit_residuals`)."""
    rec = recorded.values.astype(np.float64)
    same = len(fk) == len(recorded) and np.allclose(fk.timestamps, recorded.timestamps, atol=1e-6)
    at = fk.values.astype(np.float64) if same else rs.resample_poses(fk.timestamps, fk.values, recorded.timestamps)
    rot, pos = fit_residuals(rec, at)
    return (*np.percentile(rot, [50, 95]).tolist(), *np.percentile(pos, [50, 95]).tolist())


def fk_agreement(raw: RawEpisode, emb: Embodiment, wrists: dict[int, Stream]) -> list[TierVerdict]:
    """Tier-reason notes (code `FK_AGREEMENT`, each comparison's figures with it) comparing the declared `wrists`
    (T,4,4) with FK of the episode's joints by `emb`'s description; none where the embodiment has no description, the
    episode declares no wrist or records none of the description's joints (an OXE Franka: its pose only)."""
    if emb.joint_space is None or not wrists or raw.hands.empty:
        return []
    head = f"recorded EEF vs FK ({emb.name}: {emb.joint_space.description})"
    try:
        fk = joint_space_signals(replace(raw, hands=HandSignals()), emb.joint_space).signals
    except JointSpaceError as err:  # joints found but not turned into angles: said; no joints of it at all: no check
        return [] if err.joint_units is None else [_unmet(f"{head}: not compared, the joints do not reach FK ({err})")]
    out = []
    for hand, recorded in sorted(wrists.items()):
        track = fk.hands.get(hand)
        by_fk = wrist_poses(track) if track is not None else None
        if by_fk is None or len(recorded) < 2:
            out.append(_unmet(f"{head}, {SIDES[hand]}: not compared (no FK wrist for this side)"))
            continue
        why = ": check the joint mapping and units, the description, and which body the pose is on"
        out.append(_verdict(f"{head}, {SIDES[hand]}", recorded, by_fk, why))
    return out


def _unmet(said: str) -> TierVerdict:
    """A pose not compared, said (no figures)."""
    return TierVerdict.note(said, FK_AGREEMENT)


def _verdict(head: str, recorded: Stream, fk: Stream, why: str = "") -> TierVerdict:
    """Whether two pose streams agree (`compare` within the tolerances): the note saying so with its figures, `why`
    added when they disagree."""
    r50, r95, p50, p95 = compare(recorded, fk)
    ok = r95 <= ROT_TOL_DEG and p95 <= POS_TOL_M
    said = (
        f"{head}: {'agree' if ok else 'disagree'}, after fitting the constant base and tool transforms, rotation "
        f"residual median {r50:.2f} deg, p95 {r95:.2f} deg (tolerance {ROT_TOL_DEG:g}), position residual median "
        f"{p50 * 1000:.1f} mm, p95 {p95 * 1000:.1f} mm (tolerance {POS_TOL_M * 1000:g}){'' if ok else why}"
    )
    found = PoseAgreement(agree=ok, rot_p50_deg=r50, rot_p95_deg=r95, pos_p50_mm=p50 * 1000, pos_p95_mm=p95 * 1000)
    return found.note(said)


def reference_agreement(references: dict[str, tuple[int, Stream]], wrists: dict[int, Stream]) -> list[TierVerdict]:
    """Tier-reason notes (code `FK_AGREEMENT`, with figures) comparing each recorded pose an adapter declared as a
    reference, not as the wrist (`HandSignals.references`: a pose naming no point of the tool, a world pose composed
    with the base's), with the wrist canonicalization built (FK of the joints): whether it tells the same motion."""
    out = []
    for label, (hand, recorded) in sorted(references.items()):
        fk = wrists.get(hand)
        head = f"recorded {label} vs the {SIDES[hand]} wrist by FK"
        if fk is None or len(recorded) < 2:
            out.append(_unmet(f"{head}: not compared (no FK wrist for this side)"))
            continue
        out.append(_verdict(head, recorded, fk))
    return out
