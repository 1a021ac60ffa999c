"""Ego4D narrated egocentric video: one episode per narration, a clip window cut around its timestamp.

| native | canonical | unit, frame | rate |
| --- | --- | --- | --- |
| `v2/full_scale/<video_uid>.mp4` | camera `full_scale` -> `Camera.head`, lazy, window only | RGB | pts (~30 fps) |
| `v2/clips/<clip_uid>.mp4` (fallback) | camera `clips` -> `Camera.head`, lazy, window only | RGB | pts |
| `<pass>.narrations[i].narration_text` | `Language(kind="narration")`, raw text, at its time | | instant |
| `timestamp_sec` | episode t = 0 at `timestamp_sec + window_s[0]`, clipped to the video | s | |
| `timestamp_frame`, `annotation_uid`, index | `metadata["narrations"]` (+ clean text, subject, unsure) | | |
| `<pass>.summaries` overlapping the window | `Language(kind="summary")` over their span, clipped | s | |
| `ego4d.json` `video_metadata.video_duration_sec` | window clipping, past-end check (else mp4 header) | s | |
| `ego4d.json` `video_metadata.fps`, `clips[]` | `native_fps`; clip -> video time mapping | Hz, s | |
| `ego4d.json` `videos[].is_stereo` | side-by-side frames: the camera is the left eye (half width) | px | |
| `ego4d.json` `video_metadata.video_start_sec` | `metadata`; checked against the mp4's first frame | s | |

Time: narration `timestamp_sec` (and every window) counts from the video's first frame. The mp4's first frame is
shown at pts time `video_start_sec` (often 0.021 s: `canonical_video_start_pts` 323 at time base 1/15360 in the
official "Examples Notebook"), so pts time = narration time + `video_start_sec`. Ego4D's own readers apply it
through the stream start: pytorchvideo `secs_to_pts(t, time_base, start_pts)` with the stream's `start_time`
(MomentsWorkshop notebook), and `ego4d/features/dataset.py` decodes `t + stream.start_time`. The cameras here do
the same (frame times are pts minus the stream's start), so the offset is applied once, by the file that holds the
frames; `metadata["video_start_sec"]` keeps the ego4d.json value and `start_mismatch` says when the mp4's first
frame is not where ego4d.json puts it (a re-encoded copy: the windows still count frames from its first frame).

Stereo: `videos[].is_stereo` videos hold both eyes side by side in one double-width frame. Ego4D's feature pipeline
keeps the left half (`ego4d/features/dataset.py` `CropIfStereo`, reading `is_stereo` from ego4d.json in
`ego4d/features/config.py`), and the moments notebook skips stereo videos; here the camera is the left eye
(`adapters.cameras.StereoLeftCamera`), so frames come out at the width of one eye.

No actions or states: embodiment `human_video`, tier `actionless`. raw_id `<video_uid>/<pass>/<index>` with the
narration's position in its pass's list zero-padded to 5 digits (`annotation_uid` is shared by a whole pass, so it
cannot name one narration); a merged episode is `<video_uid>/<pass>/<first>-<last>` (first and last in time order).

Options: `passes` (which narration passes), `window_s` (seconds around each timestamp), `drop_unsure` (skip narrations
tagged `#unsure`), `merge_overlapping` (one episode for a run of narrations whose windows overlap, each narration kept
as its own `Language` entry; off by default, so windows of neighbouring narrations may share frames).

Quirks handled: `#C` (camera wearer) / `#O` (other person) tags and `#unsure` are kept verbatim in the `Language` text;
a cleaned text (tag and `#unsure` removed), the subject letter and the unsure flag are in `metadata["narrations"]` for
the captioner. Narrations are not sorted by time in the file. Durations come from `ego4d.json` when present, else from
the mp4 header (no decoding); a video absent from `full_scale/` is read from a downloaded clip covering the narration
when `ego4d.json` maps clips. Bad input (per-episode `AdapterError`): narration for a missing video, an unreadable mp4,
a narration timestamp missing, negative or past the video end, an empty window.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import av
import numpy as np
from pydantic import Field, model_validator

from adapters.base import (
    AdapterError,
    AdapterOptions,
    CameraSource,
    EpisodeRef,
    HandSignals,
    Language,
    RawEpisode,
    SourceAdapter,
)
from adapters.cameras import StereoLeftCamera, VideoClipCamera, probe_video
from adapters.registry import register
from schemas.canonical import Camera
from schemas.narration import parse_narration
from schemas.tiers import QualityTier

NARRATION_FILES = (
    "narration.json",
    "v2/annotations/narration.json",
    "v1/annotations/narration.json",
    "annotations/narration.json",
)
METADATA_FILES = ("ego4d.json", "v2/ego4d.json", "v1/ego4d.json")


class Ego4DOptions(AdapterOptions):
    narration_file: str | None = Field(None, description="narration.json, relative to the root; default: searched")
    metadata_file: str | None = Field(None, description="ego4d.json, relative to the root; default: searched")
    passes: list[str] = Field(["narration_pass_1"], min_length=1, description="narration passes to cut episodes from")
    window_s: tuple[float, float] = Field(
        (-1.0, 2.0), description="episode window (start, end) in seconds relative to the narration timestamp"
    )
    drop_unsure: bool = Field(False, description="skip narrations tagged #unsure")
    merge_overlapping: bool = Field(False, description="merge narrations whose windows overlap into one episode")
    video_dirs: list[str] = Field(["v2/full_scale", "v1/full_scale", "full_scale"], description="full-scale mp4s")
    clip_dirs: list[str] = Field(["v2/clips", "v1/clips", "clips"], description="clip mp4s (used via ego4d.json)")

    @model_validator(mode="after")
    def _window(self) -> Ego4DOptions:
        if self.window_s[1] <= self.window_s[0]:
            raise ValueError(f"window_s end must follow its start, got {self.window_s}")
        return self


@dataclass(frozen=True)
class _Span:
    """A downloaded file holding [start, end] s of a video's time; file time = video time - start."""

    path: Path
    kind: str  # "full_scale" or "clips"
    start: float
    end: float
    clip_uid: str | None = None


