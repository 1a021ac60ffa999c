"""The encoder-fault classification on real errors: a refusal of our own muxer while flushing is a fault (also wrapped
by the episode writer), and so is a bounded hang (raised only where no watchdog owns it); the same error family from
decoding a corrupt file, raised elsewhere, is not; the retry writes once more on a fault only and names both attempts
when the second fails too."""

from __future__ import annotations

from pathlib import Path

import av
import av.error
import numpy as np
import pytest

from ingest.lerobot.encoder_faults import EncoderFailedTwice, encoder_fault, write_retrying_encoder_faults
from ingest.lerobot.errors import EpisodeError
from ingest.lerobot.staging import EpisodeBuilder
from ingest.lerobot.video import EncoderHungError, VideoCodec, VideoEncoder
from schemas.lerobot_features import FeatureSpec
from tests.jobs.ingest.fault_hooks import RefusingMuxer

W = H = 64


def _frames(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    return [np.roll(base, 2 * i, axis=1) for i in range(n)]


def _refusing(enc: VideoEncoder, faults: int) -> VideoEncoder:
    left = [faults]

    def fault() -> bool:
        left[0] -= 1
        return left[0] >= 0

    enc._container = RefusingMuxer(enc._container, fault)  # type: ignore[assignment]
    enc._container.flushing = True  # type: ignore[union-attr]  # from now on: called before the flush
    return enc


def test_a_muxer_refusal_in_our_encoder_is_a_fault(tmp_path: Path) -> None:
    enc = VideoEncoder(tmp_path / "a.mp4", W, H, 10, VideoCodec())
    for f in _frames(12):
        enc.encode(f)
    with pytest.raises(av.error.ArgumentError) as info:
        _refusing(enc, 1).close()  # the muxer refuses the flush's first packet
    assert info.value.errno == 22
    assert encoder_fault(info.value) is info.value
    # the refused packet is named (12 small frames: SVT-AV1 holds them all back to the flush, so the first is pts 0)
    assert "(packet pts 0 dts 0 of " in str(info.value) and "bytes after dts None)" in str(info.value), info.value


def test_the_episode_writers_wrapping_keeps_the_fault(tmp_path: Path) -> None:
    feats = {"observation.images.cam": FeatureSpec(dtype="video", shape=[H, W, 3], names=["height", "width", "rgb"])}
    b = EpisodeBuilder(tmp_path / "stage", feats, fps=10, codec=VideoCodec(), dataset="d", label="ep", task="t")
    for f in _frames(12):
        b.add_frame({"observation.images.cam": f})
    threaded = b._encoders["observation.images.cam"]  # in-process: fed from its own thread (waits bounded)
    _refusing(threaded._enc, 1)  # type: ignore[union-attr]
    with pytest.raises(EpisodeError, match="could not finish the episode: Invalid argument") as info:
        b.finish()
    assert isinstance(encoder_fault(info.value), av.error.ArgumentError)
    assert not (tmp_path / "stage").exists(), "the failed attempt leaves nothing behind"


def test_a_source_decode_error_is_not_a_fault(tmp_path: Path) -> None:
    good = tmp_path / "good.mp4"
    enc = VideoEncoder(good, W, H, 10, VideoCodec())
    for f in _frames(12):
        enc.encode(f)
    enc.close()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 64 + good.read_bytes()[64:])  # its header gone: not a readable mp4
    with pytest.raises(av.error.FFmpegError) as info:
        with av.open(str(bad)) as f:
            list(f.decode(video=0))
    assert encoder_fault(info.value) is None
    with pytest.raises(av.error.ArgumentError) as raised:  # the muxer's error type, raised outside the encoder
        raise av.error.ArgumentError(22, "Invalid argument", "x.mp4")
    assert encoder_fault(raised.value) is None


def test_a_bounded_hang_is_a_fault_even_wrapped() -> None:
    hung = EncoderHungError("SVT-AV1 did not finish flushing a.mp4 in 61 s")
    assert encoder_fault(hung) is hung
    try:
        try:
            raise hung
        except EncoderHungError as e:
            raise EpisodeError(f"could not finish the episode: {e}") from e
    except EpisodeError as wrapped:
        assert encoder_fault(wrapped) is hung


def _writer(tmp_path: Path, faults: int) -> tuple[list[int], object]:
    calls: list[int] = []

    def write() -> int:
        calls.append(1)
        enc = VideoEncoder(tmp_path / f"w{len(calls)}.mp4", W, H, 10, VideoCodec())
        for f in _frames(12):
            enc.encode(f)
        _refusing(enc, faults - len(calls) + 1).close()
        return (tmp_path / f"w{len(calls)}.mp4").stat().st_size

    return calls, write


def test_one_fault_is_written_over(tmp_path: Path) -> None:
    calls, write = _writer(tmp_path, 1)
    retried: list[str] = []
    size = write_retrying_encoder_faults(write, "ep", retried)  # type: ignore[arg-type]
    assert size > 0 and len(calls) == 2
    assert len(retried) == 1 and "Invalid argument" in retried[0] and "w1.mp4" in retried[0]


def test_two_faults_name_both_attempts(tmp_path: Path) -> None:
    calls, write = _writer(tmp_path, 2)
    retried: list[str] = []
    with pytest.raises(EncoderFailedTwice) as info:
        write_retrying_encoder_faults(write, "ep", retried)  # type: ignore[arg-type]
    msg = str(info.value)
    assert len(calls) == 2 and msg.startswith("encoder failed twice: first attempt: ")
    assert "w1.mp4" in msg and "; second attempt: " in msg and "w2.mp4" in msg


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def write() -> None:
        calls.append(1)
        raise EpisodeError("non-finite value(s) at flat position(s) [3]", feature="observation.state")

    retried: list[str] = []
    with pytest.raises(EpisodeError):
        write_retrying_encoder_faults(write, "ep", retried)
    assert calls == [1] and retried == []
