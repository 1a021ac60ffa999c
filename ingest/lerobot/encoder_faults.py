"""Which write failures are our encoder's own transient faults, worth one more attempt instead of a quarantine.

SVT-AV1 4.1.0 (bundled by PyAV 18.1.0) has shown rare races under heavy load. Besides the hang in its final flush
(bounded: `EncoderHungError`, owned in a job by `jobs.runtime.deadline`), a full test run at load ~245 once had the
mp4 muxer refuse a flushed packet (`av.error.ArgumentError`, errno 22: libavformat's mux.c answers AVERROR(EINVAL)
to a packet whose dts does not increase or whose pts < dts, and pts/dts of an SVT-AV1 packet are the library's own,
libavcodec/libsvtav1.c copies them from its output header); the same episode wrote fine when run again. Our side
gives the encoder strictly increasing pts (`VideoEncoder.encode_frame`) and gets one packet per frame with
pts == dts == frame number. A quarantine is honoured exactly once by every rerun, so quarantining such a fault would
lose a good episode for good: the job writes the episode once more from its source and quarantines only a second
fault, naming both.

The classification is narrow on purpose, so that nothing deterministic is retried:
- only an FFmpeg error (`av.error.FFmpegError`) raised inside `VideoEncoder`'s encode, flush or close, i.e. by the
  codec or the muxer of OUR output file. The same error type raised anywhere else (decoding a source video, reading
  back our own output) is the episode's data and stays a quarantine reason at once, as do all data errors, which
  never come from those calls.
- a hang (`EncoderHungError`) where it is raised at all: only where the encoder's waits are bounded, i.e. where no
  watchdog owns the deadline (in-process writes, as the tests make, and a job outside Ray). In a Ray
  worker the waits are unbounded and the job's watchdog kills the worker, retries once and then quarantines, so a
  hang is never counted twice. A full CI run once hit the flush hang in an in-process test write (SVT-AV1 4.1.0,
  164 frames of 256x256 not flushed in 82 s); the same episode wrote at once when run again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

from ingest.lerobot.video import EncoderHungError, VideoEncoder

log = logging.getLogger(__name__)

T = TypeVar("T")

# The only calls that run our codec and muxer: feeding a frame, draining the codec at end of stream, closing the file
# (writes the trailer). A fault's traceback passes through one of them.
_ENCODER_CALLS = frozenset(f.__code__ for f in (VideoEncoder.encode_frame, VideoEncoder._drain, VideoEncoder.close))


class EncoderFailedTwice(RuntimeError):
    """An episode's write hit an encoder fault on both attempts; the message names both."""


def _through_encoder(tb: TracebackType | None) -> bool:
    while tb is not None:
        if tb.tb_frame.f_code in _ENCODER_CALLS:
            return True
        tb = tb.tb_next
    return False


def encoder_fault(e: BaseException) -> BaseException | None:
    """The FFmpeg error our own encoder or muxer raised, or the bounded hang of its flush, found in `e` or what caused
    it (the episode writer wraps it in an `EpisodeError`); None when `e` is anything else."""
    from av.error import FFmpegError

    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, EncoderHungError):
            return cur
        if isinstance(cur, FFmpegError) and _through_encoder(cur.__traceback__):
            return cur
        cur = cur.__cause__ or cur.__context__
    return None


def _describe(e: BaseException) -> str:
    return getattr(e, "reason", None) or str(e) or type(e).__name__


def write_retrying_encoder_faults(write: Callable[[], T], label: str, retried: list[str]) -> T:
    """`write()`, and once more if it failed with an encoder fault (`encoder_fault`), the fault's reason appended to
    `retried`. `write` must start from the source and leave nothing behind when it fails (the episode writer deletes
    its staging folder on any error). A second encoder fault raises `EncoderFailedTwice` naming both attempts; any
    other error of either attempt is raised as it is (its own reason)."""
    try:
        return write()
    except Exception as e:
        if encoder_fault(e) is None:
            raise
        first = _describe(e)
    log.warning("%s: encoder fault, writing the episode once more: %s", label, first)
    retried.append(first)
    try:
        return write()
    except Exception as e:
        if encoder_fault(e) is None:
            raise
        raise EncoderFailedTwice(f"encoder failed twice: first attempt: {first}; second attempt: {_describe(e)}") from e
