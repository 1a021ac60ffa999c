"""The Ego4D videos both Ego4D sources cut their episodes from (`ego4d`: narration windows; `ego4d_goalstep`: goals,
steps and substeps): where an annotated video is on disk (its full-scale mp4, else downloaded clips of it), which file
holds a window, and an episode read as a window of one file. Every annotation places its window in seconds of the
video counted from its first frame (`adapters/ego4d/adapter.py` documents the `video_start_sec` offset and stereo).

`VideoWindows` is what the two adapters share; each says which annotation files it reads and cuts the windows of a
video (`discover`), and what a window's annotation gives its episode (`window`)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import av
from pydantic import Field

from adapters.base import AdapterError, AdapterOptions, CameraSource, EpisodeRef, HandSignals, Language, RawEpisode
from adapters.cameras import StereoLeftCamera, VideoClipCamera, decoding, probe_video
from adapters.hostile import bounds
from adapters.source_adapter import SourceAdapter
from adapters.storage.location import Location
from schemas.canonical import Camera
from schemas.corpus import SourceAnnotation
from schemas.lerobot import ActionSegment
from schemas.tiers import QualityTier

METADATA_FILES = ("ego4d.json", "v2/ego4d.json", "v1/ego4d.json")


class VideoOptions(AdapterOptions):
    """Where the videos and their metadata are, for either Ego4D source."""

    metadata_file: str | None = Field(None, description="ego4d.json, relative to the root; default: searched")
    video_dirs: list[str] = Field(["v2/full_scale", "v1/full_scale", "full_scale"], description="full-scale mp4s")
    clip_dirs: list[str] = Field(["v2/clips", "v1/clips", "clips"], description="clip mp4s (used via ego4d.json)")


VideoOptionsT = TypeVar("VideoOptionsT", bound=VideoOptions)


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


@dataclass(frozen=True)
class Window:
    """What a window's annotation gives its episode, beside the camera."""

    language: list[Language]
    metadata: dict[str, Any]
    action_config: list[ActionSegment] | None = None
    annotation: SourceAnnotation | None = None


