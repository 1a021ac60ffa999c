"""Frames read back from an mp4 by frame number: the wanted ones, each once, in order, with their content; and the
frame count from the packets; a file object decodes as its path does."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from ingest.lerobot.video_read import decode_frames
from tests.fixtures.readback import count_frames

N, H, W = 12, 32, 48


def _level(i: int) -> int:
    return 10 + 20 * i  # a flat grey per frame, far enough apart to tell frames apart after lossy coding


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "episode_000000.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for i in range(N):
            frame = av.VideoFrame.from_ndarray(np.full((H, W, 3), _level(i), np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def _which(rgb: np.ndarray) -> int:
    return int(np.argmin([abs(float(rgb.mean()) - _level(i)) for i in range(N)]))


def test_all_frames_in_order_with_their_content(mp4: Path) -> None:
    got = list(decode_frames(mp4))
    assert [i for i, _ in got] == list(range(N))
    assert all(rgb.shape == (H, W, 3) and rgb.dtype == np.uint8 for _, rgb in got)
    assert [_which(rgb) for _, rgb in got] == list(range(N))


def test_wanted_frames_once_each_sorted(mp4: Path) -> None:
    got = list(decode_frames(mp4, [7, 2, 7, 0, N + 5]))  # past the end: nothing to yield for it
    assert [i for i, _ in got] == [0, 2, 7]
    assert [_which(rgb) for _, rgb in got] == [0, 2, 7]
    assert list(decode_frames(mp4, [])) == []


def test_count_frames(mp4: Path) -> None:
    assert count_frames(mp4) == N


def test_a_file_object_decodes_as_the_path(mp4: Path) -> None:
    """An object in a bucket reaches PyAV as a seekable file object (`adapters.storage.location.readable`)."""
    want = list(decode_frames(mp4, [1, 5, 9]))
    with mp4.open("rb") as f:
        got = list(decode_frames(f, [1, 5, 9]))
        assert not f.closed  # the caller's to close
    assert [i for i, _ in got] == [1, 5, 9]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(got, want, strict=True))
