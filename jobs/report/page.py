"""`eidata report ROOT --out report.html`: one self-contained HTML page of plots about a corpus.

The sections are `SECTIONS`, each drawn by its builder from the catalog and the datasets (`jobs.report.data`). Every
image is a PNG data URI; the page loads nothing from anywhere. A small script checks on load that every expected section
is there and that each of its images decoded, and records the verdict in `<body data-report-status>` ("ok" or
"broken") and on the console, so a headless browser can tell a page that renders from one that does not.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from importlib import resources
from itertools import islice
from pathlib import Path

from ingest.progress import Progress
from jobs.catalog import losses
from jobs.catalog.build import catalog_snapshot_hash
from jobs.catalog.query import one_reading
from jobs.report import curation, strips
from jobs.report.behaviour import BehaviourView, behaviour_by_dataset, behaviour_figure
from jobs.report.data import (
    coverage_by_source,
    durations_by_source,
    hours_by_source_tier,
    qa_by_dataset,
    quarantine_reasons,
    require_catalog,
    source_findings,
    wrist_trajectories,
)
from jobs.report.episode_links import QUARANTINED, EpisodeLinks, named_episodes
from jobs.report.exports import exports_html
from jobs.report.markup import MAX_ROWS, Markup, capped, table_or
from jobs.report.markup import escape as _e
from jobs.report.markup import figure as _figure
from jobs.report.markup import table as _table
from jobs.report.masks import CorpusMasks, corpus_masks
from jobs.report.plots import (
    coverage_figure,
    hours_figure,
    lengths_figure,
    mask_figure,
    png_data_uri,
    qa_figure,
    quarantine_figure,
    source_findings_figure,
    trajectories_figure,
)
from jobs.report.strips import MAX_FIGURE_ROWS, family_rank, figure_rows
from schemas.corpus import MANIFESTS_DIR
from schemas.manifest import MANIFEST_JSON

# the page's style, and the script that runs on load: every expected section present, every image in it decoded;
# verdict on <body> and the console
STYLE = resources.files("jobs.report").joinpath("page.css").read_text(encoding="utf-8")
CHECK_SCRIPT = resources.files("jobs.report").joinpath("check.js").read_text(encoding="utf-8")


@dataclass
class Section:
    key: str
    title: str
    body: str  # HTML


@dataclass
class Reading:
    """What a section's builder reads: the corpus folder, its datasets' one streamed pass, the episode pages the report
    links to (`jobs.report.episode_links`) and the folders of exports made from it."""

    root: Path
    scan: CorpusMasks
    links: EpisodeLinks
    exports: Sequence[Path] = ()


# -- sections ---------------------------------------------------------------------------------------------------


def _losses(src: Reading) -> str:
    totals = losses.loss_totals(src.root)
    if not totals:
        return '<p class="note">nothing lost: no episode quarantined, demoted, without action or without hands</p>'
    rows = losses.losses_by_reason(src.root)
    caption = (
        "Quarantined: never written. Demoted: lowered to low or rejected by a finding. Without action: a robot's "
        "episode with neither a canonical nor a native action. Without hands: human episodes with no tracked hand. "
        "Each reason with the figures of its example episode (the catalog's tier_reasons group them, figures as #)."
    )
    quarantined = quarantine_reasons(src.root)
    chart = _figure(png_data_uri(quarantine_figure(quarantined)), "quarantine reasons") if quarantined else ""
    return (
        f'<p class="note">{_e(caption)}</p>{chart}'
        + _table(["lost", "episodes", "by source"], [[t["loss"], t["episodes"], t["by_source"]] for t in totals])
        + _table(
            ["lost", "source", "reason", "episodes", "example"],
            [[r["outcome"], r["source"], r["said"], r["episodes"], _example(r, src.links)] for r in rows],
        )
    )


def _example(row: dict[str, object], links: EpisodeLinks) -> Markup:
    """A loss's example: a written episode links to its page, a quarantined one to its quarantine record."""
    example = str(row["example"])
    return links.quarantined(example) if row["outcome"] == "quarantined" else links.link(example, example)


def _hours(src: Reading) -> str:
    rows = hours_by_source_tier(src.root)
    table = _table(
        ["source", "tier", "episodes", "hours"],
        [[r["source"], r["tier"], r["episodes"], f"{r['hours']:.4f}"] for r in rows],
    )
    return _figure(png_data_uri(hours_figure(rows)), "hours by source and tier") + table


