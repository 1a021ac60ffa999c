"""The report's behaviour QA section: per dataset, each measured value of its episodes against the threshold that
demotes (dashed) or quarantines (dotted), the findings with value, threshold and episodes (`ingest.qa.dataset`), and
the catalog build's dataset findings (view `findings`). Every dataset's findings and measures are read from the
catalog's `dataset_qa` view (pooled once per dataset by the catalog build, `jobs.catalog.dataset_qa`), against the
thresholds stored with the corpus's episodes at ingest; only the datasets the figure may draw, and a dataset pooled
with other thresholds than those, are pooled here from their episodes' `qa_*` columns."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ingest.qa.dataset import DatasetBehaviour
from ingest.qa.findings import ingest_config
from jobs.catalog.behaviour import corpus_thresholds
from jobs.catalog.dataset_qa import qa_row
from jobs.catalog.query import run_query
from jobs.report.data import pooled_again, sql_text
from jobs.report.plots import _empty
from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import BehaviourRecord
from schemas.dataset_qa import behaviour_key
from schemas.qa import CATALOG_PREFIX, record_from_columns


@dataclass
class BehaviourView:
    config: BehaviourConfig
    datasets: list[DatasetBehaviour]  # those `keep` kept (the figure's candidates), each with its episodes' records
    catalog_findings: list[dict]  # rows of the `findings` view
    messages: list[list[str]] = dataclasses.field(default_factory=list)  # every dataset's: dataset, code, tier, message
    overview: list[list[str]] = dataclasses.field(default_factory=list)  # every dataset's measures in a line
    total: int = 0  # datasets with behaviour QA


POOLED_SQL = """SELECT dataset, behaviour_overview, thresholds, finding_codes, finding_tiers, finding_messages
                FROM dataset_qa WHERE behaviour_episodes > 0 ORDER BY dataset"""


def behaviour_by_dataset(root: Path, keep: Callable[[str, bool], bool] | None = None) -> BehaviourView:
    """Each dataset's behaviour QA (datasets without records left out), against the thresholds stored with the
    corpus's episodes at ingest: every dataset's findings and measures in words, from the catalog's `dataset_qa` rows
    (a row judged with other thresholds pooled again from its episodes), and the datasets `keep(dataset, has a
    finding)` keeps, with the values the figure draws (`drawn`); None: every dataset, each pooled whole from its
    episodes' `qa_*` columns."""
    _, config = corpus_thresholds(root)
    rows = run_query(root, POOLED_SQL).to_pylist()
    key = behaviour_key(config)
    stale = [r["dataset"] for r in rows if r["thresholds"] != key]
    # those rows made again with the corpus's thresholds (their words held, not their records)
    again = {ds: qa_row(ds, None, b, config) for ds, _, b in pooled_again(root, stale, config) if b is not None}
    messages: list[list[str]] = []
    overview: list[list[str]] = []
    kept: list[str] = []
    for row in rows:
        ds = row["dataset"]
        r = again.get(ds, row)
        codes, tiers, texts = r["finding_codes"], r["finding_tiers"], r["finding_messages"]
        said = [[ds, code, tier, msg] for code, tier, msg in zip(codes, tiers, texts, strict=True)]
        messages += said
        overview.append([ds, r["behaviour_overview"]])
        if keep is None or keep(ds, bool(said)):
            kept.append(ds)
    whole = (b for _, _, b in pooled_again(root, kept, config) if b is not None)
    out = list(whole) if keep is None else drawn(root, kept)
    found = run_query(root, "SELECT dataset, code, value, threshold, message FROM findings ORDER BY 1, 2").to_pylist()
    return BehaviourView(config, out, found, messages, overview, len(overview))


def drawn(root: Path, datasets: Sequence[str]) -> list[DatasetBehaviour]:
    """`datasets` (each with behaviour QA) as the figure draws them: per episode with a value to draw, its uid and its
    record of the `PANELS` fields alone, in `episode_index` order (one query of those columns: the candidates'
    whole records read every column of the catalog, 1.9 GB at 1M episodes). The dots are the whole records' (the
    figure draws each field's values that are not None), their `episodes` counts only the episodes with a value."""
    out = {d: DatasetBehaviour(d, [], []) for d in datasets}
    if not out:
        return []
    columns = ", ".join(CATALOG_PREFIX + name for name, *_ in PANELS)
    where = ", ".join(sql_text(d) for d in out)
    sql = f"""SELECT dataset, episode_uid, {columns} FROM episodes WHERE dataset IN ({where})
              ORDER BY dataset, episode_index"""
    for row in run_query(root, sql).to_pylist():
        if (record := record_from_columns(row, BehaviourRecord)) is not None:
            out[row["dataset"]].labels.append(row["episode_uid"])
            out[row["dataset"]].records.append(record)
    return list(out.values())


# (record field, label, threshold field that demotes, threshold field that quarantines)
PANELS: tuple[tuple[str, str, str | None, str | None], ...] = (
    ("cam_frozen_s", "camera frozen (s)", "frozen_camera_s_low", None),
    ("cam_dark_fraction", "near-black frames", "degenerate_fraction_low", "degenerate_fraction_quarantine"),
    ("state_frozen_s", "state frozen (s)", "frozen_state_s_low", None),
    ("jump_sigma", "jump (sigmas)", "jump_sigma_low", None),
    ("tracking_corr", "action tracking", "tracking_corr_low", None),
    ("idle_start_s", "idle start (s)", None, None),
)  # fmt: skip


def behaviour_figure(view: BehaviourView) -> Figure:
    """Per dataset (rows), each panel's per-episode values (dots) against the ingest thresholds."""
    datasets = view.datasets
    fig = Figure(figsize=(14, 1.4 + 0.45 * max(len(datasets), 1)), layout="constrained")
    if not datasets:
        return _empty(fig, "no dataset with behaviour QA (ingested before it, or by another tool)")
    config = ingest_config(view.config)
    names = [b.dataset.removeprefix("datasets/") for b in datasets]
    axes = fig.subplots(1, len(PANELS), sharey=True)
    for ax, (field, label, low, rej) in zip(axes, PANELS, strict=True):
        for y, b in enumerate(datasets):
            v = np.array([getattr(r, field) for r in b.records if getattr(r, field) is not None], float)
            ax.plot(v, np.full(len(v), y) + np.linspace(-0.2, 0.2, len(v)), ".", ms=3, color="#1c7ed6")
        for name, ls in ((low, "--"), (rej, ":")):
            if name is not None:
                ax.axvline(getattr(config, name), color="#c92a2a", ls=ls, lw=0.8)
        ax.set_title(label, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    axes[0].set_yticks(range(len(names)), names, fontsize=7)
    axes[0].set_ylim(len(names) - 0.5, -0.5)
    return fig
