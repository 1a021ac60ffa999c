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
from schemas.export_frames import DEFAULT_HW, HW, MAX_AUTO_SHRINK, ExportFrames, shrink, size_text
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


def source_name(source: Any) -> str:
    """An exported episode's dataset as the corpus names it (`<source>/<subset>`, the last two parts of its root)."""
    root = getattr(source, "root", None)
    return "/".join(Path(root).parts[-2:]) if root is not None else "-"


@dataclass
class Resizing:
    """What an export resizes: per camera the exported size and the episodes resized from each other size, and the
    same per source dataset (the summary's table)."""

    frames: ExportFrames
    targets: dict[str, HW]
    resized: dict[str, Counter[HW]] = field(default_factory=dict)
    by_source: dict[tuple[str, str, HW], int] = field(default_factory=dict)  # (dataset, camera, from) -> episodes
    episodes: int = 0  # episodes with at least one camera resized
    total: int = 0

    def table(self) -> str | None:
        """What was resized, a row per source dataset and camera (from, to, episodes, how many times it shrinks);
        None when nothing is resized."""
        if not self.episodes:
            return None
        rows = [("source", "camera", "from", "to", "episodes", "shrink")]
        for (ds, k, hw), n in sorted(self.by_source.items()):
            factor = shrink(hw, self.targets[k])
            said = f"{factor:.2f}x" if factor > 1 else "none (enlarged)"
            rows.append((ds, k.removeprefix(IMAGE_PREFIX), size_text(hw), size_text(self.targets[k]), str(n), said))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        how = f"--frame-size {self.frames.size}, --frame-fit {self.frames.fit.value}"
        head = f"frames resized in {self.episodes} of {self.total} episodes ({how}):"
        lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        return "\n".join([head, *lines])

    def shrunk_too_far(self) -> str | None:
        """The cameras `--frame-size auto` would shrink more than `MAX_AUTO_SHRINK` in a side, named with what to give
        instead; None when there is none."""
        over = [
            f"{ds} {k.removeprefix(IMAGE_PREFIX)} {size_text(hw)} -> {size_text(self.targets[k])} "
            f"({shrink(hw, self.targets[k]):.2f}x, {n} ep)"
            for (ds, k, hw), n in sorted(self.by_source.items())
            if self.frames.refused_shrink(hw, self.targets[k])
        ]
        if not over:
            return None
        return (
            f"--frame-size auto would shrink a camera more than {MAX_AUTO_SHRINK:g}x in a side: {'; '.join(over)}. "
            "Give the size to accept it (e.g. --frame-size "
            f"{size_text(DEFAULT_HW)}), or keep every pixel with --frame-size largest"
        )

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


def plan_resizing(
    episodes: Sequence[Episode], keys: Sequence[str], frames: ExportFrames, counts: Sequence[int] | None = None
) -> Resizing:
    """Decide every exported camera's size and each episode's fits (module docstring); sets `episode.resize` and
    maps the intrinsics columns of the episodes resized. `counts`: how many episodes each stands for (a plan's
    `Kind`: the episodes of one dataset and text, alike in cameras and intrinsics), 1 each by default."""
    counts = [1] * len(episodes) if counts is None else counts
    sizes: dict[str, Counter[HW]] = {k: Counter() for k in keys}
    for k in keys:
        for e, n in zip(episodes, counts, strict=True):
            sizes[k][feature_hw(e.source.features[e.camera(k)])] += n
    out = Resizing(frames, {k: frames.target(c) for k, c in sizes.items() if c}, total=sum(counts))
    out.resized = {k: Counter() for k in out.targets}
    keys = list(out.targets)
    shared: dict[Any, Any] = {}  # one fits mapping per set of sizes, one fitted K per camera, size and K
    for e, n in zip(episodes, counts, strict=True):
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
            out.resized[key][hw] += n
            at_source = (source_name(e.source), key, hw)
            out.by_source[at_source] = out.by_source.get(at_source, 0) + n
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
        out.episodes += n if fits else 0
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
