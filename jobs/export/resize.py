"""Frames of one size in an export: the one mechanism every format that writes frames uses (`--frame-size`,
`--frame-fit`; the typed option and why its defaults are what they are: `schemas/export_frames.py`; what it does:
jobs/export/README.md, "Frame size").

A resized episode is fitted as ingest stores frames at a size (`adapters.cameras.frame_converter`) and encoded with
its camera's own codec (`codec_of`), so its stream has the signature of the episodes already at the size and a v3.0
export stream-copies them into the same file; its intrinsics and camera stats are those of the new pixels. An
episode already at the size is not touched: its video is copied as it is.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Protocol

import av
import numpy as np

from adapters.cameras import decoding, frame_converter
from ingest.lerobot.image_stats import ImageStats
from ingest.lerobot.video import VideoCodec, VideoEncoder
from schemas.canonical import IMAGE_PREFIX, INTRINSICS_KEY, feature_intrinsics
from schemas.export_frames import HW, ExportFrames, size_text
from schemas.export_layout import intrinsics_column
from schemas.image_size import FrameFit
from schemas.lerobot import FeatureStats

NO_FITS: Mapping[str, FrameFit] = MappingProxyType({})  # an episode none of whose cameras is resized

# a camera's codec as lerobot's info names it (`video.codec`, FFmpeg's canonical name) -> the encoder ingest uses
ENCODERS = {"av1": "libsvtav1", "h264": "h264", "hevc": "hevc"}


class Episode(Protocol):
    """What `plan_resizing` reads and sets on an episode to export (`jobs.export.lerobot_v3.plan.EpisodeRef`)."""

    extra: Mapping[str, Any]  # set whole (a plan's `EpisodeRef.extra` is read-only)
    resize: Mapping[str, FrameFit]

    @property
    def source(self) -> Any: ...  # with `features`: its dataset's info features

    def camera(self, key: str) -> str: ...


def feature_hw(feature: Mapping[str, Any]) -> HW:
    """(height, width) of a camera feature (`shape` [h, w, c])."""
    shape = feature["shape"]
    return int(shape[0]), int(shape[1])


@dataclass
class Resizing:
    """What an export resizes: per camera the exported size and the episodes resized from each other size."""

    frames: ExportFrames
    targets: dict[str, HW]
    resized: dict[str, Counter[HW]] = field(default_factory=dict)
    episodes: int = 0  # episodes with at least one camera resized
    total: int = 0

    def line(self) -> str | None:
        """One line: how many episodes, from which sizes to which; None when nothing is resized."""
        if not self.episodes:
            return None
        cams = "; ".join(
            f"{k.removeprefix(IMAGE_PREFIX)} "
            + ", ".join(f"{size_text(hw)} ({n} ep)" for hw, n in sorted(c.items()))
            + f" -> {size_text(self.targets[k])}"
            for k, c in self.resized.items()
            if c
        )
        how = f"--frame-size {self.frames.size}, --frame-fit {self.frames.fit.value}"
        return f"frames resized in {self.episodes} of {self.total} episodes ({how}): {cams}"

    def record(self) -> dict[str, Any]:
        """The completion record's account (`.eidata-export.json` `resized`)."""
        return {
            "frame_size": self.frames.size,
            "fit": self.frames.fit.value,
            "episodes": self.episodes,
            "cameras": {
                k: {"to": size_text(self.targets[k]), "from": {size_text(hw): n for hw, n in sorted(c.items())}}
                for k, c in self.resized.items()
                if c
            },
        }


