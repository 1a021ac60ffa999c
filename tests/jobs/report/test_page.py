"""`eidata report`: a self-contained page whose every section renders in headless Chromium without console errors
(and a page with a broken image or a missing section is caught); keypoints projected with known geometry. The corpus:
corpus.py; what the page plots is read by data.py (test_data.py) and drawn by plots.py (test_plots.py)."""

from __future__ import annotations

import base64
import io
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adapters.poses import se3
from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.cli import main
from jobs.report.data import ReportError, dataset_view
from jobs.report.keypoints import project, stored_lens
from jobs.report.page import SECTIONS, report_html
from schemas.camera_model import PinholeCamera
from tests.fixtures.corpus import episode, write_dataset
from tests.jobs.report.corpus import CAMERA, K
from tests.needs import chromium
from tests.processes import run_group

pytestmark = pytest.mark.shared_ray  # the module's jobs run on one Ray (tests/ray_scope.py)


@pytest.fixture(scope="module")
def report(corpus: Path) -> Path:
    out = corpus / "out/report.html"
    out.parent.mkdir(exist_ok=True)
    out.write_text(report_html(corpus))
    return out


def _images(html: str) -> list[Image.Image]:
    found = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    return [Image.open(io.BytesIO(base64.b64decode(b))) for b in found]


def test_page_is_self_contained_with_every_section(report: Path) -> None:
    html = report.read_text()
    assert not re.search(r"https?://|src=\"(?!data:)|<link|@import", html)
    ids = re.findall(r'<section id="([^"]+)" data-section="\1"[^>]*>', html)
    assert ids == [k for k, *_ in SECTIONS]
    images = _images(html)
    # one image per section but those with nothing to plot (no manifest, no source finding here: a line and tables),
    # one frame strip per dataset (3), one flagged episode beside a clean one
    text_only = re.findall(r'<section id="([^"]+)" data-section="\1" data-text-only>', html)
    assert text_only == ["source_findings", "curated"] and "no source finding" in html
    assert len(images) == len(SECTIONS) - len(text_only) - 1 + 3
    for img in images:
        img.verify()  # a complete, valid PNG
        assert img.format == "PNG" and img.size[0] > 100 and img.size[1] > 50
    assert "CRC mismatch &lt;in&gt; record 3 &amp; more" in html  # text from the data is escaped
    assert "<tr><td>oxe</td><td>2</td><td>1</td><td>1</td></tr>" in html  # coverage: latents 1/2, captions 1/2


def _tables(html: str, section: str) -> list[list[list[str]]]:
    body = re.search(rf'<section id="{section}".*?</section>', html, flags=re.S).group(0)
    return [
        [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row) for row in re.findall(r"<tr>(.*?)</tr>", table)]
        for table in re.findall(r"<table>(.*?)</table>", body)
    ]


def test_what_a_curator_acts_on(report: Path) -> None:
    """Counts per source and dataset with the quarantined beside the written, every episode (the flagged one first,
    beside a clean one), no finding listed twice, no chart of zeros."""
    html = report.read_text()
    counts = _tables(html, "counts")[0]
    assert counts[0] == [
        "source",
        "dataset",
        "written",
        "high",
        "low",
        "actionless",
        "rejected",
        "without action",
        "without hands",
        "quarantined",
    ]
    assert ["oxe", "bridge", "2", "1", "1", "0", "0", "0", "0", "1"] in counts
    totals, by_reason = _tables(html, "losses")
    assert [t[:2] for t in totals[1:]] == [["demoted", "1"], ["quarantined", "1"]]  # the low e1 and the CRC record
    assert [r[:3] for r in by_reason[1:]] == [
        ["demoted to low", "oxe", "(the default tier of its source)"],
        ["quarantined", "oxe", "read: CorruptRecordError"],
    ]
    assert html.index('id="losses"') < html.index('id="hours"') and "lost: 1 demoted, 1 quarantined" in html
    episodes = _tables(html, "episodes")[0]
    assert re.sub(r"<[^>]+>", "", episodes[1][0]) == "oxe/bridge/e1" and len(episodes) == 1 + 4
    assert episodes[1][0].startswith('<a href="#episode-pages" title="eidata report ')  # no page written: its command
    assert 'id="ep-oxe/bridge/e1"' in html and "(no clean episode" not in html  # e0 is its clean partner
    for section in ("behaviour", "qa", "counts"):
        for table in _tables(html, section):
            keys = [tuple(r[:2]) for r in table[1:]]
            assert len(keys) == len(set(keys)), (section, keys)  # a (dataset, finding) said once
    assert "no manifest yet" in html and "exports: none named" in html


