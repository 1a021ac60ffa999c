"""The report's figures draw the numbers they are given (bar lengths, histogram counts, image cells, line points
read back from the figure), say so when there is nothing to draw, and render to valid, reproducible PNG bytes and
to valid SVG."""

from __future__ import annotations

import base64
import io
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from jobs.report.data import Trajectory
from jobs.report.plots import (
    HAND_COLORS,
    coverage_figure,
    hours_figure,
    lengths_figure,
    mask_figure,
    png_data_uri,
    qa_figure,
    quarantine_figure,
    trajectories_figure,
)
from schemas.qa import QAConfig

HOURS = [
    {"source": "oxe", "tier": "high", "hours": 2.0, "episodes": 10},
    {"source": "oxe", "tier": "low", "hours": 0.5, "episodes": 3},
    {"source": "egodex", "tier": "high", "hours": 1.25, "episodes": 4},
]


def _png(fig: Figure) -> Image.Image:
    uri = png_data_uri(fig)
    assert uri.startswith("data:image/png;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    img.verify()  # a complete PNG
    return img


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in [*ax.texts, ax.title]]


def test_hours_are_stacked_per_source_and_totalled() -> None:
    fig = hours_figure(HOURS)
    (ax,) = fig.axes
    bars = [p for p in ax.patches if p.get_width() > 0]  # a tier a source lacks is a zero-width bar
    assert sorted(p.get_width() for p in bars) == [0.5, 1.25, 2.0]
    assert sorted(p.get_x() + p.get_width() for p in bars) == [1.25, 2.0, 2.5]  # oxe's low stacked on its high
    assert {" 2.5 h", " 1.25 h"} <= set(_texts(fig))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["high", "low"]


def test_lengths_histograms_count_every_episode() -> None:
    durations = {"oxe": np.array([1.0, 1.5, 2.0, 9.0]), "egodex": np.array([3.0, 3.0])}
    fig = lengths_figure(durations)
    for ax, (source, d) in zip(fig.axes, durations.items(), strict=True):
        assert sum(p.get_height() for p in ax.patches) == len(d)
        assert ax.get_title() == f"{source} ({len(d)} episodes, median {np.median(d):.1f} s)"


def test_quarantine_bars_and_coverage_fractions() -> None:
    rows = [{"source": "oxe", "stage": "read", "error_class": "CorruptRecordError", "n": 3}]
    (ax,) = quarantine_figure(rows).axes
    assert [p.get_width() for p in ax.patches] == [3]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["oxe · read · CorruptRecordError"]
    sources = ["oxe", "ego_video", "egodex", "epic_kitchens"]  # names that overlapped as x labels under bars
    fig = coverage_figure([{"source": s, "episodes": 4, "latents": 1, "captions": 3} for s in sources])
    (ax,) = fig.axes
    assert [p.get_width() for p in ax.patches] == [0.25] * 4 + [0.75] * 4  # horizontal bars, one row per source
    assert [t.get_text() for t in ax.get_yticklabels()] == sources and ax.get_legend().get_bbox_to_anchor().x0 > 0
    assert {"1/4", "3/4"} <= set(_texts(fig))


def test_mask_cells_are_the_coverage_fractions() -> None:
    frac = np.linspace(0, 1, 50)
    fig = mask_figure({"franka": (4, frac), "human": (1, np.ones(50))})
    image = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(image, np.stack([frac, np.ones(50)]))
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["franka (4)", "human (1)"]


def test_wrist_trajectories_are_drawn_as_given() -> None:
    xyz = np.cumsum(np.full((5, 3), 0.1), axis=0)
    fig = trajectories_figure([Trajectory("datasets/oxe/bridge #0", "robot base", {"right": xyz})])
    (line,) = fig.axes[0].lines
    np.testing.assert_allclose(np.array(line.get_data_3d()).T, xyz)
    assert line.get_color() == HAND_COLORS[1] and "robot base" in fig.axes[0].get_title()


@pytest.mark.parametrize(
    ("figure", "text"),
    [
        (lambda: hours_figure([]), "no episodes in the catalog"),
        (lambda: lengths_figure({}), "no episodes in the catalog"),
        (lambda: quarantine_figure([]), "no quarantined episodes"),
        (lambda: mask_figure({}), "no action masks"),
        (lambda: coverage_figure([]), "no episodes in the catalog"),
        (lambda: trajectories_figure([]), "no episode with a wrist position"),
        (lambda: qa_figure([], QAConfig()), "no dataset with a measured invariant"),
    ],
)
def test_nothing_to_draw_is_said(figure: object, text: str) -> None:
    fig = figure()  # type: ignore[operator]
    assert any(t.startswith(text) for t in _texts(fig))
    assert _png(fig).format == "PNG"


def test_png_bytes_are_reproducible_and_svg_is_valid() -> None:
    assert png_data_uri(hours_figure(HOURS)) == png_data_uri(hours_figure(HOURS))
    img = _png(hours_figure(HOURS))
    assert img.size[0] > 300 and img.size[1] > 100
    buf = io.BytesIO()
    hours_figure(HOURS).savefig(buf, format="svg")
    root = ET.fromstring(buf.getvalue())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
