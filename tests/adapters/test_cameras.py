"""Shared cameras (`adapters/cameras.py`): a whole video file, a window of it (seek + pre-roll), packet probes without
decoding; one decoder thread with FFmpeg's own pixels; a later span decoded from its keyframe with the same pixels;
frames stored at a training size land where the fit's pixel map (and so the stored intrinsics) says, through
libswscale for video and OpenCV for images, pad bars carrying the fill, native frames unchanged; the left half of
side-by-side stereo frames, lazily, resized as Ego4D's are."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from adapters.base import CameraSource
from adapters.cameras import (
    EncodedImagesCamera,
    ImageFilesCamera,
    StereoLeftCamera,
    VideoClipCamera,
    VideoFileCamera,
    decoding,
    packet_times,
    probe_video,
    runs,
)
from adapters.storage.location import locate
from adapters.synthetic.video import synthetic_frame, write_mp4
from schemas.canonical import Camera
from schemas.image_size import Fit, FrameFit

FPS, N, H, W = 30, 90, 32, 48


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cameras") / "sub" / "video.mp4"
    assert write_mp4(path, (synthetic_frame(H, W, t, 3) for t in range(N)), FPS, gop=15, bframes=2) == N
    return path


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def test_runs_group_sorted_rows_read_as_one_slice() -> None:
    assert list(runs([0, 1, 5, 7, 8, 20], 8)) == [[0, 1, 5, 7], [8], [20]]  # 8 - 0 is a full span: a new run
    assert list(runs([3, 4, 5], 1)) == [[3], [4], [5]]
    assert list(runs([], 64)) == []


def test_whole_file_and_probes(mp4: Path) -> None:
    cam = VideoFileCamera(locate(mp4), "cam", None)
    assert (len(cam), cam.height, cam.width) == (N, H, W)
    np.testing.assert_allclose(cam.timestamps, np.arange(N) / FPS, atol=1e-9)
    with av.open(str(mp4)) as c:
        pts, seconds = packet_times(c, c.streams.video[0])
    assert np.all(np.diff(pts) > 0) and np.array_equal(seconds, cam.timestamps)
    duration, fps = probe_video(locate(mp4))
    assert duration == pytest.approx(N / FPS) and fps == FPS


@pytest.mark.parametrize("tolerance_s", [0.0, 0.25 / FPS])
def test_window_frames_times_and_seek(mp4: Path, tolerance_s: float) -> None:
    cam = VideoClipCamera(
        locate(mp4), "cam", None, 2.0, 2.5, tolerance_s=tolerance_s
    )  # frames 60..74, bounds on frames
    assert (len(cam), cam.height, cam.width, cam.average_rate) == (15, H, W, FPS)
    np.testing.assert_allclose(cam.timestamps, np.arange(15) / FPS, atol=1e-9)
    frames = dict(cam.frames())
    assert sorted(frames) == list(range(15))
    assert min(psnr(frames[i], synthetic_frame(H, W, 60 + i, 3)) for i in range(15)) > 30
    assert cam.decoded <= 15 + 15  # pre-roll from the keyframe before 2 s at most, nothing before
    assert [i for i, _ in cam.frames([3, 9])] == [3, 9] and cam.decoded <= 10 + 15
    assert dict(cam.frames([])) == {} and cam.decoded == 0


def test_a_window_on_the_callers_open_container_is_the_same_window(mp4: Path) -> None:
    own = VideoClipCamera(locate(mp4), "cam", None, 2.0, 2.5)
    with decoding(locate(mp4)) as opened:
        lent = VideoClipCamera(locate(mp4), "cam", None, 2.0, 2.5, opened=opened)
    assert (len(lent), lent.height, lent.width, lent.average_rate) == (len(own), H, W, FPS) == (15, H, W, FPS)
    assert np.array_equal(lent.timestamps, own.timestamps)
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(lent.frames(), own.frames(), strict=True))


def test_one_decoder_thread_same_pixels(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    write_mp4(path, (synthetic_frame(64, 96, t) for t in range(12)), 30, codec="libsvtav1", crf=40)
    with decoding(locate(path)) as (c, s):
        assert s.codec_context.thread_count == 1 and s.thread_type.name == "NONE"
    with av.open(str(path)) as c:  # FFmpeg's default threading
        want = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    got = [rgb for _, rgb in VideoFileCamera(locate(path), "c", None).frames()]
    clip = [rgb for _, rgb in VideoClipCamera(locate(path), "c", None, 0.0, 1.0).frames()]
    assert len(got) == len(clip) == 12
    assert all(np.array_equal(a, b) and np.array_equal(a, d) for a, b, d in zip(want, got, clip, strict=True))


FIT_H, FIT_W = 270, 480  # 16:9 like EgoDex's 1080p


SPOTS = [(61.3, 150.6), (140.25, 240.5), (203.7, 330.2)]  # (v, u) sub-pixel centres, one per frame


def _spot_frame(v: float, u: float) -> np.ndarray:
    """Dark frame with a bright Gaussian spot (sigma 4 px) centred at (u, v), pixel centres at integers."""
    y, x = np.mgrid[0:FIT_H, 0:FIT_W]
    lum = 20 + 220 * np.exp(-((x - u) ** 2 + (y - v) ** 2) / (2 * 4.0**2))
    return np.repeat(lum[..., None], 3, axis=2).round().astype(np.uint8)


@pytest.fixture(scope="module")
def spot_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fit") / "spots.mp4"
    write_mp4(path, (_spot_frame(*s) for s in SPOTS), 30, crf=4, gop=1)
    return path


def _centroid(img: np.ndarray) -> tuple[float, float]:
    lum = img[..., 1].astype(np.float64)
    w = np.clip(lum - 60, 0, None)  # the spot only: background (20) and pad bars (~116) drop out
    y, x = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    return float((w * y).sum() / w.sum()), float((w * x).sum() / w.sum())


@pytest.mark.parametrize("fit", [Fit.pad, Fit.crop, Fit.squash])
def test_video_spots_land_where_the_pixel_map_says(spot_video: Path, fit: Fit) -> None:
    plan = FrameFit.make((FIT_H, FIT_W), (224, 224), fit, pad_rgb=(0, 0, 0))
    got = dict(VideoFileCamera(locate(spot_video), "cam", None).frames([0, 1, 2], plan))
    for i, (v, u) in enumerate(SPOTS):
        assert got[i].shape == (224, 224, 3) and got[i].dtype == np.uint8
        want_u, want_v, _ = plan.pixel_map @ [u, v, 1]
        cy, cx = _centroid(got[i])
        assert abs(cx - want_u) < 0.15 and abs(cy - want_v) < 0.15, (fit, i, (cx, cy), (want_u, want_v))


def test_image_camera_resizes_the_same_way(spot_video: Path) -> None:
    """Encoded images go through OpenCV instead of libswscale: same geometry."""
    pngs = [cv2.imencode(".png", cv2.cvtColor(_spot_frame(*s), cv2.COLOR_RGB2BGR))[1].tobytes() for s in SPOTS]
    cam = EncodedImagesCamera(pngs, "cam", None, np.arange(3) / 30)
    plan = FrameFit.make((FIT_H, FIT_W), (224, 224), Fit.crop)
    for i, img in cam.frames([0, 1, 2], plan):
        want_u, want_v, _ = plan.pixel_map @ [SPOTS[i][1], SPOTS[i][0], 1]
        cy, cx = _centroid(img)
        assert abs(cx - want_u) < 0.15 and abs(cy - want_v) < 0.15


def test_pad_bars_carry_the_fill_through_the_decode_path(spot_video: Path) -> None:
    plan = FrameFit.make((FIT_H, FIT_W), (224, 224), Fit.pad, pad_rgb=(123, 116, 103))
    (_, img), *_ = VideoFileCamera(locate(spot_video), "cam", None).frames([0], plan)
    y = plan.offset_yx[0]
    assert y == 49 and (img[:y] == (123, 116, 103)).all() and (img[y + plan.scaled_hw[0] :] == (123, 116, 103)).all()
    assert img[y:-y].mean() < 60  # the picture itself: dark background


def test_native_is_unchanged(spot_video: Path) -> None:
    import av

    with av.open(str(spot_video)) as c:
        want = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    got = [img for _, img in VideoFileCamera(locate(spot_video), "cam", None).frames()]
    assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))


def test_only_the_wanted_frames_are_yielded_at_the_stored_size(spot_video: Path) -> None:
    plan = FrameFit.make((FIT_H, FIT_W), (112, 112), Fit.squash)
    got = list(VideoFileCamera(locate(spot_video), "cam", None).frames([1], plan))
    assert [i for i, _ in got] == [1] and got[0][1].shape == (112, 112, 3)


SEEK_N = 90


@pytest.fixture(scope="module", params=["libx264", "mpeg4", "libsvtav1"])
def keyframe_video(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seek") / f"{request.param}.mp4"
    bframes = 2 if request.param == "libx264" else None  # pts != dts: the order the decoder hands frames out differs
    write_mp4(
        path, (synthetic_frame(48, 64, t) for t in range(SEEK_N)), 30, codec=request.param, gop=15, bframes=bframes
    )
    return path


def _decode_all(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_a_later_span_decodes_from_its_keyframe_with_the_same_pixels(keyframe_video: Path) -> None:
    want = _decode_all(keyframe_video)
    assert len(want) == SEEK_N
    cam = VideoFileCamera(locate(keyframe_video), "c", None)
    wanted = list(range(50, SEEK_N, 3))
    got = dict(cam.frames(wanted))
    assert sorted(got) == wanted
    assert all(np.array_equal(got[i], want[i]) for i in wanted)
    assert cam.decoded <= SEEK_N - 50 + 15  # from the keyframe before frame 50 (GOP 15), not from frame 0


def test_the_first_span_still_decodes_from_the_start(keyframe_video: Path) -> None:
    cam = VideoFileCamera(locate(keyframe_video), "c", None)
    got = dict(cam.frames([0, 10, 20]))
    assert sorted(got) == [0, 10, 20] and cam.decoded == 21


def test_seek_and_fit_together(keyframe_video: Path) -> None:
    want = _decode_all(keyframe_video)
    fit = FrameFit.make((48, 64), (32, 32), "pad")
    ref = dict(VideoFileCamera(locate(keyframe_video), "c", None).frames(list(range(0, SEEK_N)), fit))
    got = dict(VideoFileCamera(locate(keyframe_video), "c", None).frames([60, 61, 89], fit))
    assert all(np.array_equal(got[i], ref[i]) for i in (60, 61, 89)) and len(want) == SEEK_N


class ArrayCamera(CameraSource):
    """Frames from an array; records which indices were asked for."""

    def __init__(self, frames: np.ndarray, intrinsics: np.ndarray | None = None) -> None:
        self.data, self.asked = frames, []
        t = np.arange(len(frames)) / 30.0
        super().__init__("full_scale", Camera.head, t, frames.shape[1], frames.shape[2], intrinsics)

    def frames(self, indices: list[int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        self.asked.append(indices)
        for i in range(len(self.data)) if indices is None else indices:
            yield i, self.data[i]


def _side_by_side(n: int, h: int, w: int) -> np.ndarray:
    left = np.zeros((n, h, w, 3), np.uint8)
    left[..., 0] = 200  # red left eye, blue right eye
    right = np.zeros_like(left)
    right[..., 2] = 200
    return np.concatenate([left, right], axis=2)


def test_left_half_of_each_frame_lazily() -> None:
    k = np.array([[50.0, 0, 30], [0, 50, 20], [0, 0, 1]])
    inner = ArrayCamera(_side_by_side(4, 40, 60), intrinsics=k)
    cam = StereoLeftCamera(inner)
    assert inner.asked == []  # nothing decoded at construction
    assert (cam.height, cam.width, len(cam), cam.canonical) == (40, 60, 4, Camera.head)
    np.testing.assert_array_equal(cam.timestamps, inner.timestamps)
    np.testing.assert_array_equal(cam.intrinsics, k)  # the left half keeps its principal point
    got = list(cam.frames([1, 3]))
    assert [i for i, _ in got] == [1, 3] and inner.asked == [[1, 3]]
    for _, rgb in got:
        assert rgb.shape == (40, 60, 3) and rgb.flags.c_contiguous
        assert (rgb[..., 0] == 200).all() and (rgb[..., 2] == 0).all()  # left eye only


def test_frames_taller_than_wide_are_resized_as_ego4d_does() -> None:
    """CropIfStereo: the left half of a (H, W) = (48, 32) frame becomes (W // 2, H // 2) = (16, 24)."""
    cam = StereoLeftCamera(ArrayCamera(_side_by_side(2, 48, 16), intrinsics=np.eye(3)))
    assert (cam.height, cam.width, cam.intrinsics) == (16, 24, None)
    (_, rgb), _ = cam.frames()
    assert rgb.shape == (16, 24, 3) and (rgb[..., 0] == 200).all() and (rgb[..., 2] == 0).all()


def test_image_files_are_read_one_at_a_time_and_named_when_bad(tmp_path: Path) -> None:
    """A folder of frames (`ImageFilesCamera`): each file decoded when asked, its own pixels; a frame of another
    size or a file that is no image is an error naming the file."""
    files = []
    for t in range(3):
        path = tmp_path / f"{t:05d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(synthetic_frame(H, W, t, 3), cv2.COLOR_RGB2BGR))
        files.append(locate(path))
    cam = ImageFilesCamera(files, "ego", Camera.head, np.arange(3) / 15.0)
    assert (cam.height, cam.width, len(cam)) == (H, W, 3)
    got = dict(cam.frames([0, 2]))
    assert list(got) == [0, 2]
    np.testing.assert_array_equal(got[2], synthetic_frame(H, W, 2, 3))  # PNG: lossless
    cv2.imwrite(str(files[1]), np.zeros((H + 2, W, 3), np.uint8))
    with pytest.raises(ValueError, match=r"00001\.png"):
        list(cam.frames([1]))
    files[2].write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"00002\.png"):
        list(cam.frames([2]))
