"""Ego4D egocentric video: one episode per narration (a clip window cut around its timestamp) and per Goal-Step
step and substep (its [start, end] window), both read as windows of the same videos.

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
| Goal-Step `videos[k].segments[i][.segments[j]]` `start_time`, `end_time` | window, clipped to the video | s | |
| its `step_description` (`goal_description` for a goal) | `Language("instruction")`: the task, verbatim | | |
| its nested `segments` (a step's substeps) | `action_config`, half-open frames at the video fps | frames | |
| the goal's keys, the segment's own keys, its parent step | `metadata` verbatim (+ `Language("description")`) | | |

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

Annotations (`annotations` option): by default every kind found under the root is read, narrations from
`narration.json` and Goal-Step from `goalstep_{train,valid}.json` (`goalstep.py` holds their schema and citations),
since a root holding both was downloaded for both; name one kind to read only it (then its file must exist). A
`goalstep_test.json` found but not asked for is named in a warning (it has no times). Goal-Step reasons name the file,
the video_uid and the field (`videos[k].segments[i].end_time`): an end before its start, a missing description, a
video not on disk, an end past the video (beyond `goalstep_end_tolerance_s`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import Any, ClassVar

import av

from adapters.base import AdapterOptions, CameraSource, EpisodeRef, HandSignals, RawEpisode, SourceAdapter
from adapters.cameras import StereoLeftCamera, VideoClipCamera
from adapters.ego4d_goalstep.adapter import goalstep_parts, goalstep_refs, index_videos
from adapters.ego4d.narration import narration_language, narration_refs
from adapters.ego4d.options import (
    ANNOTATION_DIRS,
    GOALSTEP_FILES,
    METADATA_FILES,
    NARRATION_FILES,
    Ego4DOptions,
)
from adapters.ego4d.videos import Video, find_video, load_json, load_metadata, start_check
from adapters.storage.location import Location, locate
from schemas.canonical import Camera
from schemas.tiers import QualityTier

log = logging.getLogger(__name__)


class Ego4DAdapter(SourceAdapter):
    name: ClassVar[str] = "ego4d"
    options_model: ClassVar[type[AdapterOptions]] = Ego4DOptions
    options: Ego4DOptions
    expects: ClassVar[str] = (
        "an Ego4D download: v2/full_scale/<video_uid>.mp4 (or v2/clips/) with the narration or Goal-Step JSONs"
    )

    # -- discovery ------------------------------------------------------------------------------------------------

    def discover(self, root: Location) -> Iterator[EpisodeRef]:
        root = locate(root)
        wanted = set(self.options.annotations or ("narration", "goalstep"))
        required = self.options.annotations is not None
        narration_file = None
        if "narration" in wanted:
            narration_file = self._find(root, self.options.narration_file, NARRATION_FILES, required)
        goalstep = self._goalstep_files(root, required) if "goalstep" in wanted else {}
        if narration_file is None and not goalstep:
            looked = ", ".join([*NARRATION_FILES, *(f for names in GOALSTEP_FILES.values() for f in names)])
            msg = f"no narration.json and no goalstep_*.json under the root (looked for {looked})"
            raise self.error(msg, file=root, field="annotations")
        narrations: dict[str, Any] = {}
        if narration_file is not None:
            narrations = load_json(self, narration_file, "narration.json")
            if not isinstance(narrations, dict):
                raise self.error("expected an object keyed by video_uid", file=narration_file, field="narration.json")
        goals: dict[str, tuple[Location, dict[str, list]]] = {}  # split -> (file, entries by video_uid)
        for split, path in goalstep.items():
            doc = load_json(self, path, path.name)
            if not isinstance(doc, dict) or not isinstance(doc.get("videos"), list):
                raise self.error("expected an object with a videos list", file=path, field="videos")
            goals[split] = (path, index_videos(doc, split))
        meta_file = self._find(root, self.options.metadata_file, METADATA_FILES, self.options.metadata_file is not None)
        videos, clips = load_metadata(self, meta_file) if meta_file else ({}, {})
        uids = set(narrations).union(*(entries for _, entries in goals.values()))

        def refs() -> Iterator[EpisodeRef]:  # video by video: a capped discovery looks for no further video
            for uid in sorted(uids):
                found = self._video(root, uid, videos.get(uid, {}), clips.get(uid, []))
                out: list[EpisodeRef] = []
                if uid in narrations:
                    out += narration_refs(
                        self, dataclasses.replace(found, annotation_file=narration_file), narrations[uid]
                    )
                for split, (path, entries) in goals.items():
                    if uid in entries:
                        video = dataclasses.replace(found, annotation_file=path)
                        out += goalstep_refs(self, video, split, path, entries[uid])
                yield from sorted(out, key=lambda r: r.raw_id)

        yield from self.capped(refs())

    def _find(self, root: Location, given: str | None, candidates: tuple[str, ...], required: bool) -> Location | None:
        looked = (given,) if given else candidates
        for rel in looked:
            if (root / rel).is_file():
                return self.inside(root, root / rel, field=rel.rsplit("/", 1)[-1])
        if required:
            what = given or candidates[0].rsplit("/", 1)[-1]
            raise self.error(f"no {what} under the root (looked for {', '.join(looked)})", file=root, field=what)
        return None

    def _goalstep_files(self, root: Location, required: bool) -> dict[str, Location]:
        """The Goal-Step file of each asked split that is there. A split named in `goalstep_splits` or
        `goalstep_files` must be there; of the default splits, at least one when Goal-Step was asked for by name
        (the others missing are named in a warning). A file found but not asked for is named in a warning."""
        out: dict[str, Location] = {}
        o = self.options
        given, named = o.goalstep_files or {}, "goalstep_splits" in o.model_fields_set
        missing = []
        for split in sorted(GOALSTEP_FILES):
            looked = (
                (given[split],)
                if split in given
                else tuple(f"{d}/{name}".lstrip("/") for d in ANNOTATION_DIRS for name in GOALSTEP_FILES[split])
            )
            path = next((root / rel for rel in looked if (root / rel).is_file()), None)
            if split in o.goalstep_splits and path is not None:
                out[split] = self.inside(root, path, field=f"goalstep_{split}")
            elif path is not None:
                why = "; it has no step times" if split == "test" else ""
                log.warning("%s: Goal-Step %s not read (goalstep_splits %s)%s", path, split, o.goalstep_splits, why)
            elif split in given or (named and split in o.goalstep_splits):
                msg = f"no Goal-Step {split} file under the root (looked for {', '.join(looked)})"
                raise self.error(msg, file=root, field=f"goalstep_{split}")
            elif split in o.goalstep_splits:
                missing.append((split, looked))
        if required and not out:
            looked = ", ".join(rel for _, rels in missing for rel in rels)
            raise self.error(f"no Goal-Step file under the root (looked for {looked})", file=root, field="goalstep")
        for split, rels in missing if out else ():
            log.warning("%s: no Goal-Step %s file (looked for %s)", root, split, ", ".join(rels))
        return out

    def _video(self, root: Location, uid: str, meta: dict, clips: list[dict]) -> Video:
        o = self.options
        return find_video(self, root, root, uid, meta, clips, o.video_dirs, o.clip_dirs)

    def new_ref(self, raw_id: str, paths: tuple[str, ...], error: str | None, locator: dict) -> EpisodeRef:
        subset = self.options.subset or "default"
        return EpisodeRef(
            adapter=self.name, source=self.name, subset=subset, raw_id=raw_id, paths=paths, error=error, locator=locator
        )

    # -- reading --------------------------------------------------------------------------------------------------

    def read(self, ref: EpisodeRef) -> RawEpisode:
        self.raise_discovered(ref)
        loc, ep = ref.locator, ref.raw_id
        path = locate(ref.paths[0])
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
            raise self.error(
                f"unreadable mp4 of video {loc['video_uid']}: {e}", file=path, episode=ep, field="video"
            ) from e
        if not len(camera):
            raise self.error(f"no frame in the window [{start:.3f}, {end:.3f}) s", file=path, episode=ep, field="video")
        fps = loc["fps"] or clip.average_rate
        action_config, annotation = None, None
        if loc.get("annotation", "narration") == "goalstep":
            language, action_config, kind_meta, annotation = goalstep_parts(loc, fps)
        else:
            language, kind_meta = narration_language(loc)
        if self.options.cameras is not None and loc["video_kind"] not in self.options.cameras:
            cameras = {}
        else:
            cameras = {loc["video_kind"]: camera}
        return RawEpisode(
            ref=ref,
            robot_type=None,
            embodiment="human_video",
            tier=QualityTier.actionless,
            native_fps=fps,
            cameras=cameras,
            language=language,
            action_config=action_config,
            hands=HandSignals(notes=["video without hand signals"]),
            metadata={
                "annotation": loc.get("annotation", "narration"),
                "video_uid": loc["video_uid"],
                "clip_uid": loc["clip_uid"],
                "video_path": str(path),
                "window_sec": [start, end],
                "video_end_sec": loc["video_end_sec"],
                **kind_meta,
                **meta,
            },
            annotation=annotation,
        )
