"""What a curator acts on, for the report: per source and dataset the episodes written, lost and quarantined (the
losses by reason: `jobs.catalog.losses`), the manifests curated from the corpus, every episode in one table, and each
flagged episode beside a clean one of its dataset. Counts come from the catalog's views, frames and signals from the
datasets' files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from jobs.catalog.losses import NO_ACTION, NO_HANDS
from jobs.catalog.manifest_read import load_manifest
from jobs.catalog.query import run_query
from jobs.report.data import DatasetView, dataset_view, sql_text
from jobs.report.markup import escape, figure
from jobs.report.plots import TIER_COLORS, png_data_uri, stacked_figure
from schemas.canonical import ACTION, STATE, main_video_key
from schemas.corpus import MANIFESTS_DIR
from schemas.manifest import MANIFEST_JSON, Manifest

QUARANTINED_COLOR = "#c92a2a"
FLAGGED = ("low", "rejected")  # tiers a finding lowers an episode to
MAX_EPISODE_ROWS = 400  # rows of the episode table; flagged and quarantined ones come first
MAX_PAIRS = 6  # flagged episodes shown beside a clean one (each decodes a few frames of two episodes)

COUNTS_SQL = f"""
WITH w AS (
    SELECT source, subset, count(*) AS written,
           count(*) FILTER (WHERE tier = 'high') AS high, count(*) FILTER (WHERE tier = 'low') AS low,
           count(*) FILTER (WHERE tier = 'actionless') AS actionless,
           count(*) FILTER (WHERE tier = 'rejected') AS rejected,
           count(*) FILTER (WHERE {NO_ACTION}) AS without_action, count(*) FILTER (WHERE {NO_HANDS}) AS without_hands
    FROM episodes GROUP BY ALL),
q AS (SELECT source, coalesce(subset, '(discovery)') AS subset, count(*) AS quarantined FROM quarantine GROUP BY ALL)
SELECT source, subset, coalesce(COLUMNS(* EXCLUDE (source, subset)), 0)
FROM w FULL OUTER JOIN q USING (source, subset)
ORDER BY source, subset"""
COUNTED = ("written", "high", "low", "actionless", "rejected", "without_action", "without_hands", "quarantined")

EPISODES_SQL = """
WITH f AS (
    SELECT episode_uid, list(DISTINCT code ORDER BY code) AS findings
    FROM verdicts WHERE tier IN ('low', 'rejected') GROUP BY episode_uid)
SELECT e.episode_uid, e.dataset, e.episode_index, e.tier, e.duration_s, e.num_frames, e.cameras, f.findings,
       e.tier_reasons, e.tier_details, e.tier IN ('low', 'rejected') AS flagged
