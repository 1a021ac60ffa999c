"""The report's behaviour QA section: per dataset, each measured value of its episodes against the threshold that
demotes (dashed) or quarantines (dotted), the findings with value, threshold and episodes (`ingest.qa.dataset`), and
the catalog build's dataset findings (view `findings`). Read from the catalog's behaviour `qa_*` columns, against the
thresholds stored with the corpus's episodes at ingest."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ingest.qa.dataset import DatasetBehaviour, behaviour_messages, behaviour_overview, behaviour_summary
from ingest.qa.findings import ingest_config
from jobs.catalog.behaviour import corpus_thresholds
from jobs.catalog.query import run_query
from jobs.report.data import dataset_records
from jobs.report.plots import _empty
from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import BehaviourRecord
from schemas.qa import Finding
from schemas.verdicts import STEP


@dataclass
class BehaviourView:
    config: BehaviourConfig
    datasets: list[DatasetBehaviour]  # those `keep` kept (the figure's candidates), each with its episodes' records
    catalog_findings: list[dict]  # rows of the `findings` view
    messages: list[list[str]] = dataclasses.field(default_factory=list)  # every dataset's: dataset, code, tier, message
    overview: list[list[str]] = dataclasses.field(default_factory=list)  # every dataset's measures in a line
    total: int = 0  # datasets with behaviour QA


def behaviour_by_dataset(root: Path, keep: Callable[[str, bool], bool] | None = None) -> BehaviourView:
    """Each dataset's behaviour QA from the catalog (datasets without records left out), against the thresholds
    stored with the corpus's episodes at ingest: every dataset's findings and measures in words, and the records of
    those `keep(dataset, has a finding)` keeps (None: all), one dataset's rows read at a time (100k episodes' records
    and findings held at once took 800 MB)."""
    _, config = corpus_thresholds(root)
    verdicts: dict[str, list[Finding]] = {}  # the verdict step's findings per episode (view `verdicts`)
    for v in run_query(root, f"SELECT * EXCLUDE (dataset, stage) FROM verdicts WHERE stage = '{STEP}'").to_pylist():
        verdicts.setdefault(v.pop("episode_uid"), []).append(Finding(**v))
    out: list[DatasetBehaviour] = []
    messages: list[list[str]] = []
    overview: list[list[str]] = []
    for ds, rows, records in dataset_records(root, BehaviourRecord, "episode_uid, task, num_frames, "):
        b = behaviour_summary(
            ds,
            [r["episode_uid"] for r in rows],
            records,
            [r["task"] or "" for r in rows],
            [r["num_frames"] for r in rows],
            config,
            [verdicts.get(r["episode_uid"], []) for r in rows],
        )
        if b is None:
            continue
        said = [[ds, code, "" if tier is None else tier.value, msg] for code, msg, tier, _ in behaviour_messages(b)]
        messages += said
        overview.append([ds, behaviour_overview(b)])
        if keep is None or keep(ds, bool(said)):
            out.append(b)
    found = run_query(root, "SELECT dataset, code, value, threshold, message FROM findings ORDER BY 1, 2").to_pylist()
    return BehaviourView(config, out, found, messages, overview, len(overview))


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
