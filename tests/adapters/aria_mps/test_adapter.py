"""Aria MPS folders as episodes (`adapters/aria_mps/adapter.py`): on a corpus in the maker's layout
(tests/fixtures/writers/aria_mps.py) the canonical hands are ahead of the wearer, below the eyes, left on the left and
human-sized, projecting inside the RGB image through the calibration read (FISHEYE624); a missing hand is masked in
its rows; hand rows take the nearest device pose; the recording's RGB frames join on the device clock. On the
maker's own sample folder, whose hand tracking is of another session than its trajectory, the episode is refused
naming both files and their spans; a folder with no landmark file is refused at discovery."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from adapters.base import AdapterError, RawEpisode
from adapters.registry import get_adapter
from adapters.synthetic.aria_recording import write_aria_rgb
from schemas.camera_model import Fisheye624Camera
from schemas.canonicalize import CanonicalizeSpec
from tests.adapters.human_hands import assert_human_hands
from tests.fixtures.offline import prepared
from tests.fixtures.writers.aria_mps import AriaMpsFixture, write_aria_mps, write_mps
from tests.realdata import realdata

RGB_SIDE = 2880  # Aria RGB at full resolution (the sample calibration's cx, cy = 1461, 1447)


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> AriaMpsFixture:
    return write_aria_mps(tmp_path_factory.mktemp("aria_mps"))


@pytest.fixture(scope="module")
def raws(fixture: AriaMpsFixture) -> list[RawEpisode]:
    adapter = get_adapter("aria_mps")
    return [adapter.read(ref) for ref in adapter.discover(fixture.root)]


def test_discovery_finds_each_mps_folder(fixture: AriaMpsFixture) -> None:
    refs = list(get_adapter("aria_mps").discover(fixture.root))
    assert [r.raw_id for r in refs] == fixture.folders and all(r.error is None for r in refs)


def test_canonical_hands_ahead_below_the_eyes_left_on_the_left_human_sized(raws: list[RawEpisode]) -> None:
    episodes = [ep for raw in raws for ep in prepared(raw, CanonicalizeSpec())]
    assert len(episodes) == len(raws)
    assert_human_hands(episodes)


def test_keypoints_project_inside_the_rgb_image_left_hand_left(raws: list[RawEpisode]) -> None:
    for raw in raws:
        cam_from_world = np.linalg.inv(raw.camera_poses["camera-rgb"].values)
        kp = raw.states["mano21_keypoints"].values  # (T,2,21,3) world
        p = np.einsum("tij,thkj->thki", cam_from_world[:, :3, :3], kp) + cam_from_world[:, None, None, :3, 3]
        seen = np.isfinite(p[..., 2])
        assert (p[..., 2][seen] > 0.2).all()  # ahead of the camera (z ahead)
        params = tuple(raw.metadata["camera_calibration"]["params"])  # FisheyeRadTanThinPrism, as read
        uv = Fisheye624Camera.from_params(params, RGB_SIDE, RGB_SIDE).project(p[seen])
        assert (uv > 0).all() and (uv < RGB_SIDE).all()  # inside the 2880 x 2880 RGB image (cx, cy ~ 1440)
        assert np.nanmedian(p[:, 0, :, 0]) < 0 < np.nanmedian(p[:, 1, :, 0])  # x right: left hand left


def test_a_missing_hand_is_masked_in_its_rows_only(raws: list[RawEpisode], fixture: AriaMpsFixture) -> None:
    (folder, side, rows), *_ = fixture.missing
    raw = next(r for r in raws if r.ref.raw_id == folder)
    hand = ("left", "right").index(side)
    kp = raw.states["mano21_keypoints"].values
    masked = np.isnan(kp[:, hand]).all(axis=(1, 2))
    assert np.flatnonzero(masked).tolist() == list(rows)
    assert np.isfinite(kp[:, 1 - hand]).all() and np.isfinite(kp[~masked, hand]).all()
    assert raw.states[f"confidence/{side}"].values[list(rows)].tolist() == [0.0] * len(rows)
    assert raw.metadata["masked_rows"][side] == len(rows)
    assert raw.metadata["hand_tracking_version"].startswith("v1")  # rec02: no normals, the 0 sentinel


def test_hand_rows_take_the_nearest_device_pose_on_one_clock(raws: list[RawEpisode], fixture: AriaMpsFixture) -> None:
    for raw in raws:
        t = raw.states["mano21_keypoints"].timestamps
        assert len(t) == fixture.frames and t[0] == 0.0
        assert raw.native_fps == pytest.approx(30.0, rel=1e-3)
        np.testing.assert_array_equal(raw.states["device/T_world_device"].timestamps, t)
        np.testing.assert_allclose(raw.hands.up_world, [0, 0, 1])


def test_the_makers_sample_joins_no_hand_rows_of_another_session(tmp_path: Path) -> None:
    # the sample's hand_tracking_results span 1762.6-1817.2 s, its trajectory 149.2-160.6 s: different recordings;
    # without its wrist-and-palm files (the trajectory's session) the folder gives nothing, both spans said
    shutil.copytree(realdata("aria_mps_sample"), tmp_path / "mps_sample")
    hands = tmp_path / "mps_sample/hand_tracking"
    for p in hands.glob("wrist_and_palm_poses*.csv"):
        p.unlink()
    adapter = get_adapter("aria_mps")
    [ref] = adapter.discover(tmp_path)
    assert ref.error is not None and "hand_tracking_results_v2.csv" in ref.error
    assert "1762.609-1817.200 s" in ref.error and "149.203-160.598 s" in ref.error and "not joined" in ref.error
    assert any(f.code == "folder_skipped" and f.severity == "warning" for f in adapter.findings())
    with pytest.raises(AdapterError):
        adapter.read(ref)


def test_rows_outside_the_trajectory_are_named_and_not_read(tmp_path: Path) -> None:
    write_mps(tmp_path / "r/mps", np.random.default_rng(5), 30, {})
    path = tmp_path / "r/mps/slam/closed_loop_trajectory.csv"
    header, *rows = path.read_text().splitlines()
    path.write_text("\n".join([header, *rows[: len(rows) // 2]]) + "\n")  # the trajectory stops halfway
    adapter = get_adapter("aria_mps")
    raw = adapter.read(next(iter(adapter.discover(tmp_path))))
    dropped = raw.metadata["rows_without_pose"]
    assert 10 < dropped < 20 and len(raw.states["mano21_keypoints"]) == 30 - dropped
    assert any(f"{dropped} of 30 rows" in note and "not read" in note for note in raw.hands.notes)


def test_a_folder_without_landmarks_or_trajectory_is_named_at_discovery(tmp_path: Path) -> None:
    write_mps(tmp_path / "a/mps", np.random.default_rng(6), 6, {})
    write_mps(tmp_path / "b/mps", np.random.default_rng(7), 6, {})
    (tmp_path / "a/mps/hand_tracking/hand_tracking_results.csv").rename(tmp_path / "a/mps/hand_tracking/x.csv")
    (tmp_path / "b/mps/slam/closed_loop_trajectory.csv").unlink()
    a, b = get_adapter("aria_mps").discover(tmp_path)
    assert a.error is not None and "no hand file" in a.error and "x.csv" in a.error
    assert b.error is not None and "closed_loop_trajectory.csv" in b.error


def _with_recording(tmp_path: Path, frames: int, last_s: float) -> tuple[Path, np.ndarray]:
    """An MPS folder `mps_rec_vrs` beside `rec.vrs`, whose RGB frames (10 fps, frame k's green = 10 k) run on the
    device clock from the first hand row to `last_s` after it."""
    write_mps(tmp_path / "mps_rec_vrs", np.random.default_rng(8), frames, {})
    rows = (tmp_path / "mps_rec_vrs/hand_tracking/hand_tracking_results.csv").read_text().splitlines()
    first_us = int(rows[1].split(",")[0])
    device_ns = first_us * 1000 + np.arange(0, last_s + 1e-9, 0.1) * 1e9
    images = [np.full((32, 48, 3), (0, 10 * k, 0), np.uint8) for k in range(len(device_ns))]
    write_aria_rgb(tmp_path / "rec.vrs", images, [int(t) for t in device_ns], [], fps=10.0)
    return tmp_path, (device_ns - first_us * 1000) / 1e9


def test_the_recordings_rgb_frames_join_on_the_device_clock(tmp_path: Path) -> None:
    root, times = _with_recording(tmp_path, 30, 1.0)  # hand rows over 0.97 s, frames over 1.0 s
    adapter = get_adapter("aria_mps")
    raw = adapter.read(next(iter(adapter.discover(root))))
    camera = raw.cameras["camera-rgb"]
    np.testing.assert_allclose(camera.timestamps, times, atol=1e-9)  # the hands' clock: first hand row at 0
    assert raw.metadata["video"]["time_domain"] == "DEVICE_TIME" and raw.metadata["video"]["file"] == "rec.vrs"
    [(k, img)] = list(camera.frames([4]))
    assert k == 4 and img.shape == (32, 48, 3) and abs(int(img[..., 1].mean()) - 40) <= 3


def test_a_recording_that_stops_before_the_hands_is_named(tmp_path: Path) -> None:
    root, _ = _with_recording(tmp_path, 30, 0.5)  # frames stop at 0.5 s, the hands go on to 0.97 s
    adapter = get_adapter("aria_mps")
    with pytest.raises(AdapterError) as e:
        adapter.read(next(iter(adapter.discover(root))))
    assert e.value.file == str(root / "rec.vrs") and e.value.field == "video/camera-rgb"
    assert "do not cover" in e.value.reason


def test_the_real_sample_too_short_says_its_hand_is_tracked_in_a_few_rows() -> None:
    """Issue 79 (review 8, 3e): the real MPS sample's only episode was rejected as "episode too short: 5 frames" for
    an 11 s recording; its right hand is tracked in 6 rows and the left never. The message names that cause."""
    from dataclasses import replace

    from tests.fixtures.offline import prepare

    adapter = get_adapter("aria_mps")
    [ref] = [r for r in adapter.discover(realdata("aria_mps_sample")) if r.error is None]
    judged = prepare(replace(adapter.read(ref), cameras={}), CanonicalizeSpec())
    assert not judged.episodes and len(judged.rejections) == 1
    reason = judged.rejections[0].reason
    assert reason.startswith(
        "episode too short: 5 frames < canonicalize.validity.min_length_frames 10; the episode is where the hands are "
    )
    assert "right hand tracked in 6 samples over [10.20, 10.70] s of a recording of [0.00, 11.40] s" in reason