def plan_resizing(episodes: Sequence[Episode], keys: Sequence[str], frames: ExportFrames) -> Resizing:
    """Decide every exported camera's size and each episode's fits (module docstring); sets `episode.resize` and
    maps the intrinsics columns of the episodes resized."""
    sizes = {k: Counter(feature_hw(e.source.features[e.camera(k)]) for e in episodes) for k in keys}
    out = Resizing(frames, {k: frames.target(c) for k, c in sizes.items() if c}, total=len(episodes))
    out.resized = {k: Counter() for k in out.targets}
    keys = list(out.targets)
    shared: dict[Any, Any] = {}  # one fits mapping per set of sizes, one fitted K per camera, size and K
    for e in episodes:
        hws = tuple(feature_hw(e.source.features[e.camera(k)]) for k in keys)
        if hws not in shared:
            found = {
                k: fit
                for k, hw in zip(keys, hws, strict=True)
                if (fit := frames.fit_for(hw, out.targets[k])) is not None
            }
            shared[hws] = MappingProxyType(found) if found else NO_FITS
        fits, mapped = shared[hws], {}
        for key, hw in zip(keys, hws, strict=True):
            if (fit := fits.get(key)) is None:
                continue
            out.resized[key][hw] += 1
            K = e.extra.get(intrinsics_column(key))
            if K is not None:
                K = np.reshape(K, (3, 3))
                at = (key, hw, K.dtype.str, K.tobytes())  # the same K to the bit: the same fitted K
                if at not in shared:
                    shared[at] = fit.intrinsics(K).reshape(-1).tolist()
                mapped[intrinsics_column(key)] = shared[at]
        if mapped:
            e.extra = {**e.extra, **mapped}
        e.resize = fits
        out.episodes += bool(fits)
    return out


def video_feature(feature: Mapping[str, Any], hw: HW, fit: FrameFit | None = None) -> dict[str, Any]:
    """The camera `feature` at the exported (height, width) `hw`: shape and `video.height`/`video.width`, and its
    intrinsics through `fit` where it claims some (a single dataset's, every episode fitted alike)."""
    out = copy.deepcopy(dict(feature))
    out["shape"] = [hw[0], hw[1], *list(out["shape"])[2:]]
    info = out.get("info")
    if isinstance(info, dict):
        if "video.height" in info:
            info["video.height"], info["video.width"] = hw
        K = feature_intrinsics(info)
        if K is not None and fit is not None:
            info[INTRINSICS_KEY] = fit.intrinsics(K).tolist()
    return out


def codec_of(feature: Mapping[str, Any]) -> VideoCodec:
    """The encoder settings that write a stream like the camera's own (ingest's, `VideoCodec`); an unknown codec is
    encoded as lerobot's default, AV1."""
    return VideoCodec(vcodec=ENCODERS.get(str((feature.get("info") or {}).get("video.codec") or "av1"), "libsvtav1"))


def resize_video(src: str | Path | IO[bytes], dst: Path, fit: FrameFit, fps: int, codec: VideoCodec) -> FeatureStats:
    """Decode `src`, fit every frame (`fit`), encode the frames at `fps` into `dst` (removed on an error); returns
    the camera stats of the frames written, as ingest computes them."""
    h, w = fit.out_hw
    stats, encoder = ImageStats(h, w), VideoEncoder(Path(dst), w, h, fps, codec)
    try:
        with decoding(src) as (container, stream):
            convert = frame_converter(fit)
            for frame in container.decode(stream):
                rgb = convert(frame)
                stats.add(rgb)
                encoder.encode(rgb)
        if encoder.frames == 0:
            raise ValueError(f"{src}: no frame to resize")
        encoder.close()
    except BaseException:
        encoder.abort()
        Path(dst).unlink(missing_ok=True)
        raise
    return stats.finish()


@contextmanager
def episode_video(
    corpus: Any, src: Path, fit: FrameFit | None, scratch: Path, fps: int, feature: Mapping[str, Any]
) -> Iterator[tuple[av.container.InputContainer, int, FeatureStats | None]]:
    """One episode's video `src` of `corpus` (`adapters.storage.corpus.Corpus`) open for a writer to copy: (container,
    bytes, None) as it is, or with `fit` resized into `scratch` first (the camera `feature`'s codec, at `fps`; the file
    removed on leaving) and the stats of its frames instead of None."""
    if fit is None:
        with corpus.open_file(src) as f, av.open(f) as container:
            yield container, corpus.size(src), None
        return
    try:
        with corpus.open_file(src) as f:
            stats = resize_video(f, scratch, fit, fps, codec_of(feature))
        with av.open(str(scratch)) as container:
            yield container, scratch.stat().st_size, stats
    finally:
        scratch.unlink(missing_ok=True)
