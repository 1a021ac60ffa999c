"""The tier is computed, never assigned: `schemas.tiers.tier_of` (a default lowered by verdicts) is the one place a
tier is decided. Outside `schemas/tiers.py` no shipped code assigns an attribute or key named `tier` or
`tier_reasons`, folds or calls `demote`, or orders tiers by hand (`key=list(QualityTier).index`); a canonical
episode's `tier` and `tier_reasons` are read-only properties of its verdicts."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from ingest.episode import CanonicalEpisode
from schemas.tiers import QualityTier, TierVerdict, reasons_of, tier_of
from tests.fixtures.episodes import whole_evidence

REPO = Path(__file__).resolve().parents[1]
LAYERS = ("schemas", "adapters", "ingest", "training", "jobs")
HOME = Path("schemas/tiers.py")
NAMES = {"tier", "tier_reasons"}


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Attribute):
        return [target.attr]
    if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
        return [str(target.slice.value)]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for t in target.elts for n in _target_names(t)]
    return []


def tier_writers(source: str, where: str) -> list[str]:
    """`where:line what` for each assignment to a tier, each use of `demote` and each hand-made tier order."""
    out = []
    for node in ast.walk(ast.parse(source)):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        out += [f"{where}:{node.lineno} assigns {n}" for t in targets for n in _target_names(t) if n in NAMES]
        if isinstance(node, ast.Name) and node.id == "demote":
            out.append(f"{where}:{node.lineno} uses demote")
        if isinstance(node, ast.keyword) and node.arg == "key" and "QualityTier" in ast.unparse(node.value):
            out.append(f"{where}:{node.lineno} orders tiers by hand")
    return out


def test_no_code_outside_tier_of_writes_a_tier() -> None:
    hits = [
        hit
        for layer in LAYERS
        for path in sorted((REPO / layer).rglob("*.py"))
        if path.relative_to(REPO) != HOME
        for hit in tier_writers(path.read_text(), str(path.relative_to(REPO)))
    ]
    assert not hits, "a tier decided outside schemas.tiers.tier_of (append a TierVerdict instead):\n" + "\n".join(hits)


@pytest.mark.parametrize(
    "source",
    [
        "ep.tier = QualityTier.low",
        "ep.tier, ep.tier_reasons = v.tier, []",
        "ep.tier_reasons += ['x']",
        "out['tier'] = 'low'",
        "t = reduce(demote, found, base)",
        "t = max(a, b, key=list(QualityTier).index)",
    ],
)
def test_the_rule_finds_each_kind_of_tier_writer(source: str) -> None:
    assert tier_writers(source, "m.py")


def test_verdicts_lower_never_raise_and_an_overruled_code_is_skipped() -> None:
    low = TierVerdict(tier=QualityTier.low, reason="idle ratio 0.9 > 0.5", code="quality")
    gone = TierVerdict(tier=QualityTier.rejected, reason="copy of x", code="qa_copy")
    note = TierVerdict.note("cut at gaps")
    assert tier_of(QualityTier.high, [note]) == QualityTier.high
    assert tier_of(QualityTier.high, [note, low, gone]) == QualityTier.rejected
    assert tier_of(QualityTier.actionless, [low]) == QualityTier.actionless  # never raised
    assert tier_of(QualityTier.high, [low, gone], overrule=["qa_copy"]) == QualityTier.low
    assert reasons_of([note, low]) == ["cut at gaps", "idle ratio 0.9 > 0.5"]


def test_a_canonical_episodes_tier_cannot_be_assigned() -> None:
    n = 2
    ep = CanonicalEpisode(
        uid="s/x/e",
        source="s",
        subset="x",
        raw_id="e",
        raw_path="",
        embodiment="franka",
        mask=np.zeros(50, bool),
        timestamps=np.arange(n) / 10,
        state=np.zeros((n, 50), np.float32),
        action=np.zeros((n, 50), np.float32),
        keypoints=np.zeros((n, 2, 21, 3), np.float32),
        interpolated=np.zeros(n, bool),
        cameras={},
        task="",
        verdicts=(TierVerdict(tier=QualityTier.low, reason="failed episode (success=False)"),),
        native_fps=10.0,
        success=False,
        evidence=whole_evidence(n),
        hand_valid=np.zeros((n, 2), bool),
    )
    assert ep.tier == QualityTier.low and ep.tier_reasons == ["failed episode (success=False)"]
    with pytest.raises(AttributeError):
        ep.tier = QualityTier.high  # type: ignore[misc]
