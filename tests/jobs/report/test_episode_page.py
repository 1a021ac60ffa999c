"""One episode's page (`eidata report ROOT --episode DATASET:INDEX`): self-contained; its frames the stored ones at the
stated indices; its signals on one frame axis of the episode's length, where the time cursor maps frames; its reasons,
notes, findings and lineage; rendered by headless Chromium with the corpus report's load check and the cursor on the
chosen frame. The corpus: episode_corpus.py; what the page shows is read by episode_data.py (test_episode_data.py)."""

from __future__ import annotations

import base64
import html as markup
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ingest.lerobot.video_read import decode_frames
from jobs.report.data import frame_indices
from jobs.report.episode_data import episode_detail
from jobs.report.episode_page import PLOT_LEFT, PLOT_RIGHT, episode_html, signals_figure
from jobs.report.plots import DPI
from tests.jobs.report.episode_corpus import DATASET, FINDING, LENGTHS, NOTE, REASONS, write_episode_corpus
from tests.jobs.report.test_page import _status, render
from tests.needs import chromium

VIDEO = "videos/chunk-000/observation.images.head/episode_000001.mp4"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_episode_corpus(tmp_path_factory.mktemp("episodes"))


@pytest.fixture(scope="module")
def page(corpus: Path) -> str:
    return episode_html(corpus, "oxe/bridge", 1)


def _png(uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.removeprefix("data:image/png;base64,")))))


def test_its_frames_are_the_stored_ones_at_their_indices(corpus: Path, page: str) -> None:
    found = re.findall(r'<img alt="[^"]*" data-camera="([^"]+)" data-frame="(\d+)" src="([^"]+)">', page)
    assert [(cam, int(t)) for cam, t, _ in found] == [("observation.images.head", t) for t in frame_indices(LENGTHS[1])]
    stored = dict(decode_frames(corpus / DATASET / VIDEO, [int(t) for _, t, _ in found]))
    for _, t, uri in found:
        np.testing.assert_array_equal(_png(uri)[..., :3], stored[int(t)])  # lossless: the decoded pixels themselves
    for t in (3, 13):
        assert f"frame {t} · {t / 10:.1f} s" in page  # each frame captioned with its index and time


def test_its_signals_reasons_notes_findings_and_lineage(page: str) -> None:
    assert not re.search(r"https?://|src=\"(?!data:)|<link|@import", page)  # self-contained
    plot = re.search(r'<img alt="signals of the episode" src="([^"]+)" data-frames="(\d+)"', page)
    assert plot and int(plot.group(2)) == LENGTHS[1]
    assert _png(plot.group(1)).shape[1] == 12 * DPI  # the whole figure, uncropped: its axes where the cursor expects
    assert f'max="{LENGTHS[1] - 1}"' in page  # the cursor spans the episode
    for said in [*REASONS, NOTE, FINDING.message, FINDING.code, "/raw/oxe/e1", "not in this dataset: action.native"]:
        assert markup.escape(said) in page, said
    assert re.findall(r'<section id="([^"]+)"', page) == ["episode", "frames", "signals", "lineage"]


def test_signal_axes_span_the_episode_where_the_cursor_maps_frames(corpus: Path) -> None:
    d = episode_detail(corpus, DATASET, 1)
    fig = signals_figure(d, [0, 22])
    assert len(fig.axes) == len(d.signals) == 3
    for ax in fig.axes:
        assert ax.get_xlim() == (0, LENGTHS[1] - 1)
        box = ax.get_position()
        assert (box.x0, box.x1) == pytest.approx((PLOT_LEFT, PLOT_RIGHT))
        assert len(ax.lines) >= 2  # its signal and the strip's frames dotted
    assert fig.axes[0].lines[0].get_xdata()[-1] == LENGTHS[1] - 1  # the signal runs to the last frame


def test_the_page_renders_in_chromium_with_its_cursor_on_a_frame(corpus: Path, tmp_path: Path) -> None:
    chromium()  # skips naming what is missing
    out = tmp_path / "page.html"
    out.write_text(episode_html(corpus, DATASET, 1).replace('value="0" data-fps', 'value="13" data-fps'))  # at 13
    dom, console = render(out, tmp_path)
    assert _status(dom) == ("ok", "4") and console == []
    assert "frame 13 (1.3 s)" in dom
    assert re.search(r'<img[^>]*data-frame="13"[^>]*class="at"', dom)  # the nearest strip frame outlined
    assert len(re.findall(r'class="at"', dom)) == 1
    left = float(re.search(r'id="cursor-line" style="left: ([\d.]+)%', dom).group(1))
    assert left == pytest.approx((PLOT_LEFT + 13 / (LENGTHS[1] - 1) * (PLOT_RIGHT - PLOT_LEFT)) * 100, abs=1e-3)


@pytest.mark.shared_ray  # the demo corpus is ingested on the session's Ray (tests/conftest.py `reference`)
def test_the_page_of_a_demo_episode(reference: Path) -> None:
    """The demo's first Bridge episode (lowered to low at ingest, four cameras): every camera's frames are its video's
    at the stated indices, its signals span its length, its reason and the finding behind it are said."""
    d = episode_detail(reference, "bridge/bridge_dataset", 0)
    page = episode_html(reference, "bridge/bridge_dataset", 0)
    assert d.row["tier"] == "low" and d.length == d.row["num_frames"] > 8
    cameras = [s.key for s in d.strips]
    assert len(cameras) == len(d.row["cameras"]) == 4
    found = re.findall(r'data-camera="([^"]+)" data-frame="(\d+)" src="([^"]+)"', page)
    assert [(c, int(t)) for c, t, _ in found] == [(c, t) for c in cameras for t in frame_indices(d.length)]
    dataset = reference / "datasets/bridge/bridge_dataset"
    for cam in cameras:
        stored = dict(decode_frames(dataset / f"videos/chunk-000/{cam}/episode_000000.mp4", frame_indices(d.length)))
        for c, t, uri in found:
            if c == cam:
                np.testing.assert_array_equal(_png(uri)[..., :3], stored[int(t)])
    assert f'data-frames="{d.length}"' in page and all(len(s.values) == d.length for s in d.signals)
    for reason in d.lineage.tier_reasons or []:  # one episode's page: its own sentences, figures and all
        assert markup.escape(reason) in page
    assert [f["code"] for f in d.findings] == ["qa_tracking_corr"] and "qa_tracking_corr" in page
