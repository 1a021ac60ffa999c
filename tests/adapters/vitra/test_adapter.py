"""VITRA's episode files read without running them, and bad input named per episode: a pickle naming another global
is refused before anything runs, a missing or mismatched field is named, a distorted Ego4D original is refused naming
VITRA's undistortion script. Each case is the real sample (`vitra_ego4d_example`) copied and changed.

Where each VITRA dataset's raw video is looked for (`adapters/vitra/adapter.py`): the flat `videos/` folder first,
EPIC-KITCHENS by participant, and an undistorted copy for every dataset whose originals are distorted.

VITRA's undistortion done by eidata as frames are decoded, checked against VITRA's own script on the same frames.

Ego4D: a checkerboard on the plane z = 1 rendered through a known omnidirectional (Mei) lens is undistorted to
straight lines, and equals what VITRA's `undistort_video.py` (`prepare_undistort_maps`, OpenCV's `cv2.omnidir`, run in
`.venv-oracle-vitra`, `make oracle-vitra`) makes of the same frame. Ego-Exo4D: a real frame of the
`vitra_ego4d_example` video, taken as an Aria RGB frame, equals what projectaria_tools' `distort_by_calibration`
makes of it with the pinhole VITRA's `undistort_video_egoexo4d.py` asks for.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from adapters.base import AdapterError
from adapters.pickles import UnsafePickle, unpickle_npy
from adapters.registry import get_adapter
from adapters.storage.location import locate
from adapters.vitra.adapter import DATASETS, LAYOUTS, candidates, ego4d, egoexo4d
from tests.fixtures.writers.vitra import VitraEpisodeSpec, write_vitra
from tests.needs import tool_missing
from tests.realdata import REPO, realdata

UID = "03cc49c3-a7d1-445b-9a2a-545c4fae6843"
NAME = f"Ego4D_{UID}_ep_example.npy"


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return os.system, (f"touch {self.marker}",)


def _sample() -> dict:
    return unpickle_npy(realdata(f"vitra_ego4d_example/annotations/{NAME}").read_bytes())


def _root(tmp_path: Path, episode: object, video: str = f"videos/{UID}.mp4") -> Path:
    root = tmp_path / "vitra"
    (root / "Metadata/Ego4D/episodic_annotations").mkdir(parents=True)
    np.save(root / "Metadata/Ego4D/episodic_annotations" / NAME, np.array(episode, dtype=object), allow_pickle=True)
    (root / video).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(realdata(f"vitra_ego4d_example/videos/{UID}.mp4"), root / video)
    return root


def _read(root: Path) -> object:
    adapter = get_adapter("vitra")
    (ref,) = adapter.discover(root)
    return adapter.read(ref)


def test_a_pickle_naming_another_global_is_refused_before_it_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    episode = {**_sample(), "video_name": _Exploit(marker)}
    root = _root(tmp_path, episode)
    with pytest.raises(AdapterError) as err:
        _read(root)
    assert "refusing to unpickle global posix.system" in str(err.value) or "os.system" in str(err.value)
    assert err.value.file is not None and err.value.file.endswith(NAME) and not marker.exists()
    with pytest.raises(UnsafePickle):
        unpickle_npy((root / "Metadata/Ego4D/episodic_annotations" / NAME).read_bytes())
    assert not marker.exists()
    np.save(tmp_path / "plain.npy", np.zeros(3))  # a plain array file is not an episode
    with pytest.raises(ValueError, match="not one pickled episode"):
        unpickle_npy((tmp_path / "plain.npy").read_bytes())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["right"].pop("joints_worldspace"), "right.joints_worldspace"),
        (lambda d: d["left"].update(kept_frames=d["left"]["kept_frames"][:-1]), "left.kept_frames"),
        (lambda d: d.update(extrinsics=d["extrinsics"][:, :3]), "extrinsics"),
        (lambda d: d.update(video_decode_frame=d["video_decode_frame"][::-1]), "video_decode_frame"),
    ],
    ids=["missing_joints", "short_kept_frames", "extrinsics_3x4", "frames_backwards"],
)
def test_a_bad_field_is_named(tmp_path: Path, change: object, field: str) -> None:
    episode = _sample()
    change(episode)  # type: ignore[operator]
    with pytest.raises(AdapterError) as err:
        _read(_root(tmp_path, episode))
    assert err.value.field == field and err.value.episode == NAME[: -len(".npy")]


def test_a_distorted_ego4d_original_is_refused_naming_the_undistortion(tmp_path: Path) -> None:
    root = _root(tmp_path, _sample(), video=f"v2/full_scale/{UID}.mp4")
    (ref,) = get_adapter("vitra").discover(root)
    assert ref.error is not None and "undistort_video.py" in ref.error and "distorted original" in ref.error
    assert f"Ego4D_undistorted/{UID}.mp4" in ref.error and f"intrinsics/ego4d/{UID}.npy" in ref.error  # what is missing
    (root / "Ego4D_undistorted").mkdir()
    shutil.move(root / f"v2/full_scale/{UID}.mp4", root / f"Ego4D_undistorted/{UID}.mp4")  # the copy VITRA makes
    (ref,) = get_adapter("vitra").discover(root)
    assert ref.error is None and ref.paths[1].endswith(f"Ego4D_undistorted/{UID}.mp4")


def test_a_distorted_ego4d_original_with_vitras_calibration_is_undistorted_as_decoded(tmp_path: Path) -> None:
    """The original beside VITRA's `intrinsics/ego4d/<video>.npy`: read, its frames the original's remapped through
    the calibration (`ego4d`), `camera.intrinsics` VITRA's K scaled to the video as for the
    undistorted copy; a calibration without `xi` is named, file and field."""
    root = _root(tmp_path, _sample(), video=f"v2/full_scale/{UID}.mp4")
    K = np.array([[300.0, 0.0, 240.0], [0.0, 300.0, 184.0], [0.0, 0.0, 1.0]])
    intr = {"intrinsics_ori": {"K": K, "D": np.array([-0.1, 0.02, 0.0, 0.0]), "xi": np.array([0.9])}}
    intr["intrinsics_new"] = {"K": np.diag([0.5, 0.5, 1.0]) @ K}
    (root / "intrinsics/ego4d").mkdir(parents=True)
    np.save(root / f"intrinsics/ego4d/{UID}.npy", np.array(intr, dtype=object), allow_pickle=True)
    episode = _read(root)
    cam = episode.cameras["camera"]  # type: ignore[attr-defined]
    (_, frame), *_ = cam.frames([0])
    (_, original), *_ = cam.source.frames([0])
    how = ego4d((root / f"intrinsics/ego4d/{UID}.npy").read_bytes(), original.shape[:2])
    assert how is not None and np.array_equal(frame, how.apply(original)) and not np.array_equal(frame, original)
    assert (cam.width, cam.height) == (480, 368) and cam.intrinsics[0, 0] == pytest.approx(
        _sample()["intrinsics"][0, 0] / 3
    )
    del intr["intrinsics_ori"]["xi"]
    np.save(root / f"intrinsics/ego4d/{UID}.npy", np.array(intr, dtype=object), allow_pickle=True)
    with pytest.raises(AdapterError) as err:
        _read(root)
    assert err.value.field == "intrinsics" and "'xi'" in str(err.value) and err.value.file.endswith(f"{UID}.npy")


def test_a_video_shorter_than_the_frames_is_named(tmp_path: Path) -> None:
    episode = _sample()
    episode["video_decode_frame"] = episode["video_decode_frame"] + 10  # frames 10..34 of a 25-frame video
    with pytest.raises(AdapterError) as err:
        _read(_root(tmp_path, episode))
    assert err.value.field == "video_decode_frame" and "expected 25" in err.value.reason


def test_other_npy_files_are_named_not_read(tmp_path: Path) -> None:
    root = _root(tmp_path, _sample())
    np.save(root / f"intrinsics_{UID}.npy", np.eye(3))  # VITRA's per-video intrinsics, not an episode
    np.save(root / "Metadata/Ego4D/episodic_annotations/Holo_x_ep_000000.npy", np.eye(3))  # no such dataset
    adapter = get_adapter("vitra")
    refs = list(adapter.discover(root))
    assert [r.raw_id for r in refs] == [NAME[: -len(".npy")]]
    (finding,) = adapter.findings()
    assert finding.code == "files_not_read" and "2 .npy file(s)" in finding.message


def test_an_episode_read_opens_its_video_once_and_its_frames_once_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The header (rate, size) and the window's packets come from one open; decoding the frames, later and lazily,
    is the second (it was 2 + 1: a probe, then the window)."""
    spec = VitraEpisodeSpec("Ego4D", "v0", "videos/v0.mp4", first=10, frames=24)
    adapter = get_adapter("vitra")
    (ref,) = adapter.discover(write_vitra(tmp_path / "vitra", [spec], size=(320, 240)))
    opened, real = [], av.open
    monkeypatch.setattr(av, "open", lambda *a, **k: opened.append(a[0]) or real(*a, **k))
    raw = adapter.read(ref)
    assert len(opened) == 1
    cam = raw.cameras["camera"]
    assert (len(cam), cam.width, cam.height) == (24, 320, 240)
    np.testing.assert_allclose(cam.intrinsics[:2, 2], [160, 120])  # the 640x480 labelling's centre, halved
    assert sum(1 for _ in cam.frames()) == 24 and len(opened) == 2


