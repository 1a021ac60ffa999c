"""QA per dataset, pure: what one dataset's episodes say together, each finding naming its value and threshold.

- Geometry, per episode: the bounds marked with a tier in `bounds.toml` (hands in the picture, hands past the video)
  lower the episode itself (`episode_verdicts`, called by the judging step).
- Geometry: the episodes' `QARecord`s pooled (fractions frame-weighted, histograms summed, percentiles and sizes the
  median over episodes, robust to one odd episode; gripper extremes and the worst episode's action/state errors: the
  delta action reproduces the next state exactly or the dataset is inconsistent), compared with a `QAConfig`.
- Behaviour: per episode the findings ingest routed it by (with the thresholds stored with the episode) and those of
  `eidata verdicts` (copies, dead dims) as its lineage records them, shown, never judged again here; per dataset task
  imbalance and episodes shorter than the policy window (`dataset_findings`, which the catalog build indexes).
"""

from __future__ import annotations

import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, Field

from ingest.qa.findings import episode_findings
from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import BehaviourRecord
from schemas.qa import APPROACH_BINS, DatasetFinding, Finding, QAConfig, QARecord
from schemas.tiers import QualityTier, TierVerdict

LISTED = 3  # episodes named per finding (the worst first)


@dataclass(frozen=True)
class TaskBalance:
    tasks: int
    ratio: float  # episodes of the most frequent task / of the least frequent
    imbalanced: bool


def task_balance(tasks: Sequence[str], config: BehaviourConfig) -> TaskBalance:
    """Balance of one dataset's episodes over their tasks (one task string per episode)."""
    counts = np.array(sorted(Counter(tasks).values()), np.float64)
    if not len(counts):
        return TaskBalance(0, 1.0, False)
    ratio = float(counts[-1] / counts[0])
    return TaskBalance(len(counts), ratio, ratio >= config.task_imbalance_ratio)


def short_episodes(lengths: Sequence[int], config: BehaviourConfig, window: int | None = None) -> list[int]:
    """Positions of the episodes with fewer frames than the policy window (observation + action chunk)."""
    need = config.policy_window_frames if window is None else window
    return [i for i, n in enumerate(lengths) if n < need]


def dataset_findings(tasks: list[str], lengths: list[int], config: BehaviourConfig) -> list[DatasetFinding]:
    """One dataset's findings over its episodes (in order): task imbalance and episodes shorter than the policy
    window. Copies are not judged here: a fingerprint proposes, the signals decide (`ingest.qa.corpus`)."""
    balance, short, c = task_balance(tasks, config), short_episodes(lengths, config), config
    imbalance = DatasetFinding(
        code="qa_task_imbalance",
        value=balance.ratio,
        threshold=c.task_imbalance_ratio,
        message=f"largest task has {balance.ratio:.1f}x the episodes of the smallest"
        f" (>= {c.task_imbalance_ratio:g}x; {balance.tasks} tasks)",
    )
    message = f"{len(short)} episodes shorter than the policy window of {c.policy_window_frames} frames"
    shorts = DatasetFinding(
        code="qa_short_episodes", value=len(short), threshold=0, message=message, episodes=tuple(short)
    )
    return [*([imbalance] if balance.imbalanced else []), *([shorts] if short else [])]


FRACTIONS = ("hands_in_front", "hands_in_image", "hands_past_video", "hands_ahead", "hands_below_eyes",
             "approach_down", "approach_side", "approach_up", "left_of_right")  # fmt: skip
MEDIANS = ("speed_p50", "speed_p95", "speed_p99", "acc_p50", "acc_p95", "acc_p99", "hand_length", "bone_length_cv",
           "gripper_p5", "gripper_p95", "speed_limit", "acc_limit")  # fmt: skip


class DatasetQA(BaseModel):
    """One dataset's pooled invariants: the `QARecord` fields, pooled as the module docstring says."""

    dataset: str
    episodes: int = Field(description="episodes with a QA record")
    record: QARecord