FROM episodes AS e LEFT JOIN f USING (episode_uid)
WHERE {where}
ORDER BY flagged DESC, e.dataset, e.episode_index"""


def counts_by_dataset(root: Path) -> list[dict[str, Any]]:
    """Per source and subset (dataset): episodes written, by tier (low and rejected: demoted by a finding), those
    without the action or the hands their source should give (`jobs.catalog.losses`), and quarantined."""
    return run_query(root, COUNTS_SQL).to_pylist()


def episode_rows(root: Path, limit: int | None = None, where: str = "true") -> list[dict[str, Any]]:
    """The written episodes (`where`: an SQL condition on the catalog's `e` row), flagged (low or rejected) first,
    with the findings that lowered it; the first `limit` of them (None: all)."""
    sql = EPISODES_SQL.format(where=where) + ("" if limit is None else f" LIMIT {int(limit)}")
    return run_query(root, sql).to_pylist()


def quarantined_rows(root: Path, limit: int) -> list[dict[str, Any]]:
    sql = f"""SELECT coalesce(episode_uid, raw_path) AS episode, source, subset, stage, error_class, message,
                     coalesce(file, '') AS file
              FROM quarantine ORDER BY source, subset, episode LIMIT {int(limit)}"""
    return run_query(root, sql).to_pylist()


def manifests(root: Path) -> list[Manifest]:
    """The manifests curated from the corpus (`manifests/<name>/manifest.json`), by name; unreadable ones skipped."""
    out = []
    for path in sorted((Path(root) / MANIFESTS_DIR).glob(f"*/{MANIFEST_JSON}")):
        try:
            out.append(load_manifest(path.parent))
        except ValueError:  # a manifest another version wrote, or torn: not this report's to judge
            continue
    return out


# -- figures ----------------------------------------------------------------------------------------------------


def counts_figure(rows: list[dict[str, Any]]) -> Figure:
    """Episodes per source: written by tier, and quarantined, as stacked bars with their counts."""
    parts = [*TIER_COLORS.items(), ("rejected", "#495057"), ("quarantined", QUARANTINED_COLOR)]
    empty = "no episodes in the catalog"
    fig, ax, _ = stacked_figure(rows, parts, lambda r, what: r[what], (1.1, 0.32), empty, "constrained")
    if ax is None:
        return fig
    for bar in ax.patches:  # each part's count on its segment
        if (k := bar.get_width()) > 0:
            y = bar.get_y() + bar.get_height() / 2
            ax.text(bar.get_x() + k / 2, y, f"{int(k)}", ha="center", va="center", fontsize=8, color="white")
    ax.set_xlabel("episodes")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


@dataclass
class EpisodeSample:
    """One episode's frames and canonical signals, for the side-by-side view."""

    label: str
    frames: list[np.ndarray]
    frame_indices: list[int]
    signals: dict[str, np.ndarray]  # STATE / ACTION -> (T, used dims)


def episode_sample(ds: DatasetView, i: int, label: str, count: int = 4) -> EpisodeSample:
    """`count` frames of episode `i` (its main camera) and the canonical state and action dims its mask uses."""
    key = main_video_key(ds.info.video_keys)
    idx, frames = ds.frames(i, key, count) if key is not None else ([], [])
    mask = ds.mask(i)
    cols = ds.columns(i, [c for c in (STATE, ACTION) if ds.info.features.get(c) is not None])
    used = np.flatnonzero(mask) if mask is not None else None
    signals = {k: (v[:, used] if used is not None and v.ndim == 2 else v) for k, v in cols.items()}
    return EpisodeSample(label, frames, idx, signals)


def pair_figure(flagged: EpisodeSample, clean: EpisodeSample | None, fps: float) -> Figure:
    """A flagged episode (left) beside a clean one of its dataset (right): frames on top, state and action below."""
    samples = [s for s in (flagged, clean) if s is not None]
    width = max(max(len(s.frames) for s in samples), 1)
    fig = Figure(figsize=(6.2 * len(samples), 4.6), layout="constrained")
    grid = fig.add_gridspec(3, width * len(samples), height_ratios=[1.2, 1, 1])
    for k, s in enumerate(samples):
        for j, (t, img) in enumerate(zip(s.frame_indices, s.frames, strict=True)):
            ax = fig.add_subplot(grid[0, k * width + j])
            ax.imshow(img)
            ax.set_title(f"{t / fps:.1f} s", fontsize=7)
            ax.set_axis_off()
        for row, name in enumerate((STATE, ACTION), start=1):
            ax = fig.add_subplot(grid[row, k * width : (k + 1) * width])
            v = s.signals.get(name)
            if v is None or v.size == 0:
                ax.text(0.5, 0.5, f"no {name}", ha="center", va="center", fontsize=8, color="#555")
                ax.set_axis_off()
                continue
            ax.plot(np.arange(len(v)) / fps, v, lw=0.7)
            ax.set_ylabel(name, fontsize=7)
            ax.tick_params(labelsize=6)
            if row == 1:
                ax.set_title(s.label, fontsize=8, loc="left")
        fig.axes[-1].set_xlabel("s", fontsize=7)
    return fig


def flagged_pairs(root: Path, rows: list[dict[str, Any]], link: Callable[[str], str]) -> list[str]:
    """HTML of the first `MAX_PAIRS` flagged episodes of `rows` (`episode_rows`), each beside the first clean (high
    tier, the catalog says) episode of its dataset, captioned with why it was lowered and followed by
    `link(episode_uid)` (its page). Each dataset's episodes.jsonl is read to those two lines, no other dataset's."""
    flagged = [r for r in rows if r["tier"] in FLAGGED][:MAX_PAIRS]
    names = ", ".join(sql_text(n) for n in sorted({r["dataset"] for r in flagged})) or "NULL"
    sql = f"""SELECT dataset, min(episode_index) AS clean FROM episodes WHERE tier = 'high' AND dataset IN ({names})
              GROUP BY dataset"""
    clean_of = {r["dataset"]: r["clean"] for r in run_query(root, sql).to_pylist()}
    parts = []
    for r in flagged:
        uid, clean = r["episode_uid"], clean_of.get(r["dataset"])
        ds = dataset_view(root, r["dataset"], [r["episode_index"], *([] if clean is None else [clean])])
        at = {int(line["episode_index"]): k for k, line in enumerate(ds.episodes)}
        if r["episode_index"] not in at:
            continue
        why = "; ".join(r["tier_details"] or []) or ", ".join(r["findings"] or [])
        left = episode_sample(ds, at[r["episode_index"]], f"{r['tier']}: {uid}")
        right = None if clean not in at else episode_sample(ds, at[clean], f"clean: {clean}")
        caption = f"{uid} ({r['tier']}): {why}" + ("" if right else " (no clean episode in its dataset)")
        uri = png_data_uri(pair_figure(left, right, float(ds.info.fps)))
        parts.append(f'<div id="ep-{escape(uid)}">{figure(uri, f"episode {uid}", caption)}{link(uid)}</div>')
    return parts
