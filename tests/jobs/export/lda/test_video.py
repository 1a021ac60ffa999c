"""All-intra H.264 (`jobs/export/lda/video.py`): every frame is a keyframe, decodes at its index to the frame PyAV
decodes in order, close to the source; a source whose frame count is not the episode's is refused, nothing left."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.lerobot.video import VideoCodec, VideoEncoder
from jobs.export.lda.video import transcode


def _source(path: Path, n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    frames = np.repeat(np.linspace(0, 255, 48, dtype=np.uint8)[None, None, :, None], 32, axis=1).repeat(3, axis=3)
    frames = np.stack([np.roll(frames[0], 3 * i, axis=1) for i in range(n)])
    frames[:, :4, :4] = rng.integers(0, 255, size=(n, 1, 1, 3), dtype=np.uint8)
    enc = VideoEncoder(path, 48, 32, 10, VideoCodec(g=10))  # AV1, a keyframe every 10 frames: eidata's kind
    for f in frames:
        enc.encode(f)
    enc.close()
    return frames


def test_every_frame_is_a_keyframe_and_decodes_at_its_index(tmp_path: Path) -> None:
    import av

    src = _source(tmp_path / "src.mp4", 23)
    assert transcode(tmp_path / "src.mp4", tmp_path / "out/x.mp4", 10, 23) == 23
    with av.open(str(tmp_path / "out/x.mp4")) as c:
        vs = c.streams.video[0]
        assert vs.codec_context.name == "h264"
        keys = [p.is_keyframe for p in c.demux(vs) if p.size]
    with av.open(str(tmp_path / "out/x.mp4")) as c:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])])
    assert keys == [True] * 23 and len(frames) == 23
    assert np.abs(frames.astype(int) - src).mean() < 6  # lossy, but the source's frames in their order
    with av.open(str(tmp_path / "out/x.mp4")) as c:
        vs = c.streams.video[0]
        for i in (22, 0, 13, 7):
            c.seek(round(i / 10 / vs.time_base), stream=vs, backward=True)
            got = next(c.decode(vs))
            assert round(got.pts * vs.time_base * 10) == i and np.array_equal(got.to_ndarray(format="rgb24"), frames[i])


def test_a_frame_count_that_is_not_the_episodes_is_refused(tmp_path: Path) -> None:
    _source(tmp_path / "src.mp4", 5)
    with pytest.raises(ValueError, match=r"src\.mp4: 5 frames, the episode has 6"):
        transcode(tmp_path / "src.mp4", tmp_path / "x.mp4", 10, 6)
    assert not (tmp_path / "x.mp4").exists()
