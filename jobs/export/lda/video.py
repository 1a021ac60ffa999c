"""An episode's camera video as LDA's decoders read it frame-exactly: H.264, every frame a keyframe.

LDA reads a frame by timestamp through its data config's backend (`lda/dataloader/gr00t_lerobot/video.py:73-160` at
jiangranlv/latent-dynamics-action@99bf08b): decord 0.6.0 has no AV1 decoder ("cannot find video stream"), OpenCV
fails to seek eidata's AV1, and `torchvision_av` seeks to the keyframe before the first timestamp then returns
consecutive frames (wrong for LDA's [-5, 0] window whatever the codec: use decord). H.264 with a keyframe interval of
1 (all-intra, no B-frames) makes every frame decodable on its own at its index by decord, OpenCV and PyAV, at the
cost of size (BENCHMARKS-style figures in jobs/export/README.md, "LDA"). pts = frame index / fps, as the canonical
video, so `timestamp` in the parquet still names each frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest.lerobot.video import VideoCodec, VideoEncoder

KEYFRAME_INTERVAL = 1  # all-intra
CODEC = VideoCodec.h264(g=KEYFRAME_INTERVAL)


def as_written(info: dict[str, Any], video_keys: list[str]) -> dict[str, Any]:
    """info.json's raw dict with each camera's codec said as `transcode` writes it (in place, and returned)."""
    for key in video_keys:
        vinfo = info["features"][key].setdefault("info", {})
        vinfo.update({"video.codec": "h264", "video.pix_fmt": "yuv420p", "video.keyframe_interval": KEYFRAME_INTERVAL})
    return info


def transcode(src: Path, dst: Path, fps: int, expected_frames: int) -> int:
    """Decode `src` and write every frame to `dst` as all-intra H.264; the frames written (must be
    `expected_frames`, the episode's length, else ValueError naming the file)."""
    import av

    dst.parent.mkdir(parents=True, exist_ok=True)
    enc: VideoEncoder | None = None
    try:
        with av.open(str(src)) as container:
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                if enc is None:
                    enc = VideoEncoder(dst, frame.width, frame.height, fps, CODEC)
                enc.encode(frame.to_ndarray(format="rgb24"))
        if enc is None:
            raise ValueError(f"{src}: no video frame")
        enc.close()
    except BaseException:
        if enc is not None:
            enc.abort()
        dst.unlink(missing_ok=True)
        raise
    if enc.frames != expected_frames:
        dst.unlink(missing_ok=True)
        raise ValueError(f"{src}: {enc.frames} frames, the episode has {expected_frames}")
    return enc.frames
