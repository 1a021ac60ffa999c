"""HoloAssist on a corpus written in the maker's layout (tests/fixtures/writers/holoassist.py): discovery, the canonical
hands ahead of the wearer, below the eyes, left on the left and human-sized, the keypoints projecting inside the
video through the camera poses and intrinsics as read, one clock for hands and video, a hand not tracked masked in
exactly its frames, malformed lines named by file and line, a missing file named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.base import AdapterError, RawEpisode
from adapters.holoassist.adapter import HAND_FIELDS
from adapters.registry import get_adapter
from schemas.canonicalize import CanonicalizeSpec
from tests.adapters.human_hands import assert_human_hands
from tests.fixtures.offline import prepared
from tests.fixtures.writers.holoassist import HoloAssistFixture, write_holoassist


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> HoloAssistFixture:
    return write_holoassist(tmp_path_factory.mktemp("holoassist"))


@pytest.fixture(scope="module")
def raws(fixture: HoloAssistFixture) -> list[RawEpisode]:
    adapter = get_adapter("holoassist")
    return [adapter.read(ref) for ref in adapter.discover(fixture.root)]


def test_discovery_finds_each_recording(fixture: HoloAssistFixture) -> None:
    refs = list(get_adapter("holoassist").discover(fixture.root))
    assert [r.raw_id for r in refs] == fixture.recordings
    assert all(r.error is None for r in refs)


def test_canonical_hands_ahead_below_the_eyes_left_on_the_left_human_sized(raws: list[RawEpisode]) -> None:
    episodes = [ep for raw in raws for ep in prepared(raw, CanonicalizeSpec())]
    assert len(episodes) == len(raws)
    assert_human_hands(episodes)


def test_keypoints_project_inside_the_video_through_the_poses_read(raws: list[RawEpisode]) -> None:
    for raw in raws:
        cam = raw.cameras["video"]
        world_from_cam = raw.camera_poses["video"].values
        kp = raw.states["mano21_keypoints"].values  # (T,2,21,3)
        p = np.einsum("tij,thkj->thki", np.linalg.inv(world_from_cam)[:, :3, :3], kp)
        p += np.linalg.inv(world_from_cam)[:, None, None, :3, 3]
        seen = np.isfinite(p[..., 2])
        assert (p[..., 2][seen] > 0.2).all()  # in front of the camera (OpenCV: +z ahead)
        uv = p[..., :2] / p[..., 2:] @ cam.intrinsics[:2, :2].T + cam.intrinsics[:2, 2]
        assert (uv[seen] > 0).all() and (uv[..., 0][seen] < cam.width).all() and (uv[..., 1][seen] < cam.height).all()
        # left hand in the left half of the image, the right in the right half
        assert np.nanmedian(uv[:, 0, :, 0]) < cam.width / 2 < np.nanmedian(uv[:, 1, :, 0])


def test_hands_and_video_share_one_clock(raws: list[RawEpisode], fixture: HoloAssistFixture) -> None:
    for raw in raws:
        t_hands = raw.states["mano21_keypoints"].timestamps
        t_video = raw.cameras["video"].timestamps
        assert len(t_hands) == len(t_video) == fixture.frames
        np.testing.assert_allclose(t_hands, t_video, atol=1e-6)  # row i and frame i: the same instant
        assert raw.native_fps == pytest.approx(30.0, rel=1e-4)


def test_a_hand_not_tracked_is_masked_in_its_frames_only(raws: list[RawEpisode], fixture: HoloAssistFixture) -> None:
    (rec, side, gone), *_ = fixture.missing
    raw = next(r for r in raws if r.ref.raw_id == rec)
    hand = ("Left", "Right").index(side)
    kp = raw.states["mano21_keypoints"].values
    masked = np.isnan(kp[:, hand]).all(axis=(1, 2))
    assert np.flatnonzero(masked).tolist() == list(gone)
    assert np.isfinite(kp[:, 1 - hand]).all() and np.isfinite(kp[~masked, hand]).all()
    assert raw.states[f"active/{side.lower()}"].values[list(gone)].tolist() == [0.0] * len(gone)
    assert raw.metadata["masked_frames"][side.lower()] == len(gone)
    assert any("masked in 5 of" in note for note in raw.hands.notes)


def _corrupt(tmp_path: Path, edit) -> tuple[Path, AdapterError]:
    fx = write_holoassist(tmp_path, frames=8)
    path = tmp_path / fx.recordings[0] / "Export_py" / "Hands" / "Right_sync.txt"
    lines = path.read_text().splitlines()
    lines[2] = edit(lines[2])
    path.write_text("\n".join(lines) + "\n")
    adapter = get_adapter("holoassist")
    ref = next(iter(adapter.discover(tmp_path)))
    with pytest.raises(AdapterError) as e:
        adapter.read(ref)
    return path, e.value


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda line: line.rsplit("\t", 1)[0], f"470 tab-separated values, expected {HAND_FIELDS}"),
        (lambda line: line.replace("\t1\t", "\tyes\t", 1), "could not convert"),
    ],
)
def test_a_malformed_line_is_named_by_file_and_line(tmp_path: Path, edit, says: str) -> None:
    path, err = _corrupt(tmp_path, edit)
    assert err.file == str(path) and err.field == "line 3" and err.episode == "R001-demo"
    assert says in str(err) and "line 3" in str(err)


def test_a_missing_file_is_named_at_discovery(tmp_path: Path) -> None:
    fx = write_holoassist(tmp_path, frames=8)
    (tmp_path / fx.recordings[1] / "Export_py" / "Video" / "Pose_sync.txt").unlink()
    refs = list(get_adapter("holoassist").discover(tmp_path))
    assert refs[0].error is None
    assert refs[1].error is not None and "Video/Pose_sync.txt" in refs[1].error and "missing file" in refs[1].error


def test_a_frame_with_one_hand_untracked_keeps_the_other(raws: list[RawEpisode], fixture: HoloAssistFixture) -> None:
    """Canonicalized (issue 56 item 6): in the recording whose left hand psi lost in frames 5..9, the left hand is
    invalid only on the grid frames that fall between its last sample before the loss and its first after, those
    frames kept with the right hand valid throughout (before, they went for both hands: non_finite)."""
    (rec, side, gone), *_ = fixture.missing
    hand = ("Left", "Right").index(side)
    raw = next(r for r in raws if r.ref.raw_id == rec)
    (ep,) = prepared(raw, CanonicalizeSpec())
    assert ep.hand_valid[:, 1 - hand].all() and ep.validity["non_finite"] == 0
    t = raw.states["mano21_keypoints"].timestamps
    grid = ep.span_s[0] + ep.timestamps  # the source's clock
    between = (grid > t[gone.start - 1] + 1e-6) & (grid < t[gone.stop] - 1e-6)
    assert between.any() and (~ep.hand_valid[:, hand] == between).all()
    assert not ep.keypoints[between, hand].any() and ep.keypoints[~between, hand].all()