def test_no_chart_of_zeros(tmp_path: Path) -> None:
    """A corpus with no latents and no caption gets a line saying so, not an empty chart."""
    from jobs.report.page import Reading

    root = tmp_path / "c"
    write_dataset(root / "datasets/oxe/bridge", "franka", [episode(5, "pick", "oxe/bridge/e0", "franka")])
    rebuild_catalog(Corpus(root))
    coverage = next(build for key, _, build in SECTIONS if key == "coverage")
    body = coverage(Reading(root, None, None))  # type: ignore[arg-type]
    assert "<img" not in body and "no episode has latents or a caption yet" in body


def test_intrinsics_are_scaled_to_the_decoded_frames(corpus: Path) -> None:
    info = dataset_view(corpus, "datasets/egodex/basic").info
    lens, where = stored_lens(info, "observation.images.head", (CAMERA[1] * 2, CAMERA[0] * 2))
    assert lens is not None and lens.model == "pinhole"
    np.testing.assert_allclose(lens.K(), np.diag([2.0, 2.0, 1.0]) @ K)
    assert "(64x48 -> 128x96)" in where


def test_projection_geometry() -> None:
    K = np.array([[200.0, 0, 50], [0, 200.0, 40], [0, 0, 1]])
    rot = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])  # camera turned 90 degrees about z, moved
    ref_from_cam = se3(rot, np.array([1.0, 2.0, 3.0]))
    # OpenCV camera: ahead on the axis, ahead right and down, behind
    cam_pts = np.array([[0.0, 0.0, 2.0], [0.1, 0.2, 1.0], [0.0, 0.0, -1.0]])
    ref_pts = cam_pts @ rot.T + [1.0, 2.0, 3.0]
    uv, front = project(ref_pts, ref_from_cam, PinholeCamera.from_matrix(K, (80, 100)))
    assert front.tolist() == [True, True, False]
    np.testing.assert_allclose(uv[0], [50, 40])
    np.testing.assert_allclose(uv[1], [50 + 200 * 0.1, 40 + 200 * 0.2])  # right of and below the centre
    assert np.isnan(uv[2]).all()


def test_cli(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(corpus), "--out", str(tmp_path / "r.html")]) == 0
    assert f"report: {tmp_path / 'r.html'}" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "not an eidata corpus" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    with pytest.raises(ReportError, match="eidata catalog"):
        report_html(tmp_path / "empty")


# -- headless Chromium --------------------------------------------------------------------------------------------


def render(page: Path, tmp_path: Path) -> tuple[str, list[str]]:
    """(DOM after the load event, console lines) of `page` in headless Chromium."""
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",
        "--window-size=1300,3000",
        f"--screenshot={tmp_path / 'page.png'}",
        "--dump-dom",
        page.as_uri(),
    ]
    # Chromium forks renderer, GPU and zygote processes that outlive the browser process when it is killed (seen
    # spinning at 95% CPU for hours after a timed-out run): it runs in a session of its own and the whole group is
    # killed on every way out, so a hung render fails this test and leaves nothing behind.
    proc = run_group(cmd, timeout=60, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.stdout, proc.stderr
    assert proc.returncode == 0, f"chromium exited {proc.returncode}: {err[-2000:]}"
    return out, [line for line in err.splitlines() if ":CONSOLE" in line]


def _status(dom: str) -> tuple[str, str]:
    body = re.search(r"<body[^>]*>", dom).group(0)
    status = re.search(r'data-report-status="([^"]*)"', body).group(1)
    rendered = re.search(r'data-sections-rendered="([^"]*)"', body)
    return status, rendered.group(1) if rendered else ""


def test_report_renders_in_chromium(report: Path, tmp_path: Path) -> None:
    dom, console = render(report, tmp_path)
    assert _status(dom) == ("ok", str(len(SECTIONS))), re.search(r'id="report-status">([^<]*)', dom).group(1)
    assert console == []
    assert f"all {len(SECTIONS)} sections ok" in dom  # every image decoded, no section wider than the window
    shot = np.asarray(Image.open(tmp_path / "page.png").convert("L"))
    assert shot.shape == (3000, 1300) and shot.std() > 20  # the page as drawn: text and plots, not a blank


def test_chromium_check_catches_a_broken_image_and_a_missing_section(report: Path, tmp_path: Path) -> None:
    html = report.read_text()
    frames = html.index('data-section="frames"')
    at = html.index("base64,", frames) + len("base64,") + 400
    broken = tmp_path / "broken.html"
    broken.write_text(html[:at] + "!!not-png!!" + html[at + 11 :])
    dom, console = render(broken, tmp_path)
    assert _status(dom)[0] == "broken"
    assert any("section frames image 0 did not decode" in line for line in console)
    missing = tmp_path / "missing.html"
    missing.write_text(re.sub(r'<section id="coverage".*?</section>', "", html, flags=re.S))
    dom, console = render(missing, tmp_path)
    assert _status(dom) == ("broken", str(len(SECTIONS) - 1))
    assert any("section coverage missing" in line for line in console)
