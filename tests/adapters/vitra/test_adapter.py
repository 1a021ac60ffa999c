"""VITRA's episode files read without running them, and bad input named per episode: a pickle naming another global
is refused before anything runs, a missing or mismatched field is named, a distorted Ego4D original is refused naming
VITRA's undistortion script. Each case is the real sample (`vitra_ego4d_example`) copied and changed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from adapters.base import AdapterError
from adapters.pickles import UnsafePickle, unpickle_npy
from adapters.registry import get_adapter
from adapters.vitra import videos
from tests.fixtures.writers.vitra import VitraEpisodeSpec, write_vitra
from tests.realdata import realdata

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
    the calibration (`adapters/vitra/videos.py`), `camera.intrinsics` VITRA's K scaled to the video as for the
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
    how = videos.ego4d((root / f"intrinsics/ego4d/{UID}.npy").read_bytes(), original.shape[:2])
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