def test_every_dataset_has_a_layout_and_the_flat_folder_first() -> None:
    assert set(LAYOUTS) == set(DATASETS)
    for dataset, layout in LAYOUTS.items():
        assert layout.kept[0].startswith("videos/{video}."), dataset
        assert bool(layout.distorted) == bool(layout.undistort), dataset  # a refusal always names the fix


def test_epic_videos_sit_under_their_participant() -> None:
    found = candidates(LAYOUTS["epic"].kept, "P01_101")
    assert "P01/videos/P01_101.MP4" in found and found[0] == "videos/P01_101.MP4"
    assert candidates(LAYOUTS["somethingsomethingv2"].kept, "12345")[0] == "videos/12345.webm"


ORACLE = REPO / "tests" / "oracle" / "vitra_undistort_oracle.py"
ORACLE_PY = REPO / ".venv-oracle-vitra" / "bin" / "python"
HW = (480, 640)
# a lens of the kind DroidCalib gives for Ego4D's GoPros: Mei's model, xi near 1, barrel distortion
ORI = {"K": np.array([[520.0, 0.0, 322.4], [0.0, 518.0, 236.1], [0.0, 0.0, 1.0]]), "xi": np.array([0.95])}
ORI["D"] = np.array([-0.12, 0.03, 4e-4, -3e-4])
NEW_K = np.array([[260.0, 0.0, 320.0], [0.0, 260.0, 240.0], [0.0, 0.0, 1.0]])
SQUARE, BOARD = 0.12, (10, 8)  # squares on the plane z = 1, centred on the axis; 9 x 7 inner corners
# where eidata and VITRA's script may differ: pixel values (0-255) on edges, where a 1/32 px map rounding shows
TOL_MEAN, TOL_P99 = 0.5, 8.0


