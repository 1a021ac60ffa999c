"""The corpus report's "Sampled frames" section: a strip of frames per dataset, bounded by what a reader can look at;
and which datasets the report draws when a corpus has more than a reader can look at.

A corpus of thousands of datasets is mostly families of like datasets (one source's subsets, one robot's recordings):
the datasets are grouped by family (source and embodiment, from the catalog) and taken in turn from each family (every
family's first before any family's second) up to a cap (`chosen`): at most `MAX_STRIPS` strips are drawn, so a corpus
of up to `MAX_STRIPS` datasets shows every one, and at most `MAX_FIGURE_ROWS` rows in a per-dataset QA figure (`page`,
`figure_rows`). Every other dataset is named in a table (below the strips in its family's row, with the command that
shows one of its episodes): none is dropped silently.

A strip is one composed image (PIL: the frames scaled to `STRIP_HEIGHT`, keypoints drawn on them or in a panel
beside them), not a plotting figure: on the 10k benchmark one matplotlib strip per dataset took 93 of the report's
144 s.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from jobs.catalog.query import run_query
from jobs.report.data import Strip, dataset_view, frame_strip
from jobs.report.markup import Markup, escape, figure, png_uri, table
from schemas.canonical import BONES
from schemas.corpus import DATASETS_DIR

MAX_FIGURE_ROWS = 40  # datasets a per-dataset QA figure draws (one row each); its table lists every one

FAMILIES_SQL = """SELECT dataset, any_value(source) AS source, any_value(embodiment) AS embodiment,
                         bool_or(len(cameras) > 0) AS video, count(*) AS episodes
                  FROM episodes GROUP BY dataset ORDER BY dataset"""


@dataclass
class Family:
    """Datasets of one source and embodiment, in name order; those whose episodes have no camera apart."""

    source: str
    embodiment: str
    datasets: list[str] = field(default_factory=list)  # with a video
    no_video: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.source} · {self.embodiment}"


def families(root: Path) -> list[Family]:
    """The catalog's datasets grouped by (source, embodiment), in the order of each family's first dataset."""
    out: dict[tuple[str, str], Family] = {}
    for r in run_query(root, FAMILIES_SQL).to_pylist():
        fam = out.setdefault((r["source"], r["embodiment"]), Family(r["source"], r["embodiment"]))
        (fam.datasets if r["video"] else fam.no_video).append(r["dataset"])
    return list(out.values())


def round_robin(found: list[Family]) -> list[str]:
    """Every dataset with a video, each family's first, then each one's second, ..."""
    turns = zip_longest(*(f.datasets for f in found))
    return [d for turn in turns for d in turn if d is not None]


def chosen(found: list[Family], cap: int) -> list[str]:
    """At most `cap` datasets with a video, taken in turn from each family (its first, then its second, ...)."""
    return sorted(round_robin(found)[:cap])


def family_rank(root: Path) -> dict[str, int]:
    """Each dataset's place in the turn the families take (`round_robin`, a dataset without video counted as one
    with): a figure that draws the first `cap` of a family's turn needs no other dataset's records."""
    return {d: k for k, d in enumerate(round_robin([Family("", "", f.datasets + f.no_video) for f in families(root)]))}


def figure_rows(root: Path, names: list[str], first: Collection[str], cap: int | None = None) -> list[str]:
    """Of the datasets `names` (a QA figure's rows, in order), at most `cap` (None: `MAX_FIGURE_ROWS`): those in
    `first` (with a finding), then the others taken in turn from each family; in the order of `names`."""
    cap = MAX_FIGURE_ROWS if cap is None else cap
    if len(names) <= cap:
        return list(names)
    picked = [n for n in names if n in first][:cap]
    have, rest = set(names), set(picked)
    found = [
        Family(f.source, f.embodiment, [d for d in f.datasets + f.no_video if d in have and d not in rest])
        for f in families(root)
    ]
    picked += chosen(found, cap - len(picked))
    keep = set(picked)
    return [n for n in names if n in keep]


MAX_STRIPS = 24  # strips drawn in all, one per family first
STRIP_HEIGHT = 160  # pixels of a frame in the strip
GAP = 4  # pixels between frames
HAND_RGB = ((28, 126, 214), (232, 89, 12))  # left, right (plots.HAND_COLORS)

# -- one strip as one image ---------------------------------------------------------------------------------------


def _segments(points: np.ndarray) -> list[tuple[float, float, float, float]]:
    """The MANO bones between finite points of (21, 2) `points`: (x0, y0, x1, y1) each."""
    return [
        (points[a, 0], points[a, 1], points[b, 0], points[b, 1]) for a, b in BONES if np.isfinite(points[[a, b]]).all()
    ]


def _draw_hand(draw: ImageDraw.ImageDraw, points: np.ndarray, rgb: tuple[int, int, int], at: tuple[int, int]) -> int:
    """The hand's bones and points drawn, offset by `at`; the number of bones drawn."""
    x0, y0 = at
    bones = _segments(points)
    for xa, ya, xb, yb in bones:
        draw.line([(xa + x0, ya + y0), (xb + x0, yb + y0)], fill=rgb, width=2)
    for x, y in points[np.isfinite(points).all(axis=1)]:
        draw.ellipse([x + x0 - 2, y + y0 - 2, x + x0 + 2, y + y0 + 2], fill=rgb)
    return len(bones)


def side_panel(strip: Strip, size: int = STRIP_HEIGHT) -> tuple[list[np.ndarray], int]:
    """The keypoints of the strip's middle frame in a front view of the gravity-aligned frame (right = -y, up = z),
    scaled to fit a `size` square with the aspect kept: per hand (21, 2) pixels (NaN where not drawable), and that
    frame's index."""
    mid = len(strip.frame_indices) // 2
    views = {h: np.stack([-strip.keypoints[mid, h][:, 1], -strip.keypoints[mid, h][:, 2]], axis=1) for h in strip.hands}
    finite = np.concatenate([v[np.isfinite(v).all(axis=1)] for v in views.values()] or [np.zeros((0, 2))])
    lo = finite.min(axis=0) if len(finite) else np.zeros(2)
    span = float(np.ptp(finite, axis=0).max()) if len(finite) else 1.0
    scale = (size - 16) / (span or 1.0)
    out = [np.full((21, 2), np.nan) for _ in range(2)]
    for h, v in views.items():
        out[h] = (v - lo) * scale + 8
    return out, strip.frame_indices[mid]


def strip_image(strip: Strip, height: int = STRIP_HEIGHT) -> tuple[Image.Image, int]:
    """The strip's frames scaled to `height`, side by side, the projected keypoints drawn on them and a keypoint panel
    after them when the strip has one; the image and the number of bones drawn in the panel."""
    tiles, bones = [], 0
    for i, frame in enumerate(strip.frames):
        h, w = frame.shape[:2]
        scale = height / h
        tile = Image.fromarray(np.ascontiguousarray(frame, np.uint8)).resize((max(1, round(w * scale)), height))
        if strip.projected is not None:
            draw = ImageDraw.Draw(tile)
            for hand in strip.hands:
                _draw_hand(draw, strip.projected[i][hand] * scale, HAND_RGB[hand], (0, 0))
        tiles.append(tile)
    if strip.method == "side panel" and strip.keypoints is not None:
        panel = Image.new("RGB", (height, height), "white")
        draw = ImageDraw.Draw(panel)
        points, _ = side_panel(strip, height)
        bones = sum(_draw_hand(draw, points[hand], HAND_RGB[hand], (0, 0)) for hand in strip.hands)
        tiles.append(panel)
    width = sum(t.width for t in tiles) + GAP * max(len(tiles) - 1, 0)
    out = Image.new("RGB", (max(width, 1), height), "white")
    x = 0
    for t in tiles:
        out.paste(t, (x, 0))
        x += t.width + GAP
    return out, bones


def strip_html(strip: Strip) -> str:
    image, _ = strip_image(strip)
    said = ", ".join(str(t) for t in strip.frame_indices)
    panel = ""
    if strip.method == "side panel" and strip.keypoints is not None:
        panel = f"; last panel: keypoints at frame {side_panel(strip)[1]} (front view: right = -y, up = z)"
    caption = f"{strip.dataset}, episode {strip.episode}, {strip.camera}: frames {said}{panel}"
    caption += f" — {strip.note}" if strip.note else ""
    return figure(png_uri(image), f"frames of {strip.dataset}", caption)


# -- the section --------------------------------------------------------------------------------------------------


def frames_html(root: Path, corpus: str) -> str:
    """The section's body: the chosen datasets' strips, then per family what was drawn and every dataset that was
    not, named, with the command that shows one of its episodes."""
    found = families(root)
    drawn = chosen(found, MAX_STRIPS)
    parts = []
    for name in drawn:
        strip = frame_strip(dataset_view(root, name, first=1))
        if strip is None:
            parts.append(f'<p class="note">{escape(name)}: no video or no episode</p>')
            continue
        parts.append(strip_html(strip))
    total = sum(len(f.datasets) + len(f.no_video) for f in found)
    head = (
        f'<p class="note">{len(drawn)} of the {total} datasets drawn (at most {MAX_STRIPS}, one per family of source '
        "and embodiment first); every other dataset is named in its family's row below. "
        f"`eidata report {escape(corpus)} --episode DATASET:0` shows any one's frames and signals.</p>"
    )
    return head + "".join(parts) + _families_table(found, set(drawn))


def _names(names: list[str]) -> Markup:
    """Dataset names without `datasets/`, more than a few folded under their count."""
    short = escape(", ".join(n.removeprefix(f"{DATASETS_DIR}/") for n in names)) if names else "none"
    return Markup(short if len(names) <= 6 else f"<details><summary>{len(names)} datasets</summary>{short}</details>")


def _families_table(found: list[Family], drawn: set[str]) -> str:
    head = ["family", "datasets", "drawn above", "not drawn (over the cap)", "no video"]
    rows: list[list[object]] = [
        [
            f.label,
            len(f.datasets) + len(f.no_video),
            _names([d for d in f.datasets if d in drawn]),
            _names([d for d in f.datasets if d not in drawn]),
            _names(f.no_video),
        ]
        for f in found
    ]
    return table(head, rows)
