"""A video frame FFmpeg refuses, named: the file, the frame and the cause (review 7 m03: an mp4 declaring 160x120
whose third frame is 16000x16000 was quarantined as "avcodec_send_packet() returned 22", naming neither).

The cause is FFmpeg's own error line. PyAV keeps FFmpeg's log off (`av.logging` level None: its callback from
FFmpeg's threads can deadlock), so the line is not there when the decode fails; a refusal is rare, so the file is
decoded once more, packet by packet, with the log captured on this thread for that pass only, which also counts the
frames decoded before the refused one. A frame larger than the stream declares is refused before its buffer is
allocated (`max_pixels`, `adapters.cameras.decoding`), so the pass costs at most the frames before it."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import av
import av.logging

from adapters.base import AdapterError

# FFmpeg's imgutils line for a frame past `max_pixels` or past its own size limit (libavutil/imgutils.c)
_PICTURE = re.compile(r"Picture size (\d+)x(\d+)")

Opener = Callable[[Any], AbstractContextManager[tuple[av.container.InputContainer, av.video.stream.VideoStream]]]


def refused(video: Any, declared: tuple[int, int], error: Exception, opened: Opener) -> AdapterError:
    """The error for `video` (a path, URL or file object), whose stream declares `declared` (w, h), refused by
    FFmpeg with `error`: the first frame the decoder refuses and why, from a second pass (`opened` opens it as the
    first did); a file object (a shard member) is not read twice, and its error names the file and FFmpeg's error."""
    name, (w, h) = _name(video), declared
    if hasattr(video, "read"):  # a file object: not read twice
        return AdapterError(f"a frame could not be decoded ({error})", adapter="video", file=name)
    frame, line = _first_refused(video, opened)
    size = _PICTURE.search(line)
    if size is not None and frame is not None and (int(size[1]), int(size[2])) != (w, h):
        found = resized(video, frame, declared, (int(size[1]), int(size[2])))
        return AdapterError(f"{found.reason}; {error}", adapter="video", file=name)
    where = f"frame {frame}" if frame is not None else "a frame"
    cause = f"the decoder refused it ({line.strip() or 'FFmpeg gave no reason'})"
    return AdapterError(f"{where} could not be decoded: {cause}; {error}", adapter="video", file=name)


def resized(video: Any, frame: int, declared: tuple[int, int], size: tuple[int, int]) -> AdapterError:
    """The error for frame `frame` of `video` decoded at `size` (w, h) where its stream declares `declared`."""
    cause = f"it is {size[0]}x{size[1]}, a frame of another size than the stream declares ({declared[0]}x{declared[1]})"
    return AdapterError(f"frame {frame} could not be decoded: {cause}", adapter="video", file=_name(video))


def _name(video: Any) -> str:
    return str(getattr(video, "name", "video")) if hasattr(video, "read") else str(video)


def _first_refused(video: Any, opened: Opener) -> tuple[int | None, str]:
    """(index of the first frame the decoder refuses, FFmpeg's last error line); (None, "") when this pass decodes
    every frame (the first failure was not the data's)."""
    level = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture(local=True) as logs, opened(video) as (c, s):
            decoded = 0
            try:
                for packet in c.demux(s):
                    decoded += len(s.codec_context.decode(packet))
            except av.error.FFmpegError as e:
                last = logs[-1] if logs else getattr(e, "log", None)  # (level, component, line)
                return decoded, str(last[-1]) if isinstance(last, tuple) and last else ""
    except av.error.FFmpegError as e:
        return None, str(e)
    finally:
        av.logging.set_level(level)
    return None, ""
