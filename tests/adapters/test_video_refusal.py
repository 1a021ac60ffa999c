"""A frame FFmpeg refuses is named with its file, its index and the cause (`adapters.video_refusal`): review 7 m03, an
mp4 declaring 160x120 whose third frame is 16000x16000, was quarantined as "avcodec_send_packet() returned 22"."""

from __future__ import annotations

import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from adapters.base import AdapterError
from adapters.cameras import VideoClipCamera, VideoFileCamera


def _png_header(w: int, h: int) -> bytes:
    """A PNG that declares w x h and holds one row: the decoder refuses it at its size, before reading rows."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * (3 * w + 1)))
        + chunk(b"IEND", b"")
    )


def _mov(path: Path, big_at: int, frames: int = 5) -> Path:
    """A mov of PNG frames declaring 160x120; frame `big_at` a 16000x16000 PNG (2 KB: never decoded whole)."""
    tb = Fraction(1, 10)
    with av.open(str(path), "w", format="mov") as c:
        s = c.add_stream("png", rate=10)
        s.width, s.height, s.pix_fmt = 160, 120, "rgb24"
        for i in range(frames):
            if i == big_at:
                p = av.Packet(_png_header(16000, 16000))
                p.stream, p.pts, p.dts, p.time_base = s, i, i, tb
                c.mux(p)
                continue
            f = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 40 * i, np.uint8), format="rgb24")
            f.pts, f.time_base = i, tb
            c.mux(s.encode(f))
        c.mux(s.encode())
    return path


@pytest.mark.parametrize("big_at", [2, 4])
def test_a_frame_larger_than_its_stream_is_named_with_its_file_and_index(tmp_path: Path, big_at: int) -> None:
    path = _mov(tmp_path / "episode_000001.mp4", big_at)
    for camera in (VideoFileCamera(path, "head", None), VideoClipCamera(path, "head", None, 0.0, 0.5)):
        with pytest.raises(AdapterError) as e:
            list(camera.frames())
        assert e.value.file == str(path)
        assert f"frame {big_at} could not be decoded" in e.value.reason
        assert "16000x16000, a frame of another size than the stream declares (160x120)" in e.value.reason


def test_a_stream_of_its_declared_size_decodes(tmp_path: Path) -> None:
    path = _mov(tmp_path / "ok.mp4", big_at=-1)
    assert [i for i, _ in VideoFileCamera(path, "head", None).frames()] == [0, 1, 2, 3, 4]
