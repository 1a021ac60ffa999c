"""Quality tiers, LDA's four tasks, what each task noises, and the tier -> task routing table (DESIGN.md section 4)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.frozen import Frozen


class QualityTier(StrEnum):
    high = "high"
    low = "low"
    actionless = "actionless"
    rejected = "rejected"  # never written: quarantined with reasons


class Task(StrEnum):
    policy = "policy"
    forward_dynamics = "forward_dynamics"
    inverse_dynamics = "inverse_dynamics"
    visual_forecasting = "visual_forecasting"


# The task embedding index the model uses; fixed so checkpoints stay comparable.
TASK_IDS: dict[Task, int] = {t: i for i, t in enumerate(Task)}

Role = Literal["noised", "clean", "absent"]


class TaskSpec(BaseModel):
    """Per task: the role of the action chunk and of the future DINO latents, and which loss trains it."""

    model_config = ConfigDict(frozen=True)

    action: Role
    future_latents: Role
    loss: Literal["action", "obs"]


TASK_SPECS: dict[Task, TaskSpec] = {
    Task.policy: TaskSpec(action="noised", future_latents="absent", loss="action"),
    Task.forward_dynamics: TaskSpec(action="clean", future_latents="noised", loss="obs"),
    Task.inverse_dynamics: TaskSpec(action="noised", future_latents="clean", loss="action"),
    Task.visual_forecasting: TaskSpec(action="absent", future_latents="noised", loss="obs"),
}

# Which tasks a tier may train: the tier's supervision signal decides, not the loader a sample came from.
ALLOWED_TASKS: dict[QualityTier, frozenset[Task]] = {
    QualityTier.high: frozenset(Task),
    QualityTier.low: frozenset({Task.forward_dynamics, Task.inverse_dynamics, Task.visual_forecasting}),
    QualityTier.actionless: frozenset({Task.visual_forecasting}),
    QualityTier.rejected: frozenset(),
}


class RoutingTable(BaseModel):
    """tier -> {task: probability}. Copied into every manifest so a run is reproducible."""

    model_config = ConfigDict(frozen=True)

    probabilities: dict[QualityTier, dict[Task, float]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _valid(self) -> RoutingTable:
        for tier, row in self.probabilities.items():
            if tier is QualityTier.rejected:
                raise ValueError("the rejected tier trains nothing and cannot have a routing row")
            illegal = set(row) - ALLOWED_TASKS[tier]
            if illegal:
                raise ValueError(f"tier {tier.value!r} cannot train {sorted(t.value for t in illegal)}")
            if any(p < 0 for p in row.values()):
                raise ValueError(f"tier {tier.value!r}: probabilities must be >= 0")
            total = sum(row.values())
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"tier {tier.value!r}: probabilities sum to {total}, not 1")
        return self

    @classmethod
    def default(cls) -> RoutingTable:
        """Uniform over every task a tier allows (the LDA report gives no other split)."""
        rows = {
            tier: {t: 1.0 / len(tasks) for t in Task if t in tasks} for tier, tasks in ALLOWED_TASKS.items() if tasks
        }
        return cls(probabilities=rows)

    def row(self, tier: QualityTier | str) -> dict[Task, float]:
        tier = QualityTier(tier)
        if tier not in self.probabilities:
            raise KeyError(f"routing table has no row for tier {tier.value!r}")
        return self.probabilities[tier]


# Best first: `tier_of` lowers, never raises, along this order (the one definition of "lower").
TIER_ORDER: tuple[QualityTier, ...] = (QualityTier.high, QualityTier.low, QualityTier.actionless, QualityTier.rejected)


# which moment gave a verdict: ingest (an adapter, canonicalization, the judging), or the corpus-level step
# `eidata verdicts` (`schemas.verdicts.STEP`), whose verdicts a rerun replaces
VerdictStep = Literal["ingest", "verdicts"]


class TierVerdict(Frozen):
    """One reason an episode's tier is what it is: the highest tier it allows and why. A verdict of tier `high` is a
    note (a cut, a unit read): it lowers nothing and still reads as a reason. `code` names the check that gave it (a
    QA finding's code, an adapter's `source_*`, a source's default below high `source_default`), so a curator may
    overrule one check by its code and a catalog groups reasons by it; `reason` is the sentence with its figures,
    `figures` those figures by name (a finding's value and threshold); `step` the moment that gave it. Kept as it is in
    the lineage (`EpisodeLineage.tier_verdicts`): every stored tier is `tier_of` them."""

    tier: QualityTier
    reason: str
    code: str = ""
    figures: dict[str, float] = Field(default_factory=dict)
    step: VerdictStep = "ingest"

    @classmethod
    def note(cls, reason: str, code: str = "") -> TierVerdict:
        return cls(tier=QualityTier.high, reason=reason, code=code)


# a code more than one adapter gives: a robot without a kinematic description (its natives only)
NO_DESCRIPTION = "source_no_description"
# a source's default below high, a verdict like any other so a curator overrules it by its code (issue 77): the
# default of its subset or options (OXE's table, a job spec's `tier`), or a source whose episodes never hold an action
SOURCE_DEFAULT = "source_default"
SOURCE_NO_ACTION = "source_no_action"
SOURCE_DEFAULTS = frozenset({SOURCE_DEFAULT, SOURCE_NO_ACTION})


def source_default(tier: QualityTier, reason: str, code: str = SOURCE_DEFAULT) -> tuple[TierVerdict, ...]:
    """A source's default tier as its verdict (none for high): what lowers an episode from high, said with its code."""
    return () if QualityTier(tier) is QualityTier.high else (TierVerdict(tier=tier, reason=reason, code=code),)


# the reason an episode without an action is actionless (`ingest.qa.quality`; the catalog's losses find it by it)
MISSING_ACTIONS = "missing actions (has_action=False)"


def demote(tier: QualityTier, to: QualityTier) -> QualityTier:
    """The lower of two tiers (high > low > actionless > rejected)."""
    return max(QualityTier(tier), QualityTier(to), key=TIER_ORDER.index)


def tier_of(
    default: QualityTier, verdicts: Iterable[TierVerdict | QualityTier] = (), overrule: Iterable[str] = ()
) -> QualityTier:
    """The one place a tier is decided: the default tier lowered by every verdict (a bare tier is a verdict without
    a reason), except those whose `code` is overruled. Every tier the corpus shows is this function's answer."""
    skip = frozenset(overrule)
    tier = QualityTier(default)
    for v in verdicts:
        if isinstance(v, TierVerdict):
            if v.code and v.code in skip:
                continue
            v = v.tier
        tier = demote(tier, v)
    return tier


def said_once(verdicts: Iterable[TierVerdict]) -> list[TierVerdict]:
    """The verdicts as a person reads them: those that lower first, the lowest first (the one that set the tier
    leads), then the notes, each sentence once: a repeated sentence, and a note whose words a lowering verdict already
    says (the cause an actionless verdict names), are not said again. Lowers nothing `tier_of` would not."""
    ranked = sorted(verdicts, key=lambda v: -TIER_ORDER.index(v.tier))
    out: list[TierVerdict] = []
    for v in ranked:
        lowering = (w.reason for w in out if w.tier is not QualityTier.high)
        if all(v.reason != w.reason for w in out) and not (
            v.tier is QualityTier.high and any(v.reason in w for w in lowering)
        ):
            out.append(v)
    return out


def reasons_of(verdicts: Iterable[TierVerdict]) -> list[str]:
    """The tier reasons as the lineage lists them: every verdict's reason, notes included, in the order given."""
    return [v.reason for v in verdicts]


def notes_of(verdicts: Iterable[TierVerdict]) -> list[str]:
    """The notes among the verdicts (tier high: they lower nothing), in the order given: the lineage's `tier_notes`,
    so a reader tells them from the reasons that set the tier."""
    return [v.reason for v in verdicts if v.tier is QualityTier.high]


# a number standing alone (not part of a name like `so101` or `range_m100_100`, nor `MANO-21`, `6D`), with its % sign
# or a unit written against it (`0.53x`, `20ms`): the unit stays, the figure goes. Never part of a number: a match
# may not stop before `.<digit>` (`0.53x` once left `#.53x`, splitting one reason into a group per value).
_UNIT = r"(?:x|ms|us|ns|s|Hz|mm|cm|m|deg|px|fps|KB|MB|GB|KiB|MiB|GiB)"
_END = r"(?![\w]|\.\d)"
_FIGURE = re.compile(
    rf"(?<![\w.-])\d+(?=x\d+{_END})|(?<=\dx)\d+{_END}"  # a size, WIDTHxHEIGHT
    rf"|(?<![\w.-])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?:%{_END}|(?={_UNIT}{_END})|{_END})"
    rf"|(?<=\.\.)\d+(?:\.\d+)?{_END}"
)
FIGURE = "#"  # what stands for a figure in a grouped reason


def grouped(text: str) -> str:
    """A tier reason or note without its figures, each replaced by `FIGURE`: the words episodes share, so that a
    catalog groups them by it (`GROUP BY tier_reasons[1]`). The sentence with its figures (a frame count, a measured
    value and its bound) is kept apart, in the catalog's `tier_details`."""
    return _FIGURE.sub(FIGURE, text)


def split_notes(reasons: Iterable[str], notes: Iterable[str]) -> tuple[list[str], list[str]]:
    """(the reasons that set the tier, the notes), each grouped: `reasons` as the lineage lists them (notes
    included), `notes` those of them that are notes (`notes_of`)."""
    noted = list(notes)
    left = list(noted)
    out: list[str] = []
    for r in reasons:
        if r in left:
            left.remove(r)
        else:
            out.append(grouped(r))
    return out, [grouped(n) for n in noted]