def _intrinsics(xi: float = 0.95) -> dict:
    return {"intrinsics_ori": {**ORI, "xi": np.array([xi])}, "intrinsics_new": {"K": NEW_K}}


def _npy(d: dict, path: Path) -> bytes:
    np.save(path, np.array(d, dtype=object), allow_pickle=True)
    return path.read_bytes()


def _rays_of_pixels(hw: tuple[int, int], supersample: int) -> np.ndarray:
    """Rays of sub-pixel samples of the distorted frame (fixture only): the omnidir model inverted, the
    distortion by fixed-point iteration as `cv::undistortPoints` does, then lifted to the unit sphere."""
    K, (k1, k2, p1, p2), xi = ORI["K"], ORI["D"], float(ORI["xi"][0])
    off = (np.arange(supersample) + 0.5) / supersample - 0.5
    v, u = np.meshgrid(np.arange(hw[0])[:, None] + off, np.arange(hw[1])[:, None] + off, indexing="ij")
    xd, yd = (u.ravel() - K[0, 2]) / K[0, 0], (v.ravel() - K[1, 2]) / K[1, 1]
    x, y = xd.copy(), yd.copy()
    for _ in range(15):  # converged to 1e-9 px: the distortion is a few percent
        r2 = x * x + y * y
        radial = 1 + k1 * r2 + k2 * r2 * r2
        x = (xd - 2 * p1 * x * y - p2 * (r2 + 2 * x * x)) / radial
        y = (yd - p1 * (r2 + 2 * y * y) - 2 * p2 * x * y) / radial
    r2 = x * x + y * y
    f = (xi + np.sqrt(1 + (1 - xi * xi) * r2)) / (r2 + 1)
    return np.stack([f * x, f * y, f - xi], axis=-1)


