"""A recorded pose checked against forward kinematics of the same episode's joints (`ingest.canonical.eef_agreement`),
as its note's typed figures: the lineage keeps them (`tier_verdicts`), the catalog shows them, and the ingest summary
counts the episodes whose declared robot's FK disagrees with their own recorded pose from them, never from the
sentence (issue 97 item 4: UR5e logs declared as a UR3e disagreed by 43-58 mm, and only a note said so)."""

from __future__ import annotations

from collections.abc import Iterable

from schemas.frozen import Frozen
from schemas.tiers import QualityTier, TierVerdict

FK_AGREEMENT = "canonical_fk_agreement"  # the code of its notes (a note: the episode is neither demoted nor dropped)


class PoseAgreement(Frozen):
    """One recorded pose against FK, after the constant base and tool transforms were fitted: whether they agree
    within the tolerances, and the residuals' median and p95."""

    agree: bool
    rot_p50_deg: float
    rot_p95_deg: float
    pos_p50_mm: float
    pos_p95_mm: float

    def note(self, reason: str) -> TierVerdict:
        """The note saying it, its figures by name (`agree` 1 or 0)."""
        figures = {**self.model_dump(exclude={"agree"}), "agree": float(self.agree)}
        return TierVerdict(tier=QualityTier.high, reason=reason, code=FK_AGREEMENT, figures=figures)

    @classmethod
    def of(cls, verdict: TierVerdict) -> PoseAgreement | None:
        """The comparison a verdict records, or None: another check's, or a pose not compared (no figures)."""
        f = verdict.figures
        if verdict.code != FK_AGREEMENT or "agree" not in f:
            return None
        return cls(agree=f["agree"] > 0, **{k: f[k] for k in cls.model_fields if k != "agree"})


def compared(verdicts: Iterable[TierVerdict]) -> list[PoseAgreement]:
    """Every recorded pose an episode's verdicts compared with FK, in their order."""
    return [a for v in verdicts if (a := PoseAgreement.of(v)) is not None]