def _counts(src: Reading) -> str:
    rows = curation.counts_by_dataset(src.root)
    head = ["source", "dataset", *(k.replace("_", " ") for k in curation.COUNTED)]
    rest = _query(src, "SELECT source, dataset, tier, count(*) AS episodes FROM episodes GROUP BY ALL ORDER BY ALL")
    table = capped(head, [[r["source"], r["subset"], *(r[k] for k in curation.COUNTED)] for r in rows], rest)
    caption = (
        "Written episodes by tier (low, rejected: demoted by a finding), those without the action or the hands their "
        "source should give, and quarantined raw episodes (never written), per source; the losses section names why."
    )
    return _figure(png_data_uri(curation.counts_figure(rows)), "episodes per source", caption) + table


def _lengths(src: Reading) -> str:
    return _figure(png_data_uri(lengths_figure(durations_by_source(src.root))), "episode length histograms")


def _source_findings(src: Reading) -> str:
    rows = source_findings(src.root)
    table = _table(
        ["source", "dataset", "severity", "finding", "message", "source root"],
        [[r["source"], r["subset"] or "(all)", r["severity"], r["code"], r["message"], r["source_root"]] for r in rows],
    )
    caption = (
        "Declared episodes or cameras without files, files outside the layout, folders skipped, sources that "
        "yielded nothing (catalog/source_findings; each concerned episode's lineage names them)."
    )
    if not rows:
        return f'<p class="note">no source finding: every source gave what it declared. {_e(caption)}</p>'
    return _figure(png_data_uri(source_findings_figure(rows)), "source findings", caption) + table


def _masks(src: Reading) -> str:
    caption = (
        "Per embodiment, the fraction of episodes whose action mask has each canonical dim "
        "(L/R hand: wrist position, rotation 6D, gripper, fingertips)."
    )
    return _figure(png_data_uri(mask_figure(src.scan.coverage)), "action mask coverage", caption)


def _frames(src: Reading) -> str:
    return strips.frames_html(src.root, src.links.corpus)


def _trajectories(src: Reading) -> str:
    caption = "Wrist positions of the canonical state (o: start, x: end), in each dataset's canonical frame."
    drawn = trajectories_figure(wrist_trajectories(src.scan.wrists))
    return _figure(png_data_uri(drawn), "wrist trajectories", caption)


def _qa(src: Reading) -> str:
    view = qa_by_dataset(src.root)
    failed = [
        [d, f.code, f"{f.value:.4g}", f"{f.threshold:.4g}", f.message] for d, fs in view.failed.items() for f in fs
    ]
    head = ["dataset", "invariant", "measured", "threshold", "finding"]
    measures = _query(src, "SELECT dataset, geometry_overview FROM dataset_qa ORDER BY dataset")
    verdict = table_or(head, failed, "every dataset passes every invariant", f"every dataset's measures: {measures}")
    overview = capped(
        ["dataset", "measured invariants"],
        [[s.dataset, line] for s, line in zip(view.summaries, view.overviews, strict=True)],
        measures,
    )
    caption = (
        "Measured invariants per dataset, pooled over its episodes from the catalog's qa_* columns, against "
        "their thresholds (dashed). The approach axis is the canonical wrist's z (wrist -> fingertips); "
        f"top-down within {view.config.top_down_max_deg:g} deg of straight down."
    )
    rows = figure_rows(src.root, [s.dataset for s in view.summaries], {d for d, fs in view.failed.items() if fs})
    keep = set(rows)
    drawn = [s for s in view.summaries if s.dataset in keep]
    caption += _rows_said(len(drawn), len(view.summaries))
    return verdict + _figure(png_data_uri(qa_figure(drawn, view.config)), "geometry QA", caption) + overview


