"""The report's figures: matplotlib `Figure`s (Agg canvas, no pyplot state) rendered to PNG data URIs."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ingest.qa.dataset import DatasetQA
from jobs.report.data import Trajectory
from schemas.canonical import DIMS_PER_HAND, FINGERTIPS_XYZ, GRIPPER, HANDS, WRIST_POS, WRIST_ROT6D
from schemas.qa import APPROACH_BINS, QAConfig

TIER_COLORS = {"high": "#2b8a3e", "low": "#f08c00", "actionless": "#1971c2"}
HAND_COLORS = ("#1c7ed6", "#e8590c")  # left, right
PARTS = (("pos", WRIST_POS), ("rot6d", WRIST_ROT6D), ("grip", GRIPPER), ("tips", FINGERTIPS_XYZ))
DPI = 90


def png_data_uri(fig: Figure, crop: bool = True) -> str:
    """The figure as a PNG data URI, cropped to what is drawn; `crop=False`: the whole figure, its axes where the
    layout put them (a page that maps data onto the image relies on it)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight" if crop else None, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _empty(fig: Figure, text: str) -> Figure:
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, color="#555")
    ax.set_axis_off()
    return fig


def stacked_figure(
    rows: list[dict[str, Any]],
    parts: Iterable[tuple[str, str]],
    amount: Callable[[dict[str, Any], str], float],
    size: tuple[float, float],
    empty: str,
    layout: str | None = None,
) -> tuple[Figure, Any, np.ndarray]:
    """A bar per source stacked of `parts` ((label, colour)), each `amount(row, label)` summed, a part with nothing
    left out; `size`: (inches, inches per source). The figure, its axes (None: no rows, it says `empty`), bar ends."""
    sources = sorted({r["source"] for r in rows})
    fig = Figure(figsize=(8, size[1] * len(sources) + size[0]), layout=layout)
    if not rows:
        return _empty(fig, empty), None, np.zeros(0)
    ax = fig.add_subplot()
    left = np.zeros(len(sources))
    for label, color in parts:
        n = np.array([sum(amount(r, label) for r in rows if r["source"] == s) for s in sources], float)
        if n.any():
            ax.barh(sources, n, left=left, color=color, label=label)
            left += n
    ax.invert_yaxis()
    return fig, ax, left


