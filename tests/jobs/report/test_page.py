"""`eidata report`: a self-contained page whose every section renders in headless Chromium without console errors
(and a page with a broken image or a missing section is caught); keypoints projected with known geometry."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ingest.canonical.frames import matrix_to_rot6d, se3
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.parts import write_quarantine_part
from jobs.cli import main
from jobs.report.data import ReportError, frame_strip, load_datasets, mask_coverage, wrist_trajectories
from jobs.report.keypoints import CAMERA_COLUMNS, project, stored_intrinsics
from jobs.report.page import SECTIONS, build_report
from schemas.corpus import QuarantineRow
from schemas.robots.registry import default_registry
from tests.fixtures.corpus import episode, write_dataset
from tests.needs import tool_missing

pytestmark = pytest.mark.shared_ray  # the module's jobs run on one Ray (tests/ray_scope.py)

CAMERA = (48, 64)  # stored video (height, width)
K = np.array([[50.0, 0.0, 32.0], [0.0, 50.0, 24.0], [0.0, 0.0, 1.0]])  # in the stored video's pixels


def _hand(n: int, offset: float) -> np.ndarray:
    """(n,21,3) keypoints 1 m in front of an OpenCV camera at the origin (looking along +z, y down)."""
    rng = np.random.default_rng(7)
    xy = rng.uniform(-0.1, 0.1, (21, 2))
    xy[:, 0] += offset
    base = np.c_[xy, np.full(21, 1.0)]
    return np.repeat(base[None], n, axis=0)


def _human_dataset(root: Path, n: int = 8) -> Path:
    """EgoDex-like: keypoints, the camera trajectory in `camera.*` natives, the intrinsics in info.json; its raw
    files named by the lineage do not exist (the report must not need them)."""
    pose = np.r_[0.0, 0.0, 0.0, matrix_to_rot6d(np.eye(3))]  # camera at the reference frame's origin
    kp = np.stack([_hand(n, -0.15), _hand(n, 0.15)], axis=1)
    ep = episode(n, "fold", "egodex/basic/a", "human", hands=True, raw_path="/nowhere/egodex/0.hdf5")
    ep |= {"keypoints": kp, "native": np.repeat(pose[None], n, axis=0)}
    return write_dataset(root, "human", [ep], camera=CAMERA, native_state_names=list(CAMERA_COLUMNS), intrinsics=K)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    write_dataset(
        root / "datasets/oxe/bridge",
        "franka",
        [
            episode(12, "pick", "oxe/bridge/e0", "franka"),
            episode(9, "open", "oxe/bridge/e1", "franka", tier="low", caption={"text": "a gripper opens a drawer"}),
        ],
        camera=CAMERA,
    )
    _human_dataset(root / "datasets/egodex/basic")
    nothing = [0] * 50
    clip = episode(10, "cooking", "ego4d/clips/v0", "human_video", mask=nothing, tier="actionless")
    write_dataset(root / "datasets/ego4d/clips", "human_video", [clip], mask=nothing, camera=CAMERA)
    latents = root / "datasets/oxe/bridge/latents/chunk-000/observation.images.head/episode_000001.safetensors"
    latents.parent.mkdir(parents=True)
    latents.write_bytes(b"placeholder")
    row = QuarantineRow(
        episode_uid="oxe/bridge/bad",
        source="oxe",
        subset="bridge",
        adapter="oxe",
        raw_path="/raw/oxe/bad",
        stage="read",
        error_class="CorruptRecordError",
        message="CRC mismatch <in> record 3 & more",
        quarantined_at=datetime(2024, 1, 2, tzinfo=UTC),
    )
    write_quarantine_part(root, [row], "job-0")
    rebuild_catalog(root)
    return root


@pytest.fixture(scope="module")
def report(corpus: Path) -> Path:
    return build_report(corpus, corpus / "out/report.html")


def _images(html: str) -> list[Image.Image]:
    found = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    return [Image.open(io.BytesIO(base64.b64decode(b))) for b in found]


def test_page_is_self_contained_with_every_section(report: Path) -> None:
    html = report.read_text()
    assert not re.search(r"https?://|src=\"(?!data:)|<link|@import", html)
    ids = re.findall(r'<section id="([^"]+)" data-section="\1">', html)
    assert ids == [k for k, _ in SECTIONS]
    images = _images(html)
    assert len(images) == len(SECTIONS) - 1 + 3  # one image per section, one frame strip per dataset (3)
    for img in images:
        img.verify()  # a complete, valid PNG
        assert img.format == "PNG" and img.size[0] > 100 and img.size[1] > 50
    assert "CRC mismatch &lt;in&gt; record 3 &amp; more" in html  # text from the data is escaped
    assert "<tr><td>oxe</td><td>2</td><td>1</td><td>1</td></tr>" in html  # coverage: latents 1/2, captions 1/2


def test_plotted_numbers(corpus: Path) -> None:
    datasets = load_datasets(corpus)
    coverage = mask_coverage(datasets)
    assert {e: n for e, (n, _) in coverage.items()} == {"franka": 2, "human": 1, "human_video": 1}
    for emb, (_, frac) in coverage.items():
        np.testing.assert_array_equal(frac, default_registry().get(emb).mask() if emb != "human_video" else 0)
    trajectories = wrist_trajectories(datasets)
    assert [(t.label, sorted(t.wrists)) for t in trajectories] == [
        ("datasets/egodex/basic #0", ["left", "right"]),
        ("datasets/oxe/bridge #0", ["right"]),
    ]  # ego4d has no wrist; one episode per dataset
    assert trajectories[1].wrists["right"].shape == (12, 3) and trajectories[1].frame == "robot base"


def test_keypoints_are_projected_with_the_stored_intrinsics(corpus: Path) -> None:
    ds = next(d for d in load_datasets(corpus) if d.name == "datasets/egodex/basic")
    strip = frame_strip(ds, count=4)
    assert strip is not None and strip.method == "projected" and strip.hands == [0, 1]
    assert "camera.intrinsics of observation.images.head in info.json" in strip.note
    kp = strip.keypoints[0]
    # OpenCV camera at the origin looking +z, points at z = 1: u = fx x + cx, v = fy y + cy
    want = np.stack([50 * kp[..., 0] + 32, 50 * kp[..., 1] + 24], axis=-1)
    np.testing.assert_allclose(strip.projected[0], want, atol=1e-4)
    assert np.all((want[..., 0] > 0) & (want[..., 0] < CAMERA[1]) & (want[..., 1] > 0) & (want[..., 1] < CAMERA[0]))


def test_intrinsics_are_scaled_to_the_decoded_frames(corpus: Path) -> None:
    info = next(d for d in load_datasets(corpus) if d.name == "datasets/egodex/basic").info
    K2, where = stored_intrinsics(info, "observation.images.head", (CAMERA[1] * 2, CAMERA[0] * 2))
    np.testing.assert_allclose(K2, np.diag([2.0, 2.0, 1.0]) @ K)
    assert "(64x48 -> 128x96)" in where


def test_other_data_strips_and_the_side_panel_fallback(corpus: Path) -> None:
    views = {d.name: d for d in load_datasets(corpus)}
    clip = frame_strip(views["datasets/ego4d/clips"])
    assert clip.method == "none" and "all zero" in clip.note
    robot = frame_strip(views["datasets/oxe/bridge"])
    assert robot.method == "none" and len(robot.frames) == 6 and robot.frames[0].shape == (*CAMERA, 3)
    human = views["datasets/egodex/basic"]
    human.info.features["observation.images.head"].info = None  # a dataset written before intrinsics were kept
    strip = frame_strip(human)
    assert strip.method == "side panel" and "stores no intrinsics" in strip.note and strip.projected is None


def test_projection_geometry() -> None:
    K = np.array([[200.0, 0, 50], [0, 200.0, 40], [0, 0, 1]])
    rot = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])  # camera turned 90 degrees about z, moved
    ref_from_cam = se3(rot, np.array([1.0, 2.0, 3.0]))
    # OpenCV camera: ahead on the axis, ahead right and down, behind
    cam_pts = np.array([[0.0, 0.0, 2.0], [0.1, 0.2, 1.0], [0.0, 0.0, -1.0]])
    ref_pts = cam_pts @ rot.T + [1.0, 2.0, 3.0]
    uv, front = project(ref_pts, ref_from_cam, K)
    assert front.tolist() == [True, True, False]
    np.testing.assert_allclose(uv[0], [50, 40])
    np.testing.assert_allclose(uv[1], [50 + 200 * 0.1, 40 + 200 * 0.2])  # right of and below the centre
    assert np.isnan(uv[2]).all()


def test_cli(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(corpus), "--out", str(tmp_path / "r.html")]) == 0
    assert f"report: {tmp_path / 'r.html'}" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 1
    assert "no catalog" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    with pytest.raises(ReportError, match="eidata catalog"):
        build_report(tmp_path / "empty", tmp_path / "x.html")


# -- headless Chromium --------------------------------------------------------------------------------------------


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    tool_missing("chromium", "not on PATH (Debian: apt-get install chromium; .ci/run installs it with apt)")


def render(page: Path, tmp_path: Path) -> tuple[str, list[str]]:
    """(DOM after the load event, console lines) of `page` in headless Chromium."""
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def _status(dom: str) -> tuple[str, str]:
    body = re.search(r"<body[^>]*>", dom).group(0)
    status = re.search(r'data-report-status="([^"]*)"', body).group(1)
    rendered = re.search(r'data-sections-rendered="([^"]*)"', body)
    return status, rendered.group(1) if rendered else ""


def test_report_renders_in_chromium(report: Path, tmp_path: Path) -> None:
    dom, console = render(report, tmp_path)
    assert _status(dom) == ("ok", str(len(SECTIONS))), re.search(r'id="report-status">([^<]*)', dom).group(1)
    assert console == []
    assert f"all {len(SECTIONS)} sections ok" in dom


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