def geometry_summary(dataset: str, records: Iterable[QARecord | None]) -> DatasetQA | None:
    """The dataset's pooled QA; None when no episode carries a record (datasets written by other tools)."""
    recs = [r for r in records if r is not None]
    if not recs:
        return None
    out: dict[str, object] = {"frames": sum(r.frames or 0 for r in recs)}
    for name in FRACTIONS:
        pairs = [(getattr(r, name), r.frames or 0) for r in recs if getattr(r, name) is not None]
        if pairs and sum(w for _, w in pairs) > 0:
            out[name] = float(np.average([v for v, _ in pairs], weights=[w for _, w in pairs]))
    hists = [r.approach_hist for r in recs if r.approach_hist is not None and len(r.approach_hist) == APPROACH_BINS]
    if hists:
        out["approach_hist"] = np.sum(hists, axis=0).astype(int).tolist()
    pooled = [(n, np.median) for n in MEDIANS] + [("gripper_min", min), ("gripper_max", max)]
    for name, pick in (*pooled, ("action_pos_err", max), ("action_rot_err", max)):
        vals = [getattr(r, name) for r in recs if getattr(r, name) is not None]
        if vals:
            out[name] = float(pick(vals))
    return DatasetQA(dataset=dataset, episodes=len(recs), record=QARecord(**out))


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


class Bound(NamedTuple):
    """An invariant with one bound (`bounds.toml`, which says what each field is); `tier`: it also judges each
    episode, lowering one past it to this tier."""

    measured: str
    limit: str
    kind: Literal["min", "max"]
    message: str
    tier: QualityTier | None = None

    def crossed(self, record: QARecord, config: QAConfig) -> tuple[float, float] | None:
        """(measured, threshold) when `record` is past the bound; None when within it or not measured."""
        v, t = getattr(record, self.measured), getattr(config, self.limit)
        return (v, t) if v is not None and (v < t if self.kind == "min" else v > t) else None


_BOUNDS_TOML = resources.files("ingest.qa").joinpath("bounds.toml").read_text(encoding="utf-8")
BOUNDS = tuple(
    Bound(**{**b, "tier": QualityTier(b["tier"]) if "tier" in b else None})
    for b in tomllib.loads(_BOUNDS_TOML)["bound"]
)


def episode_verdicts(record: QARecord, config: QAConfig) -> list[TierVerdict]:
    """The verdicts of the bounds that judge each episode (`tier` in bounds.toml) on one episode's record, each with
    its code (`qa_<field>`, which a curator may overrule) and the message naming the value and the threshold."""
    out = []
    for b in BOUNDS:
        if b.tier is not None and (hit := b.crossed(record, config)) is not None:
            v, t = hit
            figures = {"value": float(v), "threshold": float(t)}
            reason = f"qa_{b.measured}: {b.message.format(v=v, t=t)}"
            out.append(TierVerdict(tier=b.tier, reason=reason, code=f"qa_{b.measured}", figures=figures))
    return out


def geometry_findings(summary: DatasetQA, config: QAConfig) -> list[DatasetFinding]:
    """Every invariant the dataset fails, each naming the measured value and the threshold."""
    r, c = summary.record, config
    out: list[DatasetFinding] = []

    def fail(code: str, value: float, threshold: float, message: str) -> None:
        out.append(DatasetFinding(code=f"qa_{code}", value=value, threshold=threshold, message=message))

    for b in BOUNDS:
        if (hit := b.crossed(r, c)) is not None:
            fail(b.measured, *hit, b.message.format(v=hit[0], t=hit[1]))
    for p99, what, limit, ratio, unit in (
        (r.speed_p99, "speed", r.speed_limit, c.max_speed_ratio, "m/s"),
        (r.acc_p99, "acceleration", r.acc_limit, c.max_acc_ratio, "m/s^2"),
    ):
        if p99 is not None and limit and p99 > ratio * limit:
            fail(
                f"wrist_{what}",
                p99,
                ratio * limit,
                f"p99 wrist {what} {p99:.3g} {unit} exceeds the embodiment's limit {limit:.3g} {unit}"
                + (f" x {ratio:g}" if ratio != 1 else "")
                + ": check the position unit and the clock",
            )
    lo, hi = c.hand_length_m
    if r.hand_length is not None and not lo <= r.hand_length <= hi:
        fail(
            "hand_length",
            r.hand_length,
            lo if r.hand_length < lo else hi,
            f"median wrist -> middle fingertip length {r.hand_length:.3f} m is outside the human range "
            f"[{lo:.2f}, {hi:.2f}] m: check the keypoint unit and skeleton",
        )
    tol = c.gripper_tolerance
    if r.gripper_min is not None and r.gripper_max is not None and (r.gripper_min < -tol or r.gripper_max > 1 + tol):
        bad = r.gripper_min if r.gripper_min < -tol else r.gripper_max
        fail(
            "gripper_range",
            bad,
            -tol if bad < 0 else 1 + tol,
            f"gripper opening spans [{r.gripper_min:.3g}, {r.gripper_max:.3g}], outside 0..1: the source's scale "
            "is not converted",
        )
    return out


