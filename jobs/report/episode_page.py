"""`eidata report ROOT --episode DATASET:INDEX`: one self-contained HTML page of one episode, as lerobot's dataset
viewer shows one (what it holds: jobs/report/README.md); each frame a lossless PNG of the decoded video frame.

What the page shows is read by `jobs.report.episode_data`; the page's style and its load check are the corpus report's
(`jobs.report.page`). The corpus report's pages are written beside it by `write_pages`.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import closing
from importlib import resources
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from adapters.storage.atomic import atomic_write
from ingest.progress import Progress
from jobs.report.episode_data import EpisodeDetail, EpisodeNotFound, episode_detail, episode_href, lineage_notes
from jobs.report.episode_links import EpisodeLinks
from jobs.report.markup import escape as _e
from jobs.report.markup import png_uri, table_or
from jobs.report.markup import table as _table
from jobs.report.page import Section, render_page
from jobs.report.plots import HAND_COLORS, png_data_uri

log = logging.getLogger(__name__)
CURSOR = "<script>" + resources.files("jobs.report").joinpath("cursor.js").read_text(encoding="utf-8") + "</script>"
EPISODE_STYLE = """
.strip { display: flex; gap: 4px; } .strip figure { flex: 1 1 0; min-width: 0; margin: 0; text-align: center; }
.strip img { width: 100%; border: 2px solid transparent; } .strip img.at { border-color: #e8590c; }
.plot { position: relative; } .plot img { width: 100%; display: block; }
#cursor-line { position: absolute; top: 0; bottom: 0; width: 0; border-left: 2px solid #e8590c; pointer-events: none; }
#cursor { width: 100%; } ul { margin: .3rem 0; font-size: .9rem; }
"""
PLOT_LEFT, PLOT_RIGHT = 0.07, 0.74  # the signal axes' span of the figure's width (the cursor maps frames onto it)
LEGEND_MAX = 12  # dims named in a plot's legend; a wider signal says how many it draws
LINEAGE_FIELDS = ("episode_uid", "source", "subset", "raw_id", "raw_path", "raw_fps", "span_s", "embodiment")
LINEAGE_MORE = ("action_kind", "success", "pipeline_version", "clock", "source_annotation")


def signals_figure(detail: EpisodeDetail, marks: list[int]) -> Figure:
    """One panel per signal, stacked on one frame axis (0 .. length-1, no margin: the cursor maps onto it), the
    strip's frames dotted."""
    rows = max(len(detail.signals), 1)
    fig = Figure(figsize=(12, 1.7 * rows + 0.6))
    fig.subplots_adjust(left=PLOT_LEFT, right=PLOT_RIGHT, top=0.96, bottom=0.5 / (1.7 * rows + 0.6), hspace=0.35)
    last = max(detail.length - 1, 1)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    for ax, sig in zip(axes, detail.signals, strict=False):
        t = np.arange(len(sig.values))
        if sig.column.endswith("hand_valid"):
            for k, name in enumerate(sig.names):
                ax.step(t, sig.values[:, k] * 0.9 + k * 1.6, where="post", color=HAND_COLORS[k % 2], label=name)
            levels = [
                (k * 1.6 + up * 0.9, f"{n} {'tracked' if up else 'not'}")
                for k, n in enumerate(sig.names)
                for up in (0, 1)
            ]
            ax.set_yticks([y for y, _ in levels], [label for _, label in levels], fontsize=6)
        else:
            ax.plot(t, sig.values, lw=0.8)
            if 0 < len(sig.names) <= LEGEND_MAX:
                wide = len(sig.names) > 6 and max(map(len, sig.names)) <= 16  # long names: one column
                ax.legend(sig.names, fontsize=6, loc="upper left", bbox_to_anchor=(1.005, 1), ncol=1 + wide)
        more = f" ({len(sig.names)} dims)" if len(sig.names) > LEGEND_MAX else ""
        ax.set_title(f"{sig.column}{more}", fontsize=8, loc="left")
        ax.tick_params(labelsize=7)
        for m in marks:
            ax.axvline(m, color="#868e96", ls=":", lw=0.8)
    if not detail.signals:
        axes[0].text(0.5, 0.5, "no state, action or hand signal", ha="center", va="center", transform=axes[0].transAxes)
    axes[0].set_xlim(0, last)
    axes[-1].set_xlabel(f"frame ({detail.fps:g} Hz)", fontsize=8)
    return fig


def _summary(d: EpisodeDetail) -> str:
    r, lin = d.row, d.lineage
    facts = [
        ["episode", r.get("episode_uid") or lin.episode_uid or "?"],
        ["dataset, index", f"{d.dataset}, {d.index}"],
        ["tier", r.get("tier") or lin.tier or "?"],
        ["frames, seconds", f"{d.length}, {d.length / d.fps:.1f} s at {d.fps:g} Hz"],
        ["cameras", ", ".join(s.key for s in d.strips) or "none"],
        ["task", r.get("task") or ""],
    ]
    # one episode: its own figures (the lineage's sentences), the notes that lower nothing apart
    noted = list(lin.tier_notes or [])
    reasons = [x for x in lin.tier_reasons or [] if x not in noted] or list(r.get("tier_reasons") or [])
    body = _table(["what", "value"], facts)
    body += "<h3>Reasons for its tier</h3>" + (
        "<ul>" + "".join(f"<li>{_e(x)}</li>" for x in reasons) + "</ul>"
        if reasons
        else '<p class="note">none: nothing lowered its tier</p>'
    )
    if noted:
        body += "<h3>Notes (they lower nothing)</h3><ul>" + "".join(f"<li>{_e(x)}</li>" for x in noted) + "</ul>"
    body += "<h3>QA findings behind its tier</h3>" + table_or(
        ["stage", "finding", "tier", "value", "threshold", "message"],
        [
            [f["stage"], f["code"], f["tier"], f"{f['value']:.4g}", f"{f['threshold']:.4g}", f["message"]]
            for f in d.findings
        ],
        "no finding in the verdicts view",
    )
    return body


def _frames(d: EpisodeDetail) -> str:
    """Each camera's decoded frames as lossless PNGs (the page shows the decoded pixels exactly), at zlib's fastest
    level: on the demo's 224x224 frames 0.08 s a page's strip where the default level took 0.42 s, for 22 % more
    bytes."""
    parts = []
    for s in d.strips:
        cells = "".join(
            f'<figure><img alt="{_e(s.key)} frame {t}" data-camera="{_e(s.key)}" data-frame="{t}" '
            f'src="{png_uri(Image.fromarray(np.ascontiguousarray(img, np.uint8)), 1)}">'
            f"<figcaption>frame {t} · {t / d.fps:.1f} s</figcaption></figure>"
            for t, img in zip(s.frame_indices, s.frames, strict=True)
        )
        note = f'<p class="note">{_e(s.note)}</p>' if s.note else ""
        parts.append(f"<h3>{_e(s.key)}</h3>" + (f'<div class="strip">{cells}</div>' if cells else "") + note)
    return "".join(parts) or '<p class="note">the dataset has no video camera</p>'


def _signals(d: EpisodeDetail) -> str:
    marks = sorted({t for s in d.strips for t in s.frame_indices})
    uri = png_data_uri(signals_figure(d, marks), crop=False)  # the cursor maps onto its axes
    last = max(d.length - 1, 0)
    missing = f'<p class="note">not in this dataset: {_e(", ".join(d.missing))}</p>' if d.missing else ""
    return (
        f'<label>time cursor: <span id="cursor-at"></span></label>'
        f'<input id="cursor" type="range" min="0" max="{last}" value="0" data-fps="{d.fps:g}">'
        f'<div class="plot"><img alt="signals of the episode" src="{uri}" data-frames="{d.length}" '
        f'data-x0="{PLOT_LEFT}" data-x1="{PLOT_RIGHT}"><div id="cursor-line"></div></div>'
        '<p class="note">Canonical state and action: the dims its mask fills; natives: every column. Dotted: the '
        "frames of the strips above.</p>" + missing
    )


def _lineage(d: EpisodeDetail) -> str:
    lin = d.lineage.model_dump(mode="json", exclude_none=True)
    rows = [
        [k, json.dumps(lin[k]) if not isinstance(lin[k], str) else lin[k]]
        for k in LINEAGE_FIELDS + LINEAGE_MORE
        if k in lin
    ]
    notes = [list(n) for n in lineage_notes(d.lineage)]
    return (
        table_or(["field", "value"], rows, "the episode has no eidata lineage")
        + "<h3>Notes: how it was built (they set no tier)</h3>"
        + table_or(["lineage field", "note"], notes, "none")
    )


SECTIONS = (
    ("episode", "Tier, its reasons and the findings behind it", _summary),
    ("frames", "Frames per camera", _frames),
    ("signals", "Signals over time", _signals),
    ("lineage", "Lineage and notes", _lineage),
)


def episode_html(root: Path, dataset: str, index: int) -> str:
    """The page of episode `index` of `dataset` in the corpus at `root` (EpisodeNotFound when it lacks it)."""
    d = episode_detail(Path(root), dataset, index)
    name = f"{d.dataset}:{d.index}"
    meta = f"corpus {Path(root).name}; generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')}"
    sections = [Section(key, title, build(d)) for key, title, build in SECTIONS]
    return render_page(f"eidata episode: {name}", f"episode {name}", meta, sections, EPISODE_STYLE, CURSOR)


def write_pages(root: Path, links: EpisodeLinks, folder: Path, limit: int | None) -> EpisodeLinks:
    """The pages of the first `limit` (None: all) episodes of `links`, each written in `folder` at its
    `episode_href`; one the corpus cannot show is said in `links.unwritten` (and so in the report's note)."""
    chosen = list(links.named.items())[:limit]
    with closing(Progress(len(chosen), "episode pages", unit="page")) as bar:
        for uid, (dataset, index) in chosen:
            href = episode_href(dataset, index)
            try:
                atomic_write(Path(folder) / href, episode_html(root, dataset, index))
                links.pages[uid] = href
            except EpisodeNotFound as err:
                links.unwritten[uid] = str(err)
                log.warning("episode page of %s:%d not written: %s", dataset, index, err)
            bar.update(1)
    return links