def _behaviour(src: Reading) -> str:
    rank, with_finding = family_rank(src.root), [0]

    def candidate(dataset: str, found: bool) -> bool:  # what the figure may draw: its records kept, no other's
        with_finding[0] += found
        return (found and with_finding[0] <= MAX_FIGURE_ROWS) or rank.get(dataset, MAX_FIGURE_ROWS) < MAX_FIGURE_ROWS

    view = behaviour_by_dataset(src.root, candidate)
    found = list(view.messages)
    said = {(row[0], row[1]) for row in found}  # the catalog build's dataset findings repeat ingest.qa.dataset's
    found += [
        [f["dataset"], f["code"], "", f["message"]]
        for f in view.catalog_findings
        if (f["dataset"], f["code"]) not in said
    ]
    head = ["dataset", "finding", "tier", "measured vs threshold (worst episodes)"]
    every = "SELECT dataset, finding_codes, finding_messages FROM dataset_qa WHERE len(finding_codes) > 0 ORDER BY 1"
    rest = f"{_query(src, every)} and {_query(src, 'SELECT * FROM findings ORDER BY dataset')}"
    verdict = table_or(head, found, "no behaviour finding in any dataset", rest)
    measures = _query(src, "SELECT dataset, behaviour_overview FROM dataset_qa ORDER BY dataset")
    overview = capped(["dataset", "measured behaviour"], view.overview, measures)
    caption = (
        "Per episode (dots), the behaviour QA's measured values from the catalog's qa_* columns against the "
        "thresholds of the corpus's ingest spec: dashed demotes to low, dotted quarantines."
    )
    rows = set(figure_rows(src.root, [b.dataset for b in view.datasets], {row[0] for row in found}))
    drawn = BehaviourView(view.config, [b for b in view.datasets if b.dataset in rows], view.catalog_findings)
    caption += _rows_said(len(drawn.datasets), view.total)
    return verdict + _figure(png_data_uri(behaviour_figure(drawn)), "behaviour QA", caption) + overview


def _query(src: Reading, sql: str) -> str:
    """The command that lists what a capped table leaves out (`jobs.report.markup.capped`)."""
    return f"`eidata query {shlex.quote(src.links.corpus)} {shlex.quote(sql)}`"


def _rows_said(drawn: int, datasets: int) -> str:
    """A per-dataset figure's caption: how many of the datasets it draws when it leaves some out."""
    if drawn == datasets:
        return ""
    return (
        f" {drawn} of the {datasets} datasets drawn (at most {MAX_FIGURE_ROWS}): those with a finding first, then "
        "one per family of source and embodiment in turn; the table below gives every dataset's measures."
    )


def _curated(src: Reading) -> str:
    found = curation.manifests(src.root)
    if found:
        rows = [
            [
                m.name,
                m.where,
                m.balance,
                m.num_entries,
                ", ".join(f"{s}: {c.episodes} ep, {c.hours:.3f} h" for s, c in m.splits.items()),
                ", ".join(f"{s} {w:.0%}" for s, w in m.sampling_weights.items()),
                ", ".join(f"{t.value} {n}" for t, n in m.tiers.items()),
                m.created_at.strftime("%Y-%m-%d %H:%M"),
            ]
            for m in found
        ]
        body = _table(["manifest", "where", "balance", "episodes", "splits", "sampling share", "tiers", "made"], rows)
        mix = [  # the rows shown alone: 8 manifests of 29,852 datasets each were 240k rows formatted at 1M
            [m.name, e.dataset, e.robot_type, e.episodes, f"{e.hours:.3f}", f"{e.weight:.3f}"]
            for m, e in islice(((m, e) for m in found for e in m.mixture), MAX_ROWS)
        ]
        rest = f"each manifest's mixture is in {MANIFESTS_DIR}/NAME/{MANIFEST_JSON}"
        total = sum(len(m.mixture) for m in found)
        body += capped(["manifest", "dataset", "robot type", "episodes", "hours", "weight"], mix, rest, total)
    else:
        body = '<p class="note">no manifest yet: `eidata curate ROOT --name NAME --where ...` makes one</p>'
    body += exports_html(list(src.exports))
    return body


def _episodes(src: Reading) -> str:
    shown = curation.episode_rows(src.root, curation.MAX_EPISODE_ROWS)
    parts = curation.flagged_pairs(src.root, shown, lambda uid: src.links.link(uid, "its page"))
    table = _table(
        ["episode", "dataset", "tier", "seconds", "frames", "cameras", "findings", "tier reasons and notes"],
        [
            [
                src.links.link(r["episode_uid"], r["episode_uid"]),
                r["dataset"],
                r["tier"],
                f"{r['duration_s']:.1f}",
                r["num_frames"],
                ", ".join(r["cameras"] or []),
                ", ".join(r["findings"] or []),
                "; ".join(r["tier_details"] or []),  # one episode: its own figures
            ]
            for r in shown
        ],
    )
    more = src.scan.episodes - len(shown)
    note = f'<p class="note">{more} more episodes: `eidata query ROOT "SELECT * FROM episodes"`</p>' if more else ""
    quarantined = curation.quarantined_rows(src.root, curation.MAX_EPISODE_ROWS)
    q = (
        f'<p class="note" id="{QUARANTINED}">Quarantined: never written, so no frames and no page; the raw file is '
        "named.</p>"
        + _table(
            ["raw episode", "source", "dataset", "step", "error", "message", "file"],
            [list(r.values()) for r in quarantined],
        )
        if quarantined
        else ""
    )
    head = (
        '<p class="note">Each flagged (low or rejected) episode beside a clean one of its dataset: frames, then the '
        "canonical state and action dims its mask uses.</p>"
        if parts
        else '<p class="note">no flagged (low or rejected) episode</p>'
    )
    return head + "".join(parts) + src.links.note() + table + note + q