def geometry_overview(summary: DatasetQA) -> str:
    """One line of the dataset's main invariants, for validate's info line and the report."""
    r = summary.record
    parts = [f"{summary.episodes} episodes, {r.frames} frames"]
    if r.hands_in_front is not None:
        parts.append(
            f"hands in front of the camera {_pct(r.hands_in_front)}, in the image "
            f"{_pct(r.hands_in_image or 0.0)}, ahead of the wearer {_pct(r.hands_ahead or 0.0)}, below the "
            f"eyes {_pct(r.hands_below_eyes or 0.0)}"
        )
    if r.approach_down is not None:
        parts.append(
            f"approach down/side/up {_pct(r.approach_down)}/{_pct(r.approach_side or 0)}/{_pct(r.approach_up or 0)}"
        )
    if r.speed_p99 is not None:
        parts.append(f"wrist speed p50/p99 {r.speed_p50:.2g}/{r.speed_p99:.2g} m/s (limit {r.speed_limit:.2g})")
    if r.hand_length is not None:
        parts.append(f"hand length {r.hand_length:.3f} m")
    if r.gripper_min is not None:
        parts.append(f"gripper {r.gripper_min:.2g}..{r.gripper_max:.2g}")
    if r.action_pos_err is not None:
        parts.append(f"action->next state error {r.action_pos_err:.2g} m / {r.action_rot_err:.2g} deg")
    if r.left_of_right is not None:
        parts.append(f"left hand on the left {_pct(r.left_of_right)}")
    if len(parts) == 1:
        parts.append("no invariant applies (no wrist, hand keypoints or gripper)")
    return "; ".join(parts)


@dataclass
class DatasetBehaviour:
    """One dataset's behaviour QA: what was measured and what it finds."""

    dataset: str
    labels: list[str]  # episode names, in dataset order, of the episodes with a record
    records: list[BehaviourRecord]
    found: list[tuple[int, Finding]] = field(default_factory=list)  # (episode position, ingest's or the step's)
    dataset_level: list[DatasetFinding] = field(default_factory=list)

    @property
    def episodes(self) -> int:
        return len(self.records)


def behaviour_summary(
    dataset: str,
    labels: Sequence[str],
    records: Sequence[BehaviourRecord | None],
    tasks: Sequence[str],
    lengths: Sequence[int],
    config: BehaviourConfig,
    verdicts: Sequence[Sequence[Finding]] | None = None,
) -> DatasetBehaviour | None:
    """The dataset's findings; None when no episode carries a behaviour record (datasets written by other tools).
    `labels`, `records`, `tasks`, `lengths`, `verdicts` (the findings of `eidata verdicts` as the episode's lineage
    records them: copies, dead dims): one per episode, in dataset order."""
    keep = [i for i, r in enumerate(records) if r is not None]
    if not keep:
        return None
    recs = [records[i] for i in keep]
    out = DatasetBehaviour(dataset, [labels[i] for i in keep], recs)  # type: ignore[arg-type]
    out.found = [(k, f) for k, r in enumerate(recs) for f in episode_findings(r, config)]
    out.found += [(k, f) for k, i in enumerate(keep) for f in (verdicts[i] if verdicts is not None else [])]
    for f in dataset_findings(list(tasks), list(lengths), config):  # episodes named, not numbered
        msg = f.message
        if f.code == "qa_short_episodes":
            named = [labels[e] for e in f.episodes]
            msg += ": " + ", ".join(named[:LISTED]) + (", ..." if len(named) > LISTED else "")
        out.dataset_level.append(f.model_copy(update={"message": msg}))
    return out


