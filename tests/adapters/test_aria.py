"""HOT3D video (`adapters/aria.py`; the fixture recording is checked against projectaria_tools in
`tests/adapters/synthetic/test_aria_recording.py`): the adapter hands the RGB frames on the ground truth's clock, in the
orientation its camera pose has (a wrist projected through projectaria_tools' own fisheye model lands on the disc the
fixture drew there)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from adapters.aria import AriaRgbCamera
from adapters.base import AdapterError
from adapters.hot3d.adapter import NO_RECORDING, QUEST_NO_VIDEO, Hot3DAdapter
from adapters.storage.location import locate
from adapters.synthetic.aria_recording import SIDE, frame_image, write_aria_rgb
from adapters.synthetic.hot3d import SAMPLE, Hot3DFixture, write_hot3d
from schemas.canonical import MANO21_NAMES
from tests.fixtures.corrupt import write_hot3d_bad
from tests.needs import tool_missing

try:
    from projectaria_tools.core import data_provider as pat
    from projectaria_tools.core.calibration import FISHEYE624, CameraCalibration
    from projectaria_tools.core.sophus import SE3
except ImportError:
    pat = None

WRIST = MANO21_NAMES.index("wrist")
RGB = "214-1"


@pytest.fixture(autouse=True)
def _oracle() -> None:
    if pat is None:
        tool_missing("projectaria-tools", "make venv installs it (pip install --no-deps projectaria-tools==2.3.0)")


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> Hot3DFixture:
    return write_hot3d(tmp_path_factory.mktemp("hot3d_video"), video=True)


def _read(fixture: Hot3DFixture, raw_id: str):
    adapter = Hot3DAdapter()
    return adapter.read(next(r for r in adapter.discover(fixture.root) if r.raw_id == raw_id))


def test_rgb_frames_come_on_the_ground_truth_clock_in_order(fixture: Hot3DFixture) -> None:
    seq = next(s for s in fixture.good if s.headset == "Aria")
    raw = _read(fixture, seq.raw_id)
    cam = raw.cameras["camera-rgb"]
    assert len(cam) == seq.frames and (cam.height, cam.width) == (SIDE, SIDE) and cam.intrinsics is None
    assert raw.metadata["video"]["frames"] == seq.frames and raw.metadata["video"]["time_domain"] == "TIME_CODE"
    # the recording starts LEAD frames early and runs 20 ppm fast; kept frames sit on ground-truth frames 0..T-1
    gt = raw.states["headset/T_world_device"].timestamps[::2]
    np.testing.assert_allclose(cam.timestamps, gt, atol=2e-9)
    for i, rgb in cam.frames():
        assert rgb.shape == (SIDE, SIDE, 3)
        want = frame_image(i, None)[..., 2].astype(float)
        assert abs(np.median(rgb[..., 2]) - np.median(want)) < 2.0, i  # blue 40 + 3 k: frame k, not k +- 1


def test_frames_and_camera_pose_agree_through_the_makers_fisheye(fixture: Hot3DFixture) -> None:
    seq = next(s for s in fixture.good if s.headset == "Aria")
    raw = _read(fixture, seq.raw_id)
    calib = raw.metadata["camera_calibration"]
    model = CameraCalibration(
        "camera-rgb", FISHEYE624, np.array(calib["params"]), SE3.from_matrix(np.eye(4)), SIDE, SIDE, None, np.pi, ""
    )
    lens = raw.cameras["camera-rgb"].camera_model  # the camera carries its FISHEYE624 lens, in the stream's pixels
    assert lens is not None and lens.model == "fisheye624" and (lens.width, lens.height) == (SIDE, SIDE)
    assert lens.params() == [calib["params"][0], *calib["params"]]
    pose = raw.camera_poses["camera-rgb"].values[::2]
    frames = dict(raw.cameras["camera-rgb"].frames(list(range(0, seq.frames, 7))))
    for k, rgb in frames.items():
        for side, bright in (("left", True), ("right", False)):
            wrist = raw.states[f"mano21_keypoints/{side}"].values[2 * k, WRIST]
            p_cam = np.linalg.inv(pose[k]) @ np.append(wrist, 1.0)
            u, v = model.project(p_cam[:3])
            np.testing.assert_allclose(lens.project(p_cam[:3]), (u, v), atol=1e-6)
            patch = rgb[round(v) - 2 : round(v) + 3, round(u) - 2 : round(u) + 3].astype(float)
            assert (patch.min() > 200) if bright else (patch.max() < 60), (k, side, u, v)
            up, vp = SIDE - 1 - v, u  # where vrs_to_mp4's rot90(img, -1) moves that pixel
            assert np.abs(rgb[round(vp), round(up)].astype(float) - patch.mean(axis=(0, 1))).max() > 40


def test_sequences_without_video_say_why(fixture: Hot3DFixture, tmp_path: Path) -> None:
    quest = next(s for s in fixture.good if s.headset == "Quest3")
    assert _read(fixture, quest.raw_id).metadata["video"] == NO_RECORDING
    (quest.path / "recording.vrs").write_bytes(b"")
    try:
        raw = _read(fixture, quest.raw_id)
    finally:
        (quest.path / "recording.vrs").unlink()
    assert raw.metadata["video"] == QUEST_NO_VIDEO and not raw.cameras


def test_bad_recordings_name_file_episode_and_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fx = write_hot3d_bad(tmp_path / "h", ("truncated_video",), quest=False, video=True)
    adapter = Hot3DAdapter()
    refs = {r.raw_id: r for r in adapter.discover(fx.root)}
    bad = next(s for s in fx.sequences if s.bad == "truncated_video")
    with pytest.raises(AdapterError) as err:
        adapter.read(refs[bad.raw_id])
    assert err.value.field == "video/camera-rgb" and "do not cover the ground truth" in str(err.value)
    assert err.value.episode == bad.raw_id and str(err.value.file).endswith("P0099_bad00/recording.vrs")
    good = fx.good[0]
    vrs = good.path / "recording.vrs"
    write_aria_rgb(
        vrs, [np.full((48, 80, 3), 40 * k, np.uint8) for k in range(3)], [10**9 * k for k in range(3)], []
    )  # no time-code stream
    with pytest.raises(AdapterError, match="no TIME_CODE stream") as err:
        adapter.read(refs[good.raw_id])
    assert err.value.field == "video/time_code"
    data = bytearray(vrs.read_bytes())
    start = data.index(b"\xff\xd8", len(data) // 2)  # a JPEG's start of image: blank its header
    data[start : start + 64] = bytes(64)
    camera = AriaRgbCamera(locate(vrs), np.arange(3), np.arange(3) / 30, 48, 80, episode=good.raw_id)
    vrs.write_bytes(bytes(data))
    with pytest.raises(AdapterError, match="does not decode") as err:
        list(camera.frames())
    assert err.value.field == "video/camera-rgb" and err.value.episode == good.raw_id and err.value.file == str(vrs)
    vrs.write_bytes(b"not a vrs file" * 10)
    with pytest.raises(AdapterError, match="not a readable VRS file") as err:
        adapter.read(refs[good.raw_id])
    assert err.value.field == "video"
    for name in [m for m in sys.modules if m.split(".")[0] == "projectaria_tools"]:
        monkeypatch.setitem(sys.modules, name, None)  # as if the package were not installed
    with pytest.raises(AdapterError, match="needs the projectaria-tools package"):
        adapter.read(refs[good.raw_id])


def test_a_calibration_for_another_size_fails_naming_the_file(tmp_path: Path) -> None:
    """Planted: the sequence's camera-rgb calibration is the 1408 px sensor's (unscaled) beside the 352 px stream:
    its principal point (706 px) lies outside the picture, and the episode fails naming the calibration file."""
    fx = write_hot3d(tmp_path / "h", video=True)
    seq = next(s for s in fx.good if s.headset == "Aria")
    path = seq.path / "mps/slam/online_calibration.jsonl"
    line = json.loads(path.read_text().splitlines()[0])
    rgb = next(c for c in line["CameraCalibrations"] if c["Label"] == "camera-rgb")
    rgb["Projection"]["Params"] = list(SAMPLE.aria_rgb_params)
    path.write_text(json.dumps(line) + "\n")
    with pytest.raises(AdapterError, match="calibration for a 352x352 px stream") as err:
        _read(fx, seq.raw_id)
    assert err.value.field == "calibration" and str(err.value.file).endswith("mps/slam/online_calibration.jsonl")
