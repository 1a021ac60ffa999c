"""A frame FFmpeg refuses is named with its file, its index and the cause (`adapters.video_refusal`): review 7 m03, an
mp4 declaring 160x120 whose third frame is 16000x16000, was quarantined as "avcodec_send_packet() returned 22"."""

from __future__ import annotations

import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from adapters.base import AdapterError
from adapters.cameras import VideoClipCamera, VideoFileCamera
from adapters.storage.location import locate


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


def _png(w: int, h: int) -> bytes:
    """A whole PNG of w x h (decodable)."""
    return cv2.imencode(".png", np.full((h, w, 3), 90, np.uint8))[1].tobytes()


def _mov(path: Path, big_at: int, frames: int = 5, big: tuple[int, int] = (16000, 16000)) -> Path:
    """A mov of PNG frames declaring 160x120; frame `big_at` a PNG of `big` (w, h): 16000x16000 is 2 KB, refused before
    it is decoded; a size under the decoder's bound is decoded (one row, the rest zeros)."""
    tb = Fraction(1, 10)
    with av.open(str(path), "w", format="mov") as c:
        s = c.add_stream("png", rate=10)
        s.width, s.height, s.pix_fmt = 160, 120, "rgb24"
        for i in range(frames):
            if i == big_at:
                p = av.Packet(_png_header(*big) if big[0] > 4000 else _png(*big))
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
    for camera in (VideoFileCamera(locate(path), "head", None), VideoClipCamera(locate(path), "head", None, 0.0, 0.5)):
        with pytest.raises(AdapterError) as e:
            list(camera.frames())
        assert e.value.file == str(path)
        assert f"frame {big_at} could not be decoded" in e.value.reason
        assert "16000x16000, a frame of another size than the stream declares (160x120)" in e.value.reason


def test_a_stream_of_its_declared_size_decodes(tmp_path: Path) -> None:
    path = _mov(tmp_path / "ok.mp4", big_at=-1)
    assert [i for i, _ in VideoFileCamera(locate(path), "head", None).frames()] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("size", [(320, 240), (80, 60)])
def test_a_decoded_frame_of_another_size_than_its_stream_is_named(tmp_path: Path, size: tuple[int, int]) -> None:
    """Within the decoder's bound the frame decodes: read as it is it failed where it was written, naming neither
    file nor frame; scaled to a stored size it was resized without a word."""
    path = _mov(tmp_path / "episode_000002.mp4", 3, big=size)
    for camera in (VideoFileCamera(locate(path), "head", None), VideoClipCamera(locate(path), "head", None, 0.0, 0.5)):
        with pytest.raises(AdapterError) as e:
            list(camera.frames())
        assert e.value.file == str(path)
        want = f"frame 3 could not be decoded: it is {size[0]}x{size[1]}, a frame of another size than the stream"
        assert want in e.value.reason
