"""Behaviour QA per dataset, from its episodes' lineage records (`EpisodeLineage.behaviour`) or catalog columns: each
finding named with the measured value, the threshold and the episodes, as `eidata validate` and the report show it.

Per episode: the findings ingest routed the episode by (`ingest.qa.phase.episode_findings`, the thresholds
stored with the episode), and the verdict step's (`eidata verdicts`: verified copies, dead dims) as its lineage records
them; dead dims are also judged here against the other episodes (`ingest.qa.corpus.judge_dead`), so a dataset
not yet through the verdict step shows them; per dataset: task imbalance and episodes shorter than the policy window
(`ingest.qa.findings`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ingest.qa.corpus import dead_verdict, judge_dead
from ingest.qa.findings import DatasetFinding, Finding, dataset_findings
from ingest.qa.phase import episode_findings
from schemas.behaviour import BehaviourConfig, BehaviourRecord
from schemas.tiers import QualityTier

LISTED = 3  # episodes named per finding (the worst first)


@dataclass
class DatasetBehaviour:
    """One dataset's behaviour QA: what was measured and what it finds."""

    dataset: str
    labels: list[str]  # episode names, in dataset order, of the episodes with a record
    records: list[BehaviourRecord]
    found: list[tuple[int, Finding]] = field(default_factory=list)  # (episode position, finding)
    dead: list[tuple[int, str]] = field(default_factory=list)  # (episode position, reason)
    copies: list[tuple[int, str]] = field(default_factory=list)  # (episode position, the verdict step's reason)
    dataset_level: list[DatasetFinding] = field(default_factory=list)

    @property
    def episodes(self) -> int:
        return len(self.records)


def summarize_behaviour(
    dataset: str,
    labels: Sequence[str],
    records: Sequence[BehaviourRecord | None],
    tasks: Sequence[str],
    lengths: Sequence[int],
    config: BehaviourConfig,
    copies: Sequence[str | None] | None = None,
) -> DatasetBehaviour | None:
    """The dataset's findings; None when no episode carries a behaviour record (datasets written by other tools).
    `labels`, `records`, `tasks`, `lengths`, `copies` (the verdict step's `qa_duplicate` reason, None for an episode
    that is no copy): one per episode, in dataset order."""
    keep = [i for i, r in enumerate(records) if r is not None]
    if not keep:
        return None
    recs = [records[i] for i in keep]
    out = DatasetBehaviour(dataset, [labels[i] for i in keep], recs)  # type: ignore[arg-type]
    out.found = [(k, f) for k, r in enumerate(recs) for f in episode_findings(r, config)]
    for column, name in (("qa_dead_dims", "dead_dims"), ("qa_native_dead_dims", "native_dead_dims")):
        judged = judge_dead([getattr(r, name) for r in recs], config.dead_dims_share)
        out.dead += [(k, dead_verdict(column, dims, share, config).reason()) for k, (dims, share) in judged.items()]
    out.copies = [(k, copies[i]) for k, i in enumerate(keep) if copies is not None and copies[i] is not None]
    for f in dataset_findings(list(tasks), list(lengths), config):  # episodes named, not numbered
        msg = f.message
        if f.code == "qa_short_episodes":
            named = [labels[e] for e in f.episodes]
            msg += ": " + ", ".join(named[:LISTED]) + (", ..." if len(named) > LISTED else "")
        out.dataset_level.append(replace(f, message=msg))
    return out


def finding_messages(b: DatasetBehaviour) -> list[tuple[str, str, QualityTier | None]]:
    """(code, message, tier it routes to) per finding code: how many episodes, then the worst few with their value
    and the threshold; dataset-level findings after."""
    by_code: dict[str, list[tuple[int, Finding]]] = defaultdict(list)
    for k, f in b.found:
        by_code[f.code + ("/rejected" if f.tier == QualityTier.rejected else "")].append((k, f))
    out = []
    for key, items in by_code.items():
        code = key.split("/")[0]
        worst = sorted(items, key=lambda kf: -abs(kf[1].value - kf[1].threshold))[:LISTED]
        shown = "; ".join(f"{b.labels[k]}: {f.message}" for k, f in worst)
        tier = items[0][1].tier
        more = f"; and {len(items) - LISTED} more" if len(items) > LISTED else ""
        out.append((code, f"{len(items)} of {b.episodes} episodes -> {tier.value}: {shown}{more}", tier))
    dead: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for k, reason in b.dead:
        dead[reason.split(":", 1)[0]].append((k, reason))
    for code, items in dead.items():
        shown = "; ".join(f"{b.labels[k]}: {r.split(': ', 1)[1]}" for k, r in items[:LISTED])
        out.append((code, f"{len(items)} of {b.episodes} episodes -> low: {shown}", QualityTier.low))
    if b.copies:
        shown = "; ".join(f"{b.labels[k]}: {r.split(': ', 1)[1]}" for k, r in b.copies[:LISTED])
        more = f"; and {len(b.copies) - LISTED} more" if len(b.copies) > LISTED else ""
        out.append(
            (
                "qa_duplicate",
                f"{len(b.copies)} of {b.episodes} episodes -> rejected: {shown}{more}",
                QualityTier.rejected,
            )
        )
    for f in b.dataset_level:
        out.append((f.code, f.message, None))
    return out


def _span(values: list[float]) -> str:
    return f"{min(values):.2g}..{max(values):.2g}" if values else "-"


def overview(b: DatasetBehaviour) -> str:
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
