"""The report's figures: matplotlib `Figure`s (Agg canvas, no pyplot state) rendered to PNG data URIs."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from jobs.report.data import Strip, Trajectory
from jobs.report.keypoints import BONES
from schemas.canonical import DIMS_PER_HAND, FINGERTIPS_XYZ, GRIPPER, HANDS, WRIST_POS, WRIST_ROT6D

TIER_COLORS = {"high": "#2b8a3e", "low": "#f08c00", "actionless": "#1971c2"}
HAND_COLORS = ("#1c7ed6", "#e8590c")  # left, right
PARTS = (("pos", WRIST_POS), ("rot6d", WRIST_ROT6D), ("grip", GRIPPER), ("tips", FINGERTIPS_XYZ))
DPI = 90


def png_data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _empty(fig: Figure, text: str) -> Figure:
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, color="#555")
    ax.set_axis_off()
    return fig


def hours_figure(rows: list[dict[str, Any]]) -> Figure:
    sources = sorted({r["source"] for r in rows})
    tiers = [t for t in TIER_COLORS if any(r["tier"] == t for r in rows)]
    fig = Figure(figsize=(8, 0.6 * len(sources) + 1.4))
    if not rows:
        return _empty(fig, "no episodes in the catalog")
    ax = fig.add_subplot()
    left = np.zeros(len(sources))
    for tier in tiers:
        hours = np.array([sum(r["hours"] for r in rows if r["source"] == s and r["tier"] == tier) for s in sources])
        ax.barh(sources, hours, left=left, color=TIER_COLORS[tier], label=tier)
        left += hours
    for y, total in enumerate(left):
        ax.text(total, y, f" {total:.3g} h", va="center", fontsize=9)
    ax.set_xlabel("hours")
    ax.invert_yaxis()
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
    fig = Figure(figsize=(8, 3.2))
    if not rows:
        return _empty(fig, "no episodes in the catalog")
    ax = fig.add_subplot()
    x = np.arange(len(rows))
    for k, (col, color) in enumerate((("latents", "#5f3dc4"), ("captions", "#0c8599"))):
        frac = np.array([r[col] / r["episodes"] for r in rows])
        bars = ax.bar(x + (k - 0.5) * 0.38, frac, 0.38, color=color, label=f"{col} ready")
        for b, r in zip(bars, rows, strict=True):
            ax.text(b.get_x() + b.get_width() / 2, b.get_height(), f"{r[col]}/{r['episodes']}", ha="center",
                    va="bottom", fontsize=8)  # fmt: skip
    ax.set_xticks(x, [r["source"] for r in rows])
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("fraction of episodes")
    ax.legend(loc="upper right")
    return fig


def _draw_hand(ax: Any, pts: np.ndarray, color: str) -> None:
    """21 points (x, y) with MANO bones; NaN points and bones touching them are skipped."""
    for a, b in BONES:
        if np.isfinite(pts[[a, b]]).all():
            ax.plot(pts[[a, b], 0], pts[[a, b], 1], color=color, lw=1.2)
    ok = np.isfinite(pts).all(axis=1)
    ax.scatter(pts[ok, 0], pts[ok, 1], s=6, color=color, zorder=3)


def strip_figure(strip: Strip) -> Figure:
    side = strip.method == "side panel"
    k = len(strip.frames) + int(side)
    fig = Figure(figsize=(2.0 * k, 2.0), layout="constrained")
    axes = [fig.add_subplot(1, k, i + 1) for i in range(k)]
    for i, (ax, t, img) in enumerate(zip(axes, strip.frame_indices, strip.frames, strict=False)):
        ax.imshow(img)
        ax.set_title(f"frame {t}", fontsize=8)
        ax.set_axis_off()
        if strip.projected is not None:
            h, w = img.shape[:2]
            for hand in strip.hands:
                _draw_hand(ax, strip.projected[i][hand], HAND_COLORS[hand])
            ax.set_xlim(0, w)
            ax.set_ylim(h, 0)
    if side and strip.keypoints is not None:
        ax = axes[-1]
        mid = len(strip.frame_indices) // 2
        for hand in strip.hands:  # front view of the gravity-aligned frame: right = -y, up = z
            p = strip.keypoints[mid, hand]
            _draw_hand(ax, np.stack([-p[:, 1], p[:, 2]], axis=1), HAND_COLORS[hand])
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(f"keypoints, frame {strip.frame_indices[mid]}", fontsize=8)
        ax.tick_params(labelsize=6)
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
