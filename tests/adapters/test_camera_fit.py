"""Cameras storing frames at a training size (`frames(indices, fit)`): where a scene point lands in the stored pixels
is where the fit's pixel map (and so the stored intrinsics) says, through libswscale for video and OpenCV for images;
pad bars carry the fill; native stays byte-identical; only the wanted frames are converted."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from adapters.cameras import EncodedImagesCamera, VideoFileCamera
from adapters.synthetic.video import write_mp4
from schemas.image_size import Fit, FrameFit

H, W = 270, 480  # 16:9 like EgoDex's 1080p
SPOTS = [(61.3, 150.6), (140.25, 240.5), (203.7, 330.2)]  # (v, u) sub-pixel centres, one per frame


def _spot_frame(v: float, u: float) -> np.ndarray:
    """Dark frame with a bright Gaussian spot (sigma 4 px) centred at (u, v), pixel centres at integers."""
    y, x = np.mgrid[0:H, 0:W]
    lum = 20 + 220 * np.exp(-((x - u) ** 2 + (y - v) ** 2) / (2 * 4.0**2))
    return np.repeat(lum[..., None], 3, axis=2).round().astype(np.uint8)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fit") / "spots.mp4"
    write_mp4(path, (_spot_frame(*s) for s in SPOTS), 30, crf=4, gop=1)
    return path


def _centroid(img: np.ndarray) -> tuple[float, float]:
    lum = img[..., 1].astype(np.float64)
    w = np.clip(lum - 60, 0, None)  # the spot only: background (20) and pad bars (~116) drop out
    y, x = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    return float((w * y).sum() / w.sum()), float((w * x).sum() / w.sum())


@pytest.mark.parametrize("fit", [Fit.pad, Fit.crop, Fit.squash])
def test_video_spots_land_where_the_pixel_map_says(video: Path, fit: Fit) -> None:
    plan = FrameFit.make((H, W), (224, 224), fit, pad_rgb=(0, 0, 0))
    got = dict(VideoFileCamera(video, "cam", None).frames([0, 1, 2], plan))
    for i, (v, u) in enumerate(SPOTS):
        assert got[i].shape == (224, 224, 3) and got[i].dtype == np.uint8
        want_u, want_v, _ = plan.pixel_map @ [u, v, 1]
        cy, cx = _centroid(got[i])
        assert abs(cx - want_u) < 0.15 and abs(cy - want_v) < 0.15, (fit, i, (cx, cy), (want_u, want_v))


def test_image_camera_resizes_the_same_way(video: Path) -> None:
    """Encoded images go through OpenCV instead of libswscale: same geometry."""
    pngs = [cv2.imencode(".png", cv2.cvtColor(_spot_frame(*s), cv2.COLOR_RGB2BGR))[1].tobytes() for s in SPOTS]
    cam = EncodedImagesCamera(pngs, "cam", None, np.arange(3) / 30)
    plan = FrameFit.make((H, W), (224, 224), Fit.crop)
    for i, img in cam.frames([0, 1, 2], plan):
        want_u, want_v, _ = plan.pixel_map @ [SPOTS[i][1], SPOTS[i][0], 1]
        cy, cx = _centroid(img)
        assert abs(cx - want_u) < 0.15 and abs(cy - want_v) < 0.15


def test_pad_bars_carry_the_fill_through_the_decode_path(video: Path) -> None:
    plan = FrameFit.make((H, W), (224, 224), Fit.pad, pad_rgb=(123, 116, 103))
    (_, img), *_ = VideoFileCamera(video, "cam", None).frames([0], plan)
    y = plan.offset_yx[0]
    assert y == 49 and (img[:y] == (123, 116, 103)).all() and (img[y + plan.scaled_hw[0] :] == (123, 116, 103)).all()
    assert img[y:-y].mean() < 60  # the picture itself: dark background


def test_native_is_unchanged(video: Path) -> None:
    import av

    with av.open(str(video)) as c:
        want = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    got = [img for _, img in VideoFileCamera(video, "cam", None).frames()]
    assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))


def test_only_the_wanted_frames_are_yielded_at_the_stored_size(video: Path) -> None:
    plan = FrameFit.make((H, W), (112, 112), Fit.squash)
    got = list(VideoFileCamera(video, "cam", None).frames([1], plan))
    assert [i for i, _ in got] == [1] and got[0][1].shape == (112, 112, 3)