def hours_figure(rows: list[dict[str, Any]]) -> Figure:
    fig, ax, left = stacked_figure(
        rows,
        TIER_COLORS.items(),
        lambda r, tier: r["hours"] if r["tier"] == tier else 0,
        (1.4, 0.6),
        "no episodes in the catalog",
    )
    if ax is None:
        return fig
    for y, total in enumerate(left):
        ax.text(total, y, f" {total:.3g} h", va="center", fontsize=9)
    ax.set_xlabel("hours")
    ax.legend(title="tier", loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_xlim(0, left.max() * 1.2 if left.max() > 0 else 1)
    return fig


def _grid(n: int, cell: tuple[float, float], max_cols: int = 3) -> tuple[Figure, int, int]:
    """A figure for `n` small multiples (at least one cell), with its rows and columns."""
    cols = min(max_cols, max(n, 1))
    rows = (max(n, 1) + cols - 1) // cols
    return Figure(figsize=(cell[0] * cols, cell[1] * rows), layout="constrained"), rows, cols


def lengths_figure(durations: dict[str, np.ndarray]) -> Figure:
    fig, rows, cols = _grid(len(durations), (3.4, 2.6))
    if not durations:
        return _empty(fig, "no episodes in the catalog")
    for k, (source, d) in enumerate(durations.items()):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.hist(d, bins=min(30, max(5, len(d))), color="#495057")
        ax.set_title(f"{source} ({len(d)} episodes, median {np.median(d):.1f} s)", fontsize=9)
        ax.set_xlabel("episode length (s)", fontsize=8)
    return fig


def quarantine_figure(rows: list[dict[str, Any]]) -> Figure:
    fig = Figure(figsize=(8, 0.45 * len(rows) + 1.2))
    if not rows:
        return _empty(fig, "no quarantined episodes")
    ax = fig.add_subplot()
    labels = [f"{r['source']} · {r['stage']} · {r['error_class']}" for r in rows]
    ax.barh(labels, [r["n"] for r in rows], color="#c92a2a")
    ax.invert_yaxis()
    ax.set_xlabel("quarantined episodes")
    ax.xaxis.get_major_locator().set_params(integer=True)
    return fig


SEVERITY_COLORS = {"error": "#c92a2a", "warning": "#f08c00", "info": "#868e96"}


def source_findings_figure(rows: list[dict[str, Any]]) -> Figure:
    """Findings per source, stacked by severity."""
    empty = "no source findings: every source gave what it declared"
    fig, ax, _ = stacked_figure(rows, SEVERITY_COLORS.items(), lambda r, sev: r["severity"] == sev, (1.3, 0.5), empty)
    if ax is None:
        return fig
    ax.set_xlabel("findings")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def mask_figure(coverage: dict[str, tuple[int, np.ndarray]]) -> Figure:
    fig = Figure(figsize=(10, 0.45 * len(coverage) + 1.6))
    if not coverage:
        return _empty(fig, "no action masks (no canonical datasets)")
    ax = fig.add_subplot()
    names = list(coverage)
    grid = np.stack([coverage[e][1] for e in names])
    im = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks(range(len(names)), [f"{e} ({coverage[e][0]})" for e in names])
    ticks, labels = [], []
    for h, hand in enumerate(HANDS):
        for name, part in PARTS:
            start = h * DIMS_PER_HAND + part.start
            ticks.append(start + (part.stop - part.start - 1) / 2)
            labels.append(f"{hand[0].upper()} {name}")
            ax.axvline(start - 0.5, color="white", lw=0.8 if part.start else 2)
    ax.set_xticks(ticks, labels, fontsize=8)
    fig.colorbar(im, ax=ax, label="fraction of episodes with the dim")
    return fig


def coverage_figure(rows: list[dict[str, Any]]) -> Figure:
    """Per source (rows), the fraction of episodes with latents and with a caption, each bar labelled k/n; the legend
    outside the axes (labels of many sources never overlap, nor does the legend cover a bar)."""
    fig = Figure(figsize=(8, 0.5 * len(rows) + 1.2), layout="constrained")
    if not rows:
        return _empty(fig, "no episodes in the catalog")
    ax = fig.add_subplot()
    y = np.arange(len(rows))
    cols = (("latents", "#5f3dc4"), ("captions", "#0c8599"))
    fractions = [(np.array([r[col] / r["episodes"] for r in rows]), color, f"{col} ready") for col, color in cols]
    for (col, _), bars in zip(cols, _side_by_side(ax, y, fractions, 0.38), strict=True):
        for b, r in zip(bars, rows, strict=True):
            ax.text(
                b.get_width() + 0.01,
                b.get_y() + b.get_height() / 2,
                f"{r[col]}/{r['episodes']}",
                va="center",
                fontsize=8,
            )
    ax.set_yticks(y, [r["source"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.15)
    ax.set_xlabel("fraction of episodes")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


def trajectories_figure(trajectories: list[Trajectory]) -> Figure:
    fig, rows, cols = _grid(len(trajectories), (3.6, 3.4))
    if not trajectories:
        return _empty(fig, "no episode with a wrist position")
    for k, tr in enumerate(trajectories):
        ax = fig.add_subplot(rows, cols, k + 1, projection="3d")
        for hand, xyz in tr.wrists.items():
            color = HAND_COLORS[HANDS.index(hand)]
            ax.plot(xyz[:, 0], xyz[:, 1], xyz[:, 2], color=color, lw=1.2, label=hand)
            ax.scatter(*xyz[0], color=color, marker="o", s=14)
            ax.scatter(*xyz[-1], color=color, marker="x", s=14)
        ax.set_title(f"{tr.label}\n({tr.frame})", fontsize=8)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=7, loc="upper left")
    return fig


# -- geometry QA --------------------------------------------------------------------------------------------------


def _side_by_side(ax: Any, y: np.ndarray, series: list[tuple[np.ndarray, str, str]], width: float) -> list[Any]:
    """Horizontal bars of each (values, colour, label) of `series` side by side, `width` each, centred on `y`."""
    middle = (len(series) - 1) / 2
    return [ax.barh(y + (k - middle) * width, v, width, color=c, label=lab) for k, (v, c, lab) in enumerate(series)]


def _dataset_panel(ax: Any, names: list[str], title: str) -> None:
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_ylim(len(names) - 0.5, -0.5)  # one row per dataset, top to bottom, aligned across panels
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelsize=7)


def qa_figure(summaries: list[DatasetQA], config: QAConfig) -> Figure:
    """Per dataset (rows), the approach-axis histogram and each invariant against its threshold (dashed lines; the
    shaded band: the human hand-length range)."""
    summaries = [s for s in summaries if set(s.record.model_dump(exclude_none=True)) - {"frames"}]
    fig = Figure(figsize=(14, 1.8 + 0.6 * max(len(summaries), 1)), layout="constrained")
    if not summaries:
        return _empty(fig, "no dataset with a measured invariant (no wrist, hands or gripper, or no QA)")
    names = [s.dataset.removeprefix("datasets/") for s in summaries]
    y = np.arange(len(names))
    recs = [s.record for s in summaries]

    def values(name: str) -> np.ndarray:
        return np.array([np.nan if getattr(r, name) is None else getattr(r, name) for r in recs], float)

    grid = fig.add_gridspec(2, 4)
    ax = fig.add_subplot(grid[0, :2])
    hist = np.array([r.approach_hist or [0] * APPROACH_BINS for r in recs], float)
    hist /= np.maximum(hist.sum(axis=1, keepdims=True), 1)
    im = ax.imshow(
        hist,
        aspect="auto",
        cmap="viridis",
        vmin=0,
        vmax=1,
        interpolation="nearest",
        extent=(0, 180, len(names) - 0.5, -0.5),
    )
    for edge in (config.top_down_max_deg, 180 - config.top_down_max_deg):
        ax.axvline(edge, color="white", ls="--", lw=0.8)
    ax.set_xticks([0, 45, 90, 135, 180])
    ax.set_yticks(
        y,
        [
            f"{n}  ({r.approach_down or 0:.0%} / {r.approach_side or 0:.0%} / {r.approach_up or 0:.0%})"
            for n, r in zip(names, recs, strict=True)
        ],
        fontsize=7,
    )
    ax.set_xlabel("approach axis from straight down (deg): top-down / side / up", fontsize=7)
    ax.set_title("wrist approach axis, fraction of frames per 10 deg", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8)

    ax = fig.add_subplot(grid[0, 2])
    shares = (("hands_in_front", "#1971c2"), ("hands_in_image", "#5f3dc4"), ("hands_ahead", "#0c8599"),
              ("hands_below_eyes", "#2b8a3e"), ("left_of_right", "#e8590c"))  # fmt: skip
    _side_by_side(ax, y, [(values(name), color, name.replace("_", " ")) for name, color in shares], 0.16)
    for t in {getattr(config, f"min_{name.removeprefix('hands_')}_fraction") for name, _ in shares}:
        ax.axvline(t, color="#868e96", ls="--", lw=0.8)
    ax.set_xlim(0, 1.05)
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)  # below: the bars stay readable
    _dataset_panel(ax, names, "fraction of frames")

    ax = fig.add_subplot(grid[0, 3])
    kinematics = (("speed", "#2b8a3e"), ("acc", "#f08c00"))
    ratios = [(values(f"{n}_p99") / values(f"{n}_limit"), color, f"p99 {n} / limit") for n, color in kinematics]
    _side_by_side(ax, y, ratios, 0.38)
    ax.axvline(config.max_speed_ratio, color="#2b8a3e", ls="--", lw=0.8)
    ax.axvline(config.max_acc_ratio, color="#f08c00", ls="--", lw=0.8)
    ax.legend(fontsize=6, loc="lower right")
    _dataset_panel(ax, names, "wrist kinematics / embodiment limit")

    ax = fig.add_subplot(grid[1, 0])
    lo, hi = config.hand_length_m
    ax.axvspan(lo, hi, color="#2b8a3e", alpha=0.15, lw=0, label="human range")
    ax.scatter(values("hand_length"), y, color="#212529", zorder=3, s=14)
    ax.legend(fontsize=6, loc="lower right")
    _dataset_panel(ax, names, "hand length, wrist -> middle tip (m)")

    ax = fig.add_subplot(grid[1, 1])
    ax.barh(y, values("bone_length_cv"), color="#495057")
    ax.axvline(config.max_bone_length_cv, color="#868e96", ls="--", lw=0.8)
    _dataset_panel(ax, names, "bone length std / mean over frames")

    ax = fig.add_subplot(grid[1, 2])
    for i, r in enumerate(recs):
        if r.gripper_min is not None:
            ax.plot([r.gripper_min, r.gripper_max], [i, i], color="#adb5bd", lw=2)
            ax.plot([r.gripper_p5, r.gripper_p95], [i, i], color="#1971c2", lw=5)
    ax.axvline(config.min_gripper_opening, color="#868e96", ls="--", lw=0.8)
    ax.set_xlim(-0.05, 1.1)
    _dataset_panel(ax, names, "gripper opening: min..max, p5..p95")

    ax = fig.add_subplot(grid[1, 3])
    errors = (
        ("action_pos_err", 1e3, "#1971c2", config.max_action_pos_err_m * 1e3, "position (mm)"),
        ("action_rot_err", 1.0, "#e8590c", config.max_action_rot_err_deg, "rotation (deg)"),
    )
    _side_by_side(ax, y, [(np.maximum(values(n) * scale, 1.1e-6), c, label) for n, scale, c, _, label in errors], 0.38)
    for _, _, color, threshold, _ in errors:
        ax.axvline(threshold, color=color, ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlim(1e-6, None)  # float32 round-off of a consistent dataset sits near 1e-5
    ax.legend(fontsize=6, loc="lower right")
    _dataset_panel(ax, names, "state t + action t vs state t+1 (p95)")
    return fig
