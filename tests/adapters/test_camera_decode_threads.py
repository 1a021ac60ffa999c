"""Camera readers decode on the calling thread only (an ingest task holds one core), with the same pixels as FFmpeg's
automatic threading gives."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from adapters.cameras import VideoClipCamera, VideoFileCamera, open_decoder
from adapters.synthetic.video import synthetic_frame, write_mp4


def test_one_decoder_thread_same_pixels(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    write_mp4(path, (synthetic_frame(64, 96, t) for t in range(12)), 30, codec="libsvtav1", crf=40)
    c, s = open_decoder(path)
    with c:
        assert s.codec_context.thread_count == 1 and s.thread_type.name == "NONE"
    with av.open(str(path)) as c:  # FFmpeg's default threading
        want = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    got = [rgb for _, rgb in VideoFileCamera(path, "c", None).frames()]
    clip = [rgb for _, rgb in VideoClipCamera(path, "c", None, 0.0, 1.0).frames()]
    assert len(got) == len(clip) == 12
    assert all(np.array_equal(a, b) and np.array_equal(a, d) for a, b, d in zip(want, got, clip, strict=True))