@dataclass
class _Video:
    """One narrated video: the files holding it, its fps, or why it cannot be read."""

    uid: str
    narration_file: Path
    expected: str  # where the full-scale mp4 was looked for first
    spans: list[_Span]
    fps: float | None
    is_stereo: bool = False  # ego4d.json videos[].is_stereo: side-by-side eyes in one frame
    error: AdapterError | None = None
    start_sec: float | None = None  # ego4d.json video_metadata.video_start_sec: pts time of the first frame


@register
class Ego4DAdapter(SourceAdapter):
    name: ClassVar[str] = "ego4d"
    options_model: ClassVar[type[AdapterOptions]] = Ego4DOptions
    options: Ego4DOptions

    # -- discovery ------------------------------------------------------------------------------------------------

    def discover(self, root: Path) -> Iterator[EpisodeRef]:
        root = Path(root)
        narration_file = self._find(root, self.options.narration_file, NARRATION_FILES, "narration.json")
        narrations = self._load_json(narration_file, "narration.json")
        if not isinstance(narrations, dict):
            raise self.error("expected an object keyed by video_uid", file=narration_file, field="narration.json")
        meta_file = self._find(root, self.options.metadata_file, METADATA_FILES, None)
        videos, clips = self._load_metadata(meta_file) if meta_file else ({}, {})

        def refs() -> Iterator[EpisodeRef]:  # video by video: a capped discovery looks for no further video
            for uid in sorted(narrations):
                video = self._video(root, narration_file, uid, videos.get(uid, {}), clips.get(uid, []))
                yield from sorted(self._video_refs(video, narrations[uid]), key=lambda r: r.raw_id)

        yield from self.capped(refs())

    def _find(self, root: Path, given: str | None, candidates: tuple[str, ...], required: str | None) -> Path | None:
        looked = (given,) if given else candidates
        for rel in looked:
            if (root / rel).is_file():
                return root / rel
        if required or given:
            what = required or given
            raise self.error(f"no {what} under the root (looked for {', '.join(looked)})", file=root, field=what)
        return None

    def _load_json(self, path: Path, what: str) -> Any:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise self.error(f"unreadable {what}: {e}", file=path, field=what) from e

    def _load_metadata(self, path: Path) -> tuple[dict[str, dict], dict[str, list[dict]]]:
        doc = self._load_json(path, "ego4d.json")
        videos = {v["video_uid"]: v for v in doc.get("videos", []) if isinstance(v, dict) and "video_uid" in v}
        clips: dict[str, list[dict]] = {}
        for c in doc.get("clips", []):
            if isinstance(c, dict) and {"clip_uid", "video_uid", "video_start_sec", "video_end_sec"} <= c.keys():
                clips.setdefault(c["video_uid"], []).append(c)
        return videos, clips

    def _video(self, root: Path, narration_file: Path, uid: str, meta: dict, clips: list[dict]) -> _Video:
        """Where the video is on disk: its full-scale file, else the downloaded clips of it (from ego4d.json)."""
        looked = [root / d / f"{uid}.mp4" for d in self.options.video_dirs]
        vmeta = meta.get("video_metadata") or {}
        video = _Video(uid, narration_file, str(looked[0]), [], vmeta.get("fps"), meta.get("is_stereo") is True)
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
            video.spans.append(_Span(path, "full_scale", 0.0, float(duration)))
            return video
        for c in sorted(clips, key=lambda c: (c["video_start_sec"], c["clip_uid"])):
            for found in (root / d / f"{c['clip_uid']}.mp4" for d in self.options.clip_dirs):
                if found.is_file():
                    start, end = float(c["video_start_sec"]), float(c["video_end_sec"])
                    video.spans.append(_Span(found, "clips", start, end, c["clip_uid"]))
                    break
        return video

    def _video_refs(self, video: _Video, entry: Any) -> Iterator[EpisodeRef]:
        for pass_name in sorted(self.options.passes):
            block = entry.get(pass_name) if isinstance(entry, dict) else None
            if not isinstance(block, dict):
                continue
            items: list[tuple[int, float, dict, _Span]] = []
            for i, n in enumerate(block.get("narrations", [])):
                raw_id = f"{video.uid}/{pass_name}/{i:05d}"
                text = n.get("narration_text") if isinstance(n, dict) else None
                if self.options.drop_unsure and isinstance(text, str) and parse_narration(text)["unsure"]:
                    continue
                try:
                    t, span = self._locate(video, n, f"{video.uid}.{pass_name}.narrations[{i}]", raw_id)
                except AdapterError as e:
                    yield self._new_ref(raw_id, (video.expected, str(video.narration_file)), str(e), e.locator())
                    continue
                items.append((i, t, n, span))
            summaries = [s for s in block.get("summaries", []) if isinstance(s, dict)]
            for group in self._group(items):
                yield self._ref(video, pass_name, group, summaries)

    def _locate(self, video: _Video, n: Any, field: str, raw_id: str) -> tuple[float, _Span]:
        """The narration's timestamp and the file holding it, or the specific reason there is none."""
        where = {"file": video.narration_file, "episode": raw_id}
        t = n.get("timestamp_sec") if isinstance(n, dict) else None
        if not isinstance(t, int | float) or not np.isfinite(t) or t < 0:
            raise self.error(f"timestamp_sec is {t!r}", **where, field=f"{field}.timestamp_sec")
        text = n.get("narration_text")
        if not isinstance(text, str) or not text.strip():
            raise self.error(f"narration_text is {text!r}", **where, field=f"{field}.narration_text")
        if video.error is not None:
            raise self.error(video.error.reason, file=video.error.file, episode=raw_id, field=video.error.field)
        if not video.spans:
            msg = f"narration for video {video.uid}, which is not on disk (no {video.expected} and no clip of it)"
            raise self.error(msg, file=video.expected, episode=raw_id, field="video")
        span = next((sp for sp in video.spans if sp.start <= t <= sp.end), None)
        if span is None and video.spans[0].kind == "full_scale":
            msg = f"timestamp_sec {t:.3f} is past the end of video {video.uid} ({video.spans[0].end:.3f} s)"
            raise self.error(msg, **where, field=f"{field}.timestamp_sec")
        if span is None:
            msg = f"no downloaded clip of video {video.uid} holds {t:.3f} s"
            raise self.error(msg, file=video.expected, episode=raw_id, field="video")
        return float(t), span

    def _group(self, items: list[tuple[int, float, dict, _Span]]) -> Iterator[list[tuple]]:
        """Windows (start, end, index, narration, span), clipped to their file's span, in time order (ties by
        index); one per episode, or runs of overlapping windows in one file when `merge_overlapping`."""
        w0, w1 = self.options.window_s
        windows = sorted((max(t + w0, sp.start), min(t + w1, sp.end), i, n, sp) for i, t, n, sp in items)
        if not self.options.merge_overlapping:
            yield from ([w] for w in windows)
            return
        run: list[tuple] = []
        for w in windows:
            if run and (w[4] != run[0][4] or w[0] >= max(r[1] for r in run)):
                yield run
                run = []
            run.append(w)
        if run:
            yield run

    def _ref(self, video: _Video, pass_name: str, group: list[tuple], summaries: list[dict]) -> EpisodeRef:
        start, end, span = min(g[0] for g in group), max(g[1] for g in group), group[0][4]
        suffix = f"{group[0][2]:05d}" if len(group) == 1 else f"{group[0][2]:05d}-{group[-1][2]:05d}"
        keys = ("timestamp_sec", "timestamp_frame", "narration_text", "annotation_uid")
        narrs = [{"index": i, **{k: n.get(k) for k in keys}} for _, _, i, n, _ in group]
        overlapping = [s for s in summaries if _num(s.get("start_sec")) < end and _num(s.get("end_sec")) > start]
        locator = {
            "video_uid": video.uid,
            "pass": pass_name,
            "video_kind": span.kind,
            "clip_uid": span.clip_uid,
            "file_start_sec": span.start,
            "window_sec": [start, end],
            "video_end_sec": span.end,
            "fps": video.fps,
            "is_stereo": video.is_stereo,
            "video_start_sec": video.start_sec,
            "narrations": narrs,
            "summaries": overlapping,
        }
        paths = (str(span.path), str(video.narration_file))
        return self._new_ref(f"{video.uid}/{pass_name}/{suffix}", paths, None, locator)

    def _new_ref(self, raw_id: str, paths: tuple[str, ...], error: str | None, locator: dict) -> EpisodeRef:
        subset = self.options.subset or "default"
        return EpisodeRef(
            adapter=self.name, source=self.name, subset=subset, raw_id=raw_id, paths=paths, error=error, locator=locator
        )

    # -- reading --------------------------------------------------------------------------------------------------

    def read(self, ref: EpisodeRef) -> RawEpisode:
        self.raise_discovered(ref)
        loc, ep = ref.locator, ref.raw_id
        path = Path(ref.paths[0])
        if not path.is_file():
            raise self.error(f"video {loc['video_uid']} is not on disk", file=path, episode=ep, field="video")
        start, end = loc["window_sec"]
        offset = loc["file_start_sec"]
        meta: dict[str, Any] = {"is_stereo": bool(loc.get("is_stereo")), "video_start_sec": loc.get("video_start_sec")}
        try:
            clip = VideoClipCamera(path, loc["video_kind"], Camera.head, start - offset, end - offset)
            camera: CameraSource = StereoLeftCamera(clip) if meta["is_stereo"] else clip
            if loc["video_kind"] == "full_scale" and meta["video_start_sec"] is not None:
                meta |= _start_check(path, meta["video_start_sec"], loc["fps"])
        except (av.FFmpegError, OSError, IndexError) as e:
            raise self.error(
                f"unreadable mp4 of video {loc['video_uid']}: {e}", file=path, episode=ep, field="video"
            ) from e
        if not len(camera):
            raise self.error(f"no frame in the window [{start:.3f}, {end:.3f}) s", file=path, episode=ep, field="video")
        language = [
            Language(
                n["narration_text"],
                kind="narration",
                start_s=n["timestamp_sec"] - start,
                end_s=n["timestamp_sec"] - start,
            )
            for n in loc["narrations"]
        ]
        language += [
            Language(
                s["summary_text"],
                kind="summary",
                start_s=max(_num(s["start_sec"]) - start, 0.0),
                end_s=min(_num(s["end_sec"]), end) - start,
            )
            for s in loc["summaries"]
            if isinstance(s.get("summary_text"), str)
        ]
        if self.options.cameras is not None and loc["video_kind"] not in self.options.cameras:
            cameras = {}
        else:
            cameras = {loc["video_kind"]: camera}
        return RawEpisode(
            ref=ref,
            robot_type=None,
            embodiment="human_video",
            tier=QualityTier.actionless,
            native_fps=loc["fps"] or clip.average_rate,
            cameras=cameras,
            language=language,
            hands=HandSignals(notes=["video without hand signals"]),
            metadata={
                "video_uid": loc["video_uid"],
                "narration_pass": loc["pass"],
                "clip_uid": loc["clip_uid"],
                "video_path": str(path),
                "window_sec": [start, end],
                "video_end_sec": loc["video_end_sec"],
                "narrations": [{**n, **parse_narration(n["narration_text"])} for n in loc["narrations"]],
                **meta,
            },
        )


def _start_check(path: Path, video_start_sec: float, fps: float | None) -> dict[str, Any]:
    """The mp4's first-frame time (its video stream's start, header only) next to ego4d.json's `video_start_sec`;
    `start_mismatch` when they differ by more than half a frame (windows count from the mp4's first frame anyway)."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        first = float((s.start_time or 0) * s.time_base) if s.time_base else 0.0
    out: dict[str, Any] = {"stream_start_sec": first}
    if abs(first - video_start_sec) > 0.5 / (fps or 30.0):
        out["start_mismatch"] = f"mp4 first frame at {first:.3f} s, ego4d.json video_start_sec {video_start_sec:.3f} s"
    return out


def _num(x: Any) -> float:
    return float(x) if isinstance(x, int | float) else float("nan")
