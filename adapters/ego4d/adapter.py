"""Ego4D egocentric video: one episode per narration of `narration.json`, a window of its video cut around its
timestamp. Goal-Step segments of the same videos are another source, `adapters/ego4d_goalstep/` (shared video
handling: `videos.py`).

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

Time: narration `timestamp_sec` (and every window) counts from the video's first frame, shown at pts time
`video_start_sec`; the cameras' frame times are pts minus the stream's start, as Ego4D's own readers do, so the offset
is applied once (`metadata["video_start_sec"]` keeps the ego4d.json value, `start_mismatch` says when the mp4's first
frame is elsewhere). Stereo (`videos[].is_stereo`, both eyes side by side): the camera is the left eye
(`adapters.cameras.StereoLeftCamera`), as Ego4D's `CropIfStereo`. The maker's code and figures behind both are in
adapters/README.md `ego4d`.

No actions or states: embodiment `human_video`, tier `actionless` (its verdict
`source_no_action`). raw_id `<video_uid>/<pass>/<index>` with the
narration's position in its pass's list zero-padded to 5 digits (`annotation_uid` is shared by a whole pass, so it
cannot name one narration); a merged episode (option `merge_overlapping`, off by default, so windows of neighbouring
narrations may share frames) is `<video_uid>/<pass>/<first>-<last>` (first and last in time order).

`#C` (camera wearer) / `#O` (other person) tags and `#unsure` are kept verbatim in the `Language` text; a cleaned
text, the subject letter and the unsure flag are in `metadata["narrations"]`. Narrations are not sorted by time in
the file. A video absent from `full_scale/` is read from a downloaded clip covering the narration when `ego4d.json`
maps clips.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from adapters.base import AdapterError, EpisodeRef, Language
from adapters.ego4d_videos import Span, Video, VideoOptions, VideoWindows, Window, num
from adapters.storage.location import Location
from schemas.narration import parse_narration

NARRATION_FILES = (
    "narration.json",
    "v2/annotations/narration.json",
    "v1/annotations/narration.json",
    "annotations/narration.json",
)
_GOALSTEP = "Goal-Step is its own source: adapter ego4d_goalstep"


class Ego4DOptions(VideoOptions):
    moved: ClassVar[dict[str, str]] = {
        "annotations": "each Ego4D annotation is its own source: adapter ego4d reads narration.json, adapter "
        "ego4d_goalstep the Goal-Step files",
        **{f"goalstep_{k}": f"{_GOALSTEP}, option {k}" for k in ("splits", "files", "levels", "end_tolerance_s")},
    }

    narration_file: str | None = Field(None, description="narration.json, relative to the root; default: searched")
    passes: list[str] = Field(["narration_pass_1"], min_length=1, description="narration passes to cut episodes from")
    window_s: tuple[float, float] = Field(
        (-1.0, 2.0), description="episode window (start, end) in seconds relative to the narration timestamp"
    )
    drop_unsure: bool = Field(False, description="skip narrations tagged #unsure")
    merge_overlapping: bool = Field(False, description="merge narrations whose windows overlap into one episode")

    @model_validator(mode="after")
    def _window(self) -> Ego4DOptions:
        if self.window_s[1] <= self.window_s[0]:
            raise ValueError(f"window_s end must follow its start, got {self.window_s}")
        return self


class Ego4DAdapter(VideoWindows[Ego4DOptions]):
    name: ClassVar[str] = "ego4d"
    expects: ClassVar[str] = "an Ego4D download: v2/full_scale/<video_uid>.mp4 (or v2/clips/) with narration.json"
    no_actions: ClassVar[str] = "narrated Ego4D videos: no action or state stream"

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        path = self.find(root, self.options.narration_file, NARRATION_FILES, required=True)
        narrations = self.load_json(path, "narration.json")
        if not isinstance(narrations, dict):
            raise self.error("expected an object keyed by video_uid", file=path, field="narration.json")
        video = self.videos(root)
        for uid in sorted(narrations):  # video by video: a capped discovery looks for no further video
            found = dataclasses.replace(video(uid), annotation_file=path)
            yield from sorted(self._video_refs(found, narrations[uid]), key=lambda r: r.raw_id)

    def _video_refs(self, video: Video, entry: Any) -> Iterator[EpisodeRef]:
        """The video's narration episodes (or their reasons), pass by pass."""
        opts = self.options
        for pass_name in sorted(opts.passes):
            block = entry.get(pass_name) if isinstance(entry, dict) else None
            if not isinstance(block, dict):
                continue
            items: list[tuple[int, float, dict, Span]] = []
            for i, n in enumerate(block.get("narrations", [])):
                raw_id = f"{video.uid}/{pass_name}/{i:05d}"
                text = n.get("narration_text") if isinstance(n, dict) else None
                if opts.drop_unsure and isinstance(text, str) and parse_narration(text)["unsure"]:
                    continue
                try:
                    t, span = self._instant(video, n, f"{video.uid}.{pass_name}.narrations[{i}]", raw_id)
                except AdapterError as e:
                    yield self.new_ref(raw_id, (video.expected, str(video.annotation_file)), error=e)
                    continue
                items.append((i, t, n, span))
            summaries = [s for s in block.get("summaries", []) if isinstance(s, dict)]
            for group in _group(items, opts.window_s, opts.merge_overlapping):
                yield self._window_ref(video, pass_name, group, summaries)

    def _instant(self, video: Video, n: Any, field: str, raw_id: str) -> tuple[float, Span]:
        """The narration's timestamp and the file holding it, or the specific reason there is none."""
        where = {"file": video.annotation_file, "episode": raw_id}
        t = n.get("timestamp_sec") if isinstance(n, dict) else None
        if not isinstance(t, int | float) or not np.isfinite(t) or t < 0:
            raise self.error(f"timestamp_sec is {t!r}", **where, field=f"{field}.timestamp_sec")
        text = n.get("narration_text")
        if not isinstance(text, str) or not text.strip():
            raise self.error(f"narration_text is {text!r}", **where, field=f"{field}.narration_text")
        self.usable(video, raw_id)
        span = next((sp for sp in video.spans if sp.start <= t <= sp.end), None)
        if span is None and video.spans[0].kind == "full_scale":
            msg = f"timestamp_sec {t:.3f} is past the end of video {video.uid} ({video.spans[0].end:.3f} s)"
            raise self.error(msg, **where, field=f"{field}.timestamp_sec")
        if span is None:
            msg = f"no downloaded clip of video {video.uid} holds {t:.3f} s"
            raise self.error(msg, file=video.expected, episode=raw_id, field="video")
        return float(t), span

    def _window_ref(self, video: Video, pass_name: str, group: list[tuple], summaries: list[dict]) -> EpisodeRef:
        start, end, span = min(g[0] for g in group), max(g[1] for g in group), group[0][4]
        suffix = f"{group[0][2]:05d}" if len(group) == 1 else f"{group[0][2]:05d}-{group[-1][2]:05d}"
        keys = ("timestamp_sec", "timestamp_frame", "narration_text", "annotation_uid")
        narrs = [{"index": i, **{k: n.get(k) for k in keys}} for _, _, i, n, _ in group]
        locator = {
            **video.locator(span),
            "annotation": "narration",
            "pass": pass_name,
            "window_sec": [start, end],
            "narrations": narrs,
            "summaries": [s for s in summaries if num(s.get("start_sec")) < end and num(s.get("end_sec")) > start],
        }
        paths = (str(span.path), str(video.annotation_file))
        return self.new_ref(f"{video.uid}/{pass_name}/{suffix}", paths, locator=locator)

    def window(self, loc: dict[str, Any], fps: float) -> Window:
        """The narrations (at their instant) and overlapping summaries (over their span, clipped), and the metadata."""
        start, end = loc["window_sec"]
        instants = [(n["narration_text"], n["timestamp_sec"] - start) for n in loc["narrations"]]
        language = [Language(text, kind="narration", start_s=t, end_s=t) for text, t in instants]
        language += [
            Language(
                s["summary_text"],
                kind="summary",
                start_s=max(num(s["start_sec"]) - start, 0.0),
                end_s=min(num(s["end_sec"]), end) - start,
            )
            for s in loc["summaries"]
            if isinstance(s.get("summary_text"), str)
        ]
        meta = {
            "narration_pass": loc["pass"],
            "narrations": [{**n, **parse_narration(n["narration_text"])} for n in loc["narrations"]],
        }
        return Window(language, meta)


def _group(
    items: list[tuple[int, float, dict, Span]], window_s: tuple[float, float], merge: bool
) -> Iterator[list[tuple]]:
    """Windows (start, end, index, narration, span), clipped to their file's span, in time order (ties by index);
    one per episode, or runs of overlapping windows in one file when `merge`."""
    w0, w1 = window_s
    windows = sorted((max(t + w0, sp.start), min(t + w1, sp.end), i, n, sp) for i, t, n, sp in items)
    if not merge:
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
