"""`VideoFileCamera` seeks to the keyframe before its first wanted frame (a later span of an episode cut at a gap)
instead of decoding the file from its start again, and yields the very frames a full decode gives."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from adapters.cameras import VideoFileCamera
from adapters.synthetic.video import synthetic_frame, write_mp4
from schemas.image_size import FrameFit

N = 90


@pytest.fixture(scope="module", params=["libx264", "mpeg4", "libsvtav1"])
def video(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seek") / f"{request.param}.mp4"
    bframes = 2 if request.param == "libx264" else None  # pts != dts: the order the decoder hands frames out differs
    write_mp4(path, (synthetic_frame(48, 64, t) for t in range(N)), 30, codec=request.param, gop=15, bframes=bframes)
    return path


def _all(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_a_later_span_decodes_from_its_keyframe_with_the_same_pixels(video: Path) -> None:
    want = _all(video)
    assert len(want) == N
    cam = VideoFileCamera(video, "c", None)
    wanted = list(range(50, N, 3))
    got = dict(cam.frames(wanted))
    assert sorted(got) == wanted
    assert all(np.array_equal(got[i], want[i]) for i in wanted)
    assert cam.decoded <= N - 50 + 15  # from the keyframe before frame 50 (GOP 15), not from frame 0


def test_the_first_span_still_decodes_from_the_start(video: Path) -> None:
    cam = VideoFileCamera(video, "c", None)
    got = dict(cam.frames([0, 10, 20]))
    assert sorted(got) == [0, 10, 20] and cam.decoded == 21


def test_seek_and_fit_together(video: Path) -> None:
    want = _all(video)
    fit = FrameFit.make((48, 64), (32, 32), "pad")
    ref = dict(VideoFileCamera(video, "c", None).frames(list(range(0, N)), fit))
    got = dict(VideoFileCamera(video, "c", None).frames([60, 61, 89], fit))
    assert all(np.array_equal(got[i], ref[i]) for i in (60, 61, 89)) and len(want) == N
