"""Where an Ego4D video is on disk (its full-scale mp4, else downloaded clips of it) and which file holds a window.

Shared by every annotation kind: narrations place an instant, Goal-Step segments a [start, end] span, both in seconds
of the video counted from its first frame (see the package docs for the `video_start_sec` offset)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import av

from adapters.base import AdapterError, SourceAdapter
from adapters.cameras import probe_video
from adapters.storage import bounds
from adapters.storage.location import Location, readable


@dataclass(frozen=True)
class Span:
    """A downloaded file holding [start, end] s of a video's time; file time = video time - start."""

    path: Location
    kind: str  # "full_scale" or "clips"
    start: float
    end: float
    clip_uid: str | None = None


@dataclass
class Video:
    """One annotated video: the files holding it, its fps, or why it cannot be read."""

    uid: str
    annotation_file: Location  # the annotation file that names it (for reasons)
    expected: str  # where the full-scale mp4 was looked for first
    spans: list[Span] = field(default_factory=list)
    fps: float | None = None
    is_stereo: bool = False  # ego4d.json videos[].is_stereo: side-by-side eyes in one frame
    error: AdapterError | None = None
    start_sec: float | None = None  # ego4d.json video_metadata.video_start_sec: pts time of the first frame

    def locator(self, span: Span) -> dict[str, Any]:
        """What `read` needs to cut a window of this video from `span`'s file."""
        return {
            "video_uid": self.uid,
            "video_kind": span.kind,
            "clip_uid": span.clip_uid,
            "file_start_sec": span.start,
            "video_end_sec": span.end,
            "fps": self.fps,
            "is_stereo": self.is_stereo,
            "video_start_sec": self.start_sec,
        }

    def missing(self) -> str:
        return f"video {self.uid} is not on disk (no {self.expected} and no clip of it)"


def load_json(adapter: SourceAdapter, path: Location, what: str) -> Any:
    """A whole annotation file, within the JSON_BYTES limit checked before a byte is read (`adapters.storage.bounds`:
    a sparse 2 GB narration.json cost 3.9 GB of memory before failing to parse)."""
    try:
        return bounds.load_json(path, what)
    except (OSError, ValueError) as e:
        raise adapter.error(f"unreadable {what}: {e}", file=path, field=what) from e


def load_metadata(adapter: SourceAdapter, path: Location) -> tuple[dict[str, dict], dict[str, list[dict]]]:
    """ego4d.json: videos by uid, and the clips of each video."""
    doc = load_json(adapter, path, "ego4d.json")
    videos = {v["video_uid"]: v for v in doc.get("videos", []) if isinstance(v, dict) and "video_uid" in v}
    clips: dict[str, list[dict]] = {}
    for c in doc.get("clips", []):
        if isinstance(c, dict) and {"clip_uid", "video_uid", "video_start_sec", "video_end_sec"} <= c.keys():
            clips.setdefault(c["video_uid"], []).append(c)
    return videos, clips


def find_video(
    adapter: SourceAdapter,
    root: Location,
    annotation_file: Location,
    uid: str,
    meta: dict,
    clips: list[dict],
    video_dirs: list[str],
    clip_dirs: list[str],
) -> Video:
    """Where the video is on disk: its full-scale file, else the downloaded clips of it (from ego4d.json)."""
    looked = [root / d / f"{uid}.mp4" for d in video_dirs]
    vmeta = meta.get("video_metadata") or {}
    video = Video(uid, annotation_file, str(looked[0]), fps=vmeta.get("fps"), is_stereo=meta.get("is_stereo") is True)
    if isinstance(vmeta.get("video_start_sec"), int | float):
        video.start_sec = float(vmeta["video_start_sec"])
    path = next((p for p in looked if p.is_file()), None)
    if path is not None:
        duration = vmeta.get("video_duration_sec") or meta.get("duration_sec")
        if duration is None:
            try:
                duration, video.fps = probe_video(path)
            except (av.FFmpegError, OSError, IndexError, ValueError) as e:
                video.error = adapter.error(f"unreadable mp4 of video {uid}: {e}", file=path, field="video")
                return video
        video.spans.append(Span(path, "full_scale", 0.0, float(duration)))
        return video
    for c in sorted(clips, key=lambda c: (c["video_start_sec"], c["clip_uid"])):
        for found in (root / d / f"{c['clip_uid']}.mp4" for d in clip_dirs):
            if found.is_file():
                start, end = float(c["video_start_sec"]), float(c["video_end_sec"])
                video.spans.append(Span(found, "clips", start, end, c["clip_uid"]))
                break
    return video


def usable(adapter: SourceAdapter, video: Video, raw_id: str) -> None:
    """Raise the reason the video cannot give any window (unreadable, not on disk), naming the episode."""
    if video.error is not None:
        raise adapter.error(video.error.reason, file=video.error.file, episode=raw_id, field=video.error.field)
    if not video.spans:
        raise adapter.error(video.missing(), file=video.expected, episode=raw_id, field="video")


def start_check(path: Location, video_start_sec: float, fps: float | None) -> dict[str, Any]:
    """The mp4's first-frame time (its video stream's start, header only) next to ego4d.json's `video_start_sec`;
    `start_mismatch` when they differ by more than half a frame (windows count from the mp4's first frame anyway)."""
    with readable(path) as src, av.open(src) as c:
        s = c.streams.video[0]
        first = float((s.start_time or 0) * s.time_base) if s.time_base else 0.0
    out: dict[str, Any] = {"stream_start_sec": first}
    if abs(first - video_start_sec) > 0.5 / (fps or 30.0):
        out["start_mismatch"] = f"mp4 first frame at {first:.3f} s, ego4d.json video_start_sec {video_start_sec:.3f} s"
    return out


def num(x: Any) -> float:
    return float(x) if isinstance(x, int | float) else float("nan")