def behaviour_messages(b: DatasetBehaviour) -> list[tuple[str, str, QualityTier | None, list[str]]]:
    """(code, message, tier it routes to, every episode it names) per finding code: how many episodes, then the worst
    few with their value and the threshold (the message names `LISTED`; the list names them all); dataset-level
    findings after (the episodes they name)."""
    by_code: dict[str, list[tuple[int, Finding]]] = defaultdict(list)
    for k, f in b.found:
        by_code[f.code + ("/rejected" if f.tier == QualityTier.rejected else "")].append((k, f))
    out: list[tuple[str, str, QualityTier | None, list[str]]] = []
    for key, items in by_code.items():
        code = key.split("/")[0]
        # an episode counted once, by its worst finding of the code (one finding per joint or camera, and the
        # step's verdicts repeat ingest's: counting findings said "126 of 43 episodes", issue 59)
        items = list({kf[0]: kf for kf in sorted(items, key=lambda kf: abs(kf[1].value - kf[1].threshold))}.values())
        worst = sorted(items, key=lambda kf: -abs(kf[1].value - kf[1].threshold))[:LISTED]
        said: dict[str, list[str]] = {}  # the same words of several episodes: said once, after their names
        for k, f in worst:
            said.setdefault(f.message, []).append(b.labels[k])
        shown = "; ".join(f"{', '.join(labels)}: {message}" for message, labels in said.items())
        tier = items[0][1].tier
        more = f"; and {len(items) - LISTED} more" if len(items) > LISTED else ""
        every = list(dict.fromkeys(b.labels[k] for k, _ in items))
        to = f"-> {tier.value}" if tier != QualityTier.high else "noted (lowers nothing)"
        out.append((code, f"{len(items)} of {b.episodes} episodes {to}: {shown}{more}", tier, every))
    for f in b.dataset_level:
        out.append((f.code, f.message, None, [b.labels[e] for e in f.episodes if e < len(b.labels)]))
    return out


def _span(values: list[float]) -> str:
    return f"{min(values):.2g}..{max(values):.2g}" if values else "-"


def behaviour_overview(b: DatasetBehaviour) -> str:
    """One line of the dataset's measured behaviour, for validate's info line and the report."""
    rs = b.records

    def vals(name: str) -> list[float]:
        return [float(getattr(r, name)) for r in rs if getattr(r, name) is not None]

    parts = [f"{b.episodes} episodes"]
    if vals("cam_frozen_s"):
        dark = max(max(vals(n), default=0.0) for n in ("cam_dark_fraction", "cam_bright_fraction", "cam_flat_fraction"))
        parts.append(f"camera frozen {_span(vals('cam_frozen_s'))} s, degenerate frames up to {dark:.0%}")
    parts.append(f"state frozen {_span(vals('state_frozen_s'))} s")
    parts.append(f"jump {_span(vals('jump_sigma'))} sigmas")
    if vals("jump_m_s"):
        parts.append(f"{_span(vals('jump_m_s'))} m/s")
    glitch = {u: [r.glitch_value for r in rs if r.glitch_unit == u] for u in ("rad", "m", "span")}
    if any(glitch.values()):  # per unit: a share of a trend's range is no radian
        worst = ", ".join(f"{max(v):.2g} {'x range' if u == 'span' else u}" for u, v in glitch.items() if v)
        parts.append(f"glitch up to {worst} ({_span(vals('glitch_sigma'))} sigmas)")
    if vals("plateau_fraction"):
        parts.append(f"plateau {_span(vals('plateau_fraction'))} of moving frames")
    parts.append(f"idle start {_span(vals('idle_start_s'))} s, end {_span(vals('idle_end_s'))} s")
    if vals("tracking_corr"):
        parts.append(f"action tracking {_span(vals('tracking_corr'))}")
    nonfinite = sum(vals("nonfinite"))
    parts.append(f"{nonfinite:.0f} NaN/Inf")
    return "; ".join(parts)