def _coverage(src: Reading) -> str:
    rows = coverage_by_source(src.root)
    table = _table(["source", "episodes", "latents ready", "caption ready"], [list(r.values()) for r in rows])
    if not any(r["latents"] or r["captions"] for r in rows):  # a chart of zeros says less than this line
        return (
            '<p class="note">no episode has latents or a caption yet (`eidata latents`, `eidata caption`)</p>' + table
        )
    return _figure(png_data_uri(coverage_figure(rows)), "latents and caption coverage") + table


# the corpus page's sections in page order: (key, title, builder of its body's HTML)
SECTIONS: tuple[tuple[str, str, Callable[[Reading], str]], ...] = (
    ("losses", "What the corpus lost, biggest first", _losses),
    ("hours", "Hours by source × tier", _hours),
    ("counts", "Episodes per source and dataset: written, lost, quarantined", _counts),
    ("lengths", "Episode lengths per source", _lengths),
    ("source_findings", "What the sources could not give", _source_findings),
    ("masks", "Action-mask coverage per embodiment", _masks),
    ("frames", "Sampled frames per dataset", _frames),
    ("trajectories", "Canonical wrist trajectories", _trajectories),
    ("qa", "Geometry QA per dataset", _qa),
    ("behaviour", "Behaviour QA per dataset", _behaviour),
    ("curated", "Manifests and exports made from the corpus", _curated),
    ("episodes", "Every episode, flagged ones first", _episodes),
    ("coverage", "Latents and caption coverage", _coverage),
)


# -- page -------------------------------------------------------------------------------------------------------


def render_page(title: str, heading: str, meta: str, sections: list[Section], style: str = "", script: str = "") -> str:
    """A self-contained page of `sections` (the corpus report's, an episode's) and the check that runs on load;
    `style` and `script` add to the report's own."""
    body = "".join(
        f'<section id="{s.key}" data-section="{s.key}"{"" if "<img" in s.body else " data-text-only"}>'
        f"<h2>{_e(s.title)}</h2>{s.body}</section>"
        for s in sections
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{STYLE}{style}</style></head>"
        f'<body data-report-status="pending" data-expected-sections="{_e(json.dumps([s.key for s in sections]))}">'
        f'<h1>{_e(heading)}</h1><p class="meta">{_e(meta)}</p><p id="report-status">report check: pending</p>'
        f"{body}<script>{CHECK_SCRIPT}</script>{script}</body></html>\n"
    )


def report_html(root: Path, exports: Sequence[Path] = (), links: EpisodeLinks | None = None) -> str:
    """The page of the corpus folder `root`, every section rendered; `exports`: folders holding exports of it;
    `links`: the episode pages written beside it (`jobs.report.episode_links`; None: none, each link names the
    command that writes its page)."""
    root = Path(root)
    require_catalog(root)
    sections = []
    with one_reading(root):  # its statements on one connection, each once (`jobs.catalog.query.one_reading`)
        scan = corpus_masks(root)  # every episode's mask, from the catalog
        links = links or named_episodes(root, str(root))
        with closing(Progress(len(SECTIONS), "report", unit="section")) as bar:
            for key, title, build in SECTIONS:
                sections.append(Section(key, title, build(Reading(root, scan, links, exports))))
                bar.update(1)
        lost = ", ".join(f"{t['episodes']} {t['loss']}" for t in losses.loss_totals(root)) or "nothing"
    summary = (
        f"lost: {lost}; {scan.datasets} datasets, {scan.episodes} episodes written; "
        f"catalog snapshot {catalog_snapshot_hash(root)[:12]}; "
        f"generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')}"
    )
    return render_page(f"eidata report: {root.name}", f"eidata corpus report: {root.name}", summary, sections)
