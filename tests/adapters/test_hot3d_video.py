"""HOT3D video: the VRS files our fixture writer makes are read back by the maker's own reader (projectaria_tools
2.3.0, the oracle: streams, configuration, frames, device timestamps, TIME_CODE mapping, time queries), and the
adapter hands the RGB frames on the ground truth's clock, in the orientation its camera pose has (a wrist projected
through projectaria_tools' own fisheye model lands on the disc the fixture drew there)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from adapters.base import AdapterError
from adapters.hot3d.adapter import NO_RECORDING, QUEST_NO_VIDEO, Hot3DAdapter
from adapters.hot3d.video import AriaRgbCamera
from adapters.synthetic.aria_recording import write_aria_rgb
from adapters.synthetic.hot3d import Hot3DFixture, write_hot3d
from adapters.synthetic.hot3d_video import SIDE, frame_image
from schemas.canonical import MANO21_NAMES
from tests.needs import tool_missing

try:
    from projectaria_tools.core import data_provider as pat
    from projectaria_tools.core.calibration import FISHEYE624, CameraCalibration
    from projectaria_tools.core.sensor_data import TimeDomain, TimeQueryOptions
    from projectaria_tools.core.sophus import SE3
    from projectaria_tools.core.stream_id import StreamId
except ImportError:
    pat = None

WRIST = MANO21_NAMES.index("wrist")
RGB = "214-1"


@pytest.fixture(autouse=True)
def _oracle() -> None:
    if pat is None:
        tool_missing("projectaria-tools", "make venv installs it (pip install --no-deps projectaria-tools==2.3.0)")


def _pattern(k: int, h: int = 48, w: int = 80) -> np.ndarray:
    """A frame that tells its number (a bar 8 (k + 1) px wide) and its orientation (red rises to the right)."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    img[:8, : 8 * (k + 1), 1] = 255
    return img


def test_projectaria_tools_reads_the_written_recording(tmp_path: Path) -> None:
    frames = [_pattern(k) for k in range(6)]
    device = [113_585_000_000_000 + round(k * 1e9 / 30) + 17 * k for k in range(6)]
    # time code runs 1 % slower, paired every 50 ms: mapping is the maker's linear interpolation between pairs
    pairs = [(113_584_900_000_000 + j * 50_000_000, 56_752_000_000_000 + j * 49_500_000) for j in range(10)]
    write_aria_rgb(tmp_path / "r.vrs", frames, device, pairs)
    provider, stream = pat.create_vrs_data_provider(str(tmp_path / "r.vrs")), StreamId(RGB)
    assert provider is not None and provider.get_all_streams() == [stream]
    assert provider.get_label_from_stream_id(stream) == "camera-rgb" and provider.get_num_data(stream) == 6
    config = provider.get_configuration(stream).image_configuration()
    assert (config.image_width, config.image_height, config.nominal_rate_hz) == (80, 48, 30.0)
    codes = provider.get_timestamps_ns(stream, TimeDomain.TIME_CODE)
    for k, frame in enumerate(frames):
        image, record = provider.get_image_data_by_index(stream, k)
        assert record.capture_timestamp_ns == device[k] and record.frame_number == k
        assert np.abs(image.to_numpy_array().astype(int) - frame).mean() < 2.0  # JPEG q95
        j = (device[k] - pairs[0][0]) // 50_000_000
        (d0, c0), (d1, c1) = pairs[j], pairs[j + 1]
        expected = c0 + (device[k] - d0) * (c1 - c0) / (d1 - d0)
        assert (
            abs(codes[k] - expected) <= 1
            and abs(provider.convert_from_timecode_to_device_time_ns(codes[k]) - device[k]) <= 1
        )
        near, _ = provider.get_image_data_by_time_ns(
            stream, codes[k] + 5_000_000, TimeDomain.TIME_CODE, TimeQueryOptions.CLOSEST
        )
        assert np.abs(near.to_numpy_array().astype(int) - frame).mean() < 2.0
    assert provider.get_image_data_by_index(stream, 5)[0].to_numpy_array()[2, 8 * 6 - 2, 1] > 200  # frame 5's bar


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
    pose = raw.camera_poses["camera-rgb"].values[::2]
    frames = dict(raw.cameras["camera-rgb"].frames(list(range(0, seq.frames, 7))))
    for k, rgb in frames.items():
        for side, bright in (("left", True), ("right", False)):
            wrist = raw.states[f"mano21_keypoints/{side}"].values[2 * k, WRIST]
            p_cam = np.linalg.inv(pose[k]) @ np.append(wrist, 1.0)
            u, v = model.project(p_cam[:3])
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
    fx = write_hot3d(tmp_path / "h", quest=False, video=True, bad=("truncated_video",))
    adapter = Hot3DAdapter()
    refs = {r.raw_id: r for r in adapter.discover(fx.root)}
    bad = next(s for s in fx.sequences if s.bad == "truncated_video")
    with pytest.raises(AdapterError) as err:
        adapter.read(refs[bad.raw_id])
    assert err.value.field == "video/camera-rgb" and "do not cover the ground truth" in str(err.value)
    assert err.value.episode == bad.raw_id and str(err.value.file).endswith("P0099_bad00/recording.vrs")
    good = fx.good[0]
    vrs = good.path / "recording.vrs"
    write_aria_rgb(vrs, [_pattern(k) for k in range(3)], [10**9 * k for k in range(3)], [])  # no time-code stream
    with pytest.raises(AdapterError, match="no TIME_CODE stream") as err:
        adapter.read(refs[good.raw_id])
    assert err.value.field == "video/time_code"
    data = bytearray(vrs.read_bytes())
    start = data.index(b"\xff\xd8", len(data) // 2)  # a JPEG's start of image: blank its header
    data[start : start + 64] = bytes(64)
    camera = AriaRgbCamera(vrs, np.arange(3), np.arange(3) / 30, 48, 80, episode=good.raw_id)
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