@cache
def _checkerboard(hw: tuple[int, int] = HW, supersample: int = 3) -> np.ndarray:
    """The board seen through the lens: each pixel the mean of its sub-pixel samples (anti-aliased edges)."""
    rays = _rays_of_pixels(hw, supersample)
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = rays[:, 0] / rays[:, 2], rays[:, 1] / rays[:, 2]
    i, j = np.floor(a / SQUARE + BOARD[0] / 2), np.floor(b / SQUARE + BOARD[1] / 2)
    inside = (rays[:, 2] > 0) & (i >= 0) & (i < BOARD[0]) & (j >= 0) & (j < BOARD[1])
    value = np.where(inside, np.where((i + j) % 2 == 0, 230.0, 25.0), 128.0)
    value = value.reshape(hw[0], supersample, hw[1], supersample).mean(axis=(1, 3))
    return np.repeat(np.round(value).astype(np.uint8)[..., None], 3, axis=-1)


def _line_residual(rgb: np.ndarray) -> float:
    """The largest distance (px) of the board's inner corners from the line fitted to their row or column."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    pattern = (BOARD[0] - 1, BOARD[1] - 1)
    ok, corners = cv2.findChessboardCorners(gray, pattern)
    assert ok, "the board's inner corners are not found"
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-3)
    corners = cv2.cornerSubPix(gray, corners, (5, 5), (-1, -1), criteria).reshape(pattern[1], pattern[0], 2)
    worst = 0.0
    for line in [*corners, *corners.transpose(1, 0, 2)]:
        centred = line - line.mean(axis=0)
        normal = np.linalg.svd(centred)[2][1]  # the direction of least spread
        worst = max(worst, float(np.abs(centred @ normal).max()))
    return worst


def _oracle(*args: str, python: Path) -> dict[str, np.ndarray]:
    out = Path(args[-1])
    proc = subprocess.run([str(python), str(ORACLE), *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


def _differ(ours: np.ndarray, theirs: np.ndarray) -> tuple[float, float]:
    d = np.abs(ours.astype(np.int16) - theirs.astype(np.int16))
    return float(d.mean()), float(np.percentile(d, 99))


def test_ego4d_checkerboard_comes_out_straight(tmp_path: Path) -> None:
    frame = _checkerboard()
    how = ego4d(_npy(_intrinsics(), tmp_path / "intr.npy"), HW)
    assert how is not None
    out = how.apply(frame)
    straight, curved = _line_residual(out), _line_residual(frame)
    print(f"line fit: {straight:.3f} px undistorted, {curved:.2f} px on the distorted frame")
    assert straight < 0.3 < 2.0 < curved


@pytest.mark.oracle  # VITRA's own script in its venv (`make oracle-vitra`): a scenario, as every oracle run is
def test_ego4d_equals_vitras_script(tmp_path: Path) -> None:
    pre = realdata("vitra_preprocessing/data/preprocessing")
    if not ORACLE_PY.exists():
        tool_missing("VITRA's oracle environment", "make oracle-vitra (OpenCV with contrib: cv2.omnidir)")
    frame = _checkerboard()
    np.save(tmp_path / "frame.npy", frame)
    data = _npy(_intrinsics(), tmp_path / "intr.npy")
    args = [str(tmp_path / n) for n in ("frame.npy", "intr.npy", "out.npz")]
    theirs = _oracle("ego4d", str(pre), *args, python=ORACLE_PY)
    how = ego4d(data, HW)
    assert how is not None
    m1, m2 = how.maps()
    # both maps in CV_16SC2: integer pixel plus a 1/32 px table index; they agree where the source is in view
    whole = m1.astype(np.float64) + np.stack([m2 % 32, m2 // 32], axis=-1) / 32.0
    whole_theirs = theirs["map1"].astype(np.float64) + np.stack([theirs["map2"] % 32, theirs["map2"] // 32], -1) / 32
    gap = np.abs(whole - whole_theirs).max(axis=-1)
    print(f"maps: {np.mean(gap == 0):.4f} equal, largest gap {gap.max():.4f} px")
    assert gap.max() <= 1 / 32 + 1e-9
    mean, p99 = _differ(how.apply(frame), theirs["frame"])
    print(f"frames: mean {mean:.4f}, 99th percentile {p99:.1f} levels")
    assert mean < TOL_MEAN and p99 < TOL_P99


def test_ego4d_without_xi_is_kept_as_vitra_keeps_it(tmp_path: Path) -> None:
    assert ego4d(_npy(_intrinsics(xi=0.0), tmp_path / "i.npy"), HW) is None


def test_a_malformed_ego4d_calibration_names_its_field(tmp_path: Path) -> None:
    d = _intrinsics()
    del d["intrinsics_ori"]["xi"]
    with pytest.raises(ValueError, match="'xi'"):
        ego4d(_npy(d, tmp_path / "i.npy"), HW)


def _real_frame(side: int) -> np.ndarray:
    with av.open(str(realdata(f"vitra_ego4d_example/videos/{UID}.mp4"))) as c:
        rgb = next(c.decode(video=0)).to_ndarray(format="rgb24")
    return cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA)


def test_egoexo4d_equals_projectaria_tools(tmp_path: Path) -> None:
    """The real Aria RGB calibration (MPS sample) at 1408 px, the pixels of Ego-Exo4D's frame-aligned videos."""
    line = realdata("aria_mps_online_calibration/online_calibration.jsonl").read_text().splitlines()[0]
    cam = next(c for c in json.loads(line)["CameraCalibrations"] if c["Label"] == "camera-rgb")
    s = 1408 / 2880
    p = cam["Projection"]["Params"]
    params = [p[0] * s, (p[1] + 0.5) * s - 0.5, (p[2] + 0.5) * s - 0.5, *p[3:]]  # scaleParams' rule
    projection = {"Name": "FisheyeRadTanThinPrism", "Params": params}
    (tmp_path / "calib.json").write_text(json.dumps({"CameraCalibrations": [{**cam, "Projection": projection}]}))
    (tmp_path / "params.json").write_text(json.dumps({"params": params, "width": 1408, "height": 1408}))
    frame = _real_frame(1408)
    np.save(tmp_path / "frame.npy", frame)
    args = [str(tmp_path / n) for n in ("frame.npy", "params.json", "out.npz")]
    theirs = _oracle("egoexo4d", *args, python=Path(sys.executable))
    ours = egoexo4d(locate(tmp_path / "calib.json"), (1408, 1408)).apply(frame)
    mean, p99 = _differ(ours, theirs["frame"])
    print(f"frames: mean {mean:.4f}, 99th percentile {p99:.1f} levels")
    assert ours.shape == theirs["frame"].shape == (1408, 1408, 3)
    assert mean < TOL_MEAN and p99 < TOL_P99
