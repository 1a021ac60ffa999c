"""Episode videos joined into one v3.0 file by stream copy: each episode's place is (sum of the previous durations,
that + its duration) as lerobot records it, frame i of episode k is the frame shown at from_timestamp + i / fps,
nothing is re-encoded, the file appears under its name only when closed, and a stream that cannot be copied into it
is refused naming the file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from jobs.export.lerobot_v3.video import StreamSignature, VideoFileWriter, probe_open

FPS, H, W = 10, 32, 48
LENGTHS = [7, 4, 9]


def _episode(path: Path, n: int, level: int, size: tuple[int, int] = (H, W)) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"g": "4"})
        stream.height, stream.width, stream.pix_fmt = *size, "yuv420p"
        for i in range(n):
            frame = np.full((*size, 3), level + 6 * i, np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())
    return path


def _packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(k) for k in c.demux(video=0) if k.size]


def _grey(frame: av.VideoFrame) -> float:
    return float(frame.to_ndarray(format="rgb24").mean())


def probe(path: Path) -> tuple[StreamSignature, int, float]:
    with av.open(str(path)) as container:
        return probe_open(container)


def _append(writer: VideoFileWriter, path: Path) -> tuple[float, float]:
    with av.open(str(path)) as container:
        return writer.append(path, container)


@pytest.fixture(scope="module")
def episodes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("episodes")
    return [_episode(folder / f"episode_{k:06d}.mp4", n, 20 + 70 * k) for k, n in enumerate(LENGTHS)]


def test_episodes_are_placed_end_to_end_and_copied_not_reencoded(episodes: list[Path], tmp_path: Path) -> None:
    sig, _, _ = probe(episodes[0])
    assert (sig.codec, sig.width, sig.height) == ("h264", W, H)
    out = tmp_path / "videos/observation.images.head/chunk-000/file-000.mp4"
    writer = VideoFileWriter(out, sig)
    spans = [_append(writer, p) for p in episodes]
    assert not out.exists()  # only the hidden partial file until close
    writer.close()
    seconds = [probe(p)[2] for p in episodes]
    starts = np.cumsum([0.0, *seconds[:-1]])
    assert spans == [(s, s + d) for s, d in zip(starts, seconds, strict=True)]
    assert [p.name for p in out.parent.iterdir()] == ["file-000.mp4"]

    assert _packets(out) == [k for p in episodes for k in _packets(p)]  # the same compressed frames, in order
    with av.open(str(out)) as c:
        frames = [(Fraction(f.pts) * f.time_base, _grey(f)) for f in c.decode(video=0)]
    assert len(frames) == sum(LENGTHS)
    for k, (start, n) in enumerate(zip(starts, LENGTHS, strict=True)):
        for i in range(n):  # lerobot's reader: episode time t is file time from_timestamp + t
            t = Fraction(start).limit_denominator(10_000) + Fraction(i, FPS)
            shown = min(frames, key=lambda f: abs(f[0] - t))
            assert abs(float(shown[0] - t)) < 1e-3 and abs(shown[1] - (20 + 70 * k + 6 * i)) < 3


def test_a_stream_that_cannot_be_copied_is_refused_and_abort_leaves_nothing(
    episodes: list[Path], tmp_path: Path
) -> None:
    other = _episode(tmp_path / "small.mp4", 3, 50, size=(16, 24))
    writer = VideoFileWriter(tmp_path / "out" / "file-000.mp4", probe(episodes[0])[0])
    _append(writer, episodes[0])
    with pytest.raises(ValueError, match=r"small\.mp4: stream .* differs from the file's .*cannot be stream-copied"):
        _append(writer, other)
    writer.abort()
    assert list((tmp_path / "out").iterdir()) == []