class VideoWindows(SourceAdapter[VideoOptionsT]):
    """An Ego4D source: one episode per window of an annotated video (`window_sec` in its ref's locator, the file
    holding it first in its `paths`)."""

    no_actions: ClassVar[str] = "windows of Ego4D videos: no action or state stream"

    @abstractmethod
    def window(self, loc: dict[str, Any], fps: float) -> Window:
        """What the annotation the ref `loc` was cut from gives the episode (its frames run at `fps`)."""

    def find(self, root: Location, given: str | None, candidates: tuple[str, ...], required: bool) -> Location | None:
        """The file `given` (relative to the root), else the first of `candidates` there; None, or an error naming
        what was looked for when `required`."""
        looked = (given,) if given else candidates
        for rel in looked:
            if (root / rel).is_file():
                return self.inside(root, root / rel, field=rel.rsplit("/", 1)[-1])
        if required:
            what = given or candidates[0].rsplit("/", 1)[-1]
            raise self.error(f"no {what} under the root (looked for {', '.join(looked)})", file=root, field=what)
        return None

    def load_json(self, path: Location, what: str) -> Any:
        """A whole annotation file, within the JSON_BYTES limit checked before a byte is read (`adapters.storage.
        bounds`: a sparse 2 GB narration.json cost 3.9 GB of memory before failing to parse)."""
        try:
            return bounds.load_json(path, what)
        except (OSError, ValueError) as e:
            raise self.error(f"unreadable {what}: {e}", file=path, field=what) from e

    def videos(self, root: Location) -> Callable[[str], Video]:
        """Where each video is (`Video.annotation_file` is the root until the caller names the file): ego4d.json,
        when there, read once for durations, fps, stereo and the clips of each video."""
        o = self.options
        meta_file = self.find(root, o.metadata_file, METADATA_FILES, o.metadata_file is not None)
        videos, clips = self._metadata(meta_file) if meta_file else ({}, {})
        return lambda uid: self._video(root, uid, videos.get(uid, {}), clips.get(uid, []))

    def _metadata(self, path: Location) -> tuple[dict[str, dict], dict[str, list[dict]]]:
        """ego4d.json: videos by uid, and the clips of each video."""
        doc = self.load_json(path, "ego4d.json")
        videos = {v["video_uid"]: v for v in doc.get("videos", []) if isinstance(v, dict) and "video_uid" in v}
        clips: dict[str, list[dict]] = {}
        for c in doc.get("clips", []):
            if isinstance(c, dict) and {"clip_uid", "video_uid", "video_start_sec", "video_end_sec"} <= c.keys():
                clips.setdefault(c["video_uid"], []).append(c)
        return videos, clips

    def _video(self, root: Location, uid: str, meta: dict, clips: list[dict]) -> Video:
        """Where the video is on disk: its full-scale file, else the downloaded clips of it (from ego4d.json)."""
        looked = [root / d / f"{uid}.mp4" for d in self.options.video_dirs]
        vmeta = meta.get("video_metadata") or {}
        video = Video(uid, root, str(looked[0]), fps=vmeta.get("fps"), is_stereo=meta.get("is_stereo") is True)
        if isinstance(vmeta.get("video_start_sec"), int | float):
            video.start_sec = float(vmeta["video_start_sec"])
        path = next((p for p in looked if p.is_file()), None)
        if path is not None:
            duration = vmeta.get("video_duration_sec") or meta.get("duration_sec")
            if duration is None:
                try:
                    duration, video.fps = probe_video(path)
                except (av.FFmpegError, OSError, IndexError, ValueError) as e:
                    video.error = self.error(f"unreadable mp4 of video {uid}: {e}", file=path, field="video")
                    return video
            video.spans.append(Span(path, "full_scale", 0.0, float(duration)))
            return video
        for c in sorted(clips, key=lambda c: (c["video_start_sec"], c["clip_uid"])):
            for found in (root / d / f"{c['clip_uid']}.mp4" for d in self.options.clip_dirs):
                if found.is_file():
                    start, end = float(c["video_start_sec"]), float(c["video_end_sec"])
                    video.spans.append(Span(found, "clips", start, end, c["clip_uid"]))
                    break
        return video

    def usable(self, video: Video, raw_id: str) -> None:
        """Raise the reason the video cannot give any window (unreadable, not on disk), naming the episode."""
        if video.error is not None:
            raise self.error(video.error.reason, file=video.error.file, episode=raw_id, field=video.error.field)
        if not video.spans:
            raise self.error(video.missing(), file=video.expected, episode=raw_id, field="video")

    def read(self, ref: EpisodeRef) -> RawEpisode:
        loc, ep = ref.locator, ref.raw_id
        path = self.file(ref.paths[0])
        if not path.is_file():
            raise self.error(f"video {loc['video_uid']} is not on disk", file=path, episode=ep, field="video")
        start, end = loc["window_sec"]
        offset = loc["file_start_sec"]
        meta: dict[str, Any] = {"is_stereo": bool(loc.get("is_stereo")), "video_start_sec": loc.get("video_start_sec")}
        try:
            clip = VideoClipCamera(path, loc["video_kind"], Camera.head, start - offset, end - offset)
            camera: CameraSource = StereoLeftCamera(clip) if meta["is_stereo"] else clip
            if loc["video_kind"] == "full_scale" and meta["video_start_sec"] is not None:
                meta |= start_check(path, meta["video_start_sec"], loc["fps"])
        except (av.FFmpegError, OSError, IndexError) as e:
            msg = f"unreadable mp4 of video {loc['video_uid']}: {e}"
            raise self.error(msg, file=path, episode=ep, field="video") from e
        if not len(camera):
            raise self.error(f"no frame in the window [{start:.3f}, {end:.3f}) s", file=path, episode=ep, field="video")
        fps = loc["fps"] or clip.average_rate
        window = self.window(loc, fps)
        wanted = self.options.cameras is None or loc["video_kind"] in self.options.cameras
        return RawEpisode(
            ref=ref,
            robot_type=None,
            embodiment="human_video",
            tier=QualityTier.high,  # lowered by its verdict: the source has no action
            verdicts=self.no_action_verdicts(),
            native_fps=fps,
            cameras={loc["video_kind"]: camera} if wanted else {},
            language=window.language,
            action_config=window.action_config,
            hands=HandSignals(notes=["video without hand signals"]),
            metadata={
                "annotation": loc["annotation"],
                "video_uid": loc["video_uid"],
                "clip_uid": loc["clip_uid"],
                "video_path": str(path),
                "window_sec": [start, end],
                "video_end_sec": loc["video_end_sec"],
                **window.metadata,
                **meta,
            },
            annotation=window.annotation,
        )


def start_check(path: Location, video_start_sec: float, fps: float | None) -> dict[str, Any]:
    """The mp4's first-frame time (its video stream's start, header only) next to ego4d.json's `video_start_sec`;
    `start_mismatch` when they differ by more than half a frame (windows count from the mp4's first frame anyway)."""
    with decoding(path) as (_, s):
        first = float((s.start_time or 0) * s.time_base) if s.time_base else 0.0
    out: dict[str, Any] = {"stream_start_sec": first}
    if abs(first - video_start_sec) > 0.5 / (fps or 30.0):
        out["start_mismatch"] = f"mp4 first frame at {first:.3f} s, ego4d.json video_start_sec {video_start_sec:.3f} s"
    return out


def num(x: Any) -> float:
    return float(x) if isinstance(x, int | float) else float("nan")
