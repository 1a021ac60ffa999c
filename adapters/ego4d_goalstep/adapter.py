"""Ego4D Goal-Step (`goalstep_{train,valid}.json`): goals, steps and substeps as episodes over their [start, end],
windows of the Ego4D videos found and read as the narration source finds and reads them (`adapters/ego4d_videos.py`).

| native | canonical | unit, frame | rate |
| --- | --- | --- | --- |
| `videos[k].segments[i][.segments[j]]` `start_time`, `end_time` | window, clipped to the video | s | |
| its `step_description` (`goal_description` for a goal) | `Language("instruction")`: the task, verbatim | | |
| its nested `segments` (a step's substeps) | `action_config`, half-open frames at the video fps | frames | |
| the goal's keys, the segment's own keys, its parent step | `metadata` verbatim (+ `Language("description")`) | | |
| the goal, the split, file and field | `RawEpisode.annotation` (`GoalStepAnnotation`), kept in the lineage | | |

The schema, as the maker wrote it (facebookresearch/ego4d-goalstep, README "Annotation Format" and the files in
`data/` at commit 7e2b6cf5; `step_grounding/tools/parse_goalstep_jsons.py` at b4fe5768 reads them):
`{"version", "date", "description", "split", "videos": [goal, ...]}`, a goal being `{video_uid, start_time,
end_time, goal_category, goal_description, goal_wikihow_url, summary: [str], is_procedural, segments: [step]}`, a
step `{start_time, end_time, step_category, step_description, is_continued, is_procedural, is_relevant
("essential" / "optional" / "irrelevant" / "unsure"), summary: [str], segments: [substep]}`, a substep the same
without `segments`. Times are seconds of the whole video: the maker's parser hands them on unchanged as NLQ
`clip_start_sec` / `clip_end_sec` with the whole video as the clip, the same timeline as narrations. What the real
val file holds (goals ending just past their video, substeps a little outside their step, the maker's own checks,
the test file without times) is in adapters/README.md `ego4d_goalstep`, each with the refusal or clipping it gets.

Episodes: a step with its substeps as `action_config` (frames of the episode at the video's fps, half-open
[start, end), clipped to the step; the video-second times and every other key kept on each segment), a substep with
its parent step in the metadata, and optionally the whole goal with its steps and substeps as `action_config`. The
segment's description is the task (`Language("instruction")`); the goal (description, category, url, summary) rides
in the metadata and as a `Language("description")`. raw_id `<video_uid>/goalstep_<split>/<step:03d>[/<substep:03d>]`
(`goalstep_<split>` alone for the goal; `.<n>` after the split when a video has more than one goal in a file).

Files: `splits` (default train and val) are looked for under the root and `v2/annotations` etc., or given per split
(`files`: `GoalStepAdapter._split_files`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from adapters.base import AdapterError, EpisodeRef, Language
from adapters.ego4d_videos import Span, Video, VideoOptions, VideoWindows, Window
from adapters.storage.location import Location
from schemas.corpus import SourceAnnotation
from schemas.lerobot import ActionSegment

log = logging.getLogger(__name__)

TEXT_KEY = {"goal": "goal_description", "step": "step_description", "substep": "step_description"}
ANNOTATION_DIRS = ("", "v2/annotations", "v1/annotations", "annotations")
# Goal-Step file names per split: the maker's repository and its `parse_goalstep_jsons.py` name the validation file
# `goalstep_valid.json` (facebookresearch/ego4d-goalstep data/, commit 7e2b6cf5); `goalstep_val.json` is accepted too.
GOALSTEP_FILES = {
    "train": ("goalstep_train.json",),
    "val": ("goalstep_valid.json", "goalstep_val.json"),
    "test": ("goalstep_test.json",),
}
GoalStepLevel = Literal["goal", "step", "substep"]


class GoalStepOptions(VideoOptions):
    splits: list[Literal["train", "val", "test"]] = Field(
        ["train", "val"],
        min_length=1,
        description="Goal-Step splits to read (test has no times: its videos are refused with the reason)",
    )
    files: dict[str, str] | None = Field(
        None, description="Goal-Step file per split, relative to the root; default: searched"
    )
    levels: list[GoalStepLevel] = Field(
        ["step", "substep"], min_length=1, description="which Goal-Step segments become episodes"
    )
    end_tolerance_s: float = Field(
        0.5,
        ge=0.0,
        description="a Goal-Step end this far past the video end is clipped to it (goal ends sit at "
        "video_start_sec + duration); further is refused",
    )

    @model_validator(mode="after")
    def _files(self) -> GoalStepOptions:
        unknown = set(self.files or {}) - set(GOALSTEP_FILES)
        if unknown:
            raise ValueError(f"files: unknown split(s) {sorted(unknown)}; known: {sorted(GOALSTEP_FILES)}")
        return self


def index_videos(doc: Any, split: str) -> dict[str, list[tuple[int, Any]]]:
    """Goal entries by video_uid, in file order, each with its position in `videos` (for reasons); an entry
    without a video_uid is kept under `no-video-uid-<k>` so discovery refuses it by name."""
    out: dict[str, list[tuple[int, Any]]] = {}
    for k, entry in enumerate(doc.get("videos") or []):
        uid = entry.get("video_uid") if isinstance(entry, dict) else None
        key = uid if isinstance(uid, str) and uid else f"no-video-uid-{k:05d}"
        out.setdefault(key, []).append((k, entry))
    return out


class GoalStepAnnotation(SourceAnnotation):
    """What the episode lineage keeps of a Goal-Step segment (`EpisodeLineage.source_annotation`): the goal it
    serves, where it was read."""

    kind: str = "ego4d_goalstep"
    level: str
    split: str
    file: str
    field: str
    goal: dict[str, Any]
    parent_step: dict[str, Any] | None


class GoalStepAdapter(VideoWindows[GoalStepOptions]):
    name: ClassVar[str] = "ego4d_goalstep"
    expects: ClassVar[str] = (
        "an Ego4D download: v2/full_scale/<video_uid>.mp4 (or v2/clips/) with goalstep_{train,valid}.json"
    )

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        goals: dict[str, tuple[Location, dict[str, list]]] = {}  # split -> (file, entries by video_uid)
        for split, path in self._split_files(root).items():
            doc = self.load_json(path, path.name)
            if not isinstance(doc, dict) or not isinstance(doc.get("videos"), list):
                raise self.error("expected an object with a videos list", file=path, field="videos")
            goals[split] = (path, index_videos(doc, split))
        video = self.videos(root)
        uids = set().union(*(entries for _, entries in goals.values()))
        for uid in sorted(uids):  # video by video: a capped discovery looks for no further video
            found, out = video(uid), []
            for split, (path, entries) in goals.items():
                if uid in entries:
                    out += self._video_refs(dataclasses.replace(found, annotation_file=path), split, path, entries[uid])
            yield from sorted(out, key=lambda r: r.raw_id)

    def _split_files(self, root: Location) -> dict[str, Location]:
        """The Goal-Step file of each asked split that is there. A split named in `splits` or `files` must be there;
        of the default splits, at least one (the others missing are named in a warning). A file found but not asked
        for is named in a warning."""
        out: dict[str, Location] = {}
        o = self.options
        given, named = o.files or {}, "splits" in o.model_fields_set
        missing = []
        for split in sorted(GOALSTEP_FILES):
            looked = (
                (given[split],)
                if split in given
                else tuple(f"{d}/{name}".lstrip("/") for d in ANNOTATION_DIRS for name in GOALSTEP_FILES[split])
            )
            path = next((root / rel for rel in looked if (root / rel).is_file()), None)
            if split in o.splits and path is not None:
                out[split] = self.inside(root, path, field=f"goalstep_{split}")
            elif path is not None:
                why = "; it has no step times" if split == "test" else ""
                log.warning("%s: Goal-Step %s not read (splits %s)%s", path, split, o.splits, why)
            elif split in given or (named and split in o.splits):
                msg = f"no Goal-Step {split} file under the root (looked for {', '.join(looked)})"
                raise self.error(msg, file=root, field=f"goalstep_{split}")
            elif split in o.splits:
                missing.append((split, looked))
        if not out:
            looked = ", ".join(rel for _, rels in missing for rel in rels)
            raise self.error(f"no Goal-Step file under the root (looked for {looked})", file=root, field="goalstep")
        for split, rels in missing:
            log.warning("%s: no Goal-Step %s file (looked for %s)", root, split, ", ".join(rels))
        return out

    def _video_refs(
        self, video: Video, split: str, path: Location, entries: list[tuple[int, Any]]
    ) -> Iterator[EpisodeRef]:
        """The episodes of one video's goals in one split's file (or their reasons)."""
        levels = set(self.options.levels)
        for n, (k, goal) in enumerate(entries):
            base = f"{video.uid}/goalstep_{split}" + (f".{n}" if n else "")
            gfield = f"videos[{k}]"
            try:
                steps = self._children(video, goal, gfield, base, top=True)
            except AdapterError as e:
                yield self._error_ref(video, base, e)
                continue
            meta = {"split": split, "file": str(path), "goal": _own(goal), "goal_field": gfield}
            if "goal" in levels:
                nested = [_nested(s, f"{gfield}.segments[{i}]", "step", i) for i, s in enumerate(steps)]
                for i, s in enumerate(steps):
                    subs = s.get("segments") if isinstance(s, dict) and isinstance(s.get("segments"), list) else []
                    nested += [
                        _nested(b, f"{gfield}.segments[{i}].segments[{j}]", "substep", i) for j, b in enumerate(subs)
                    ]
                yield self._segment_ref(video, base, goal, "goal", gfield, nested, {**meta, "parent": None})
            for i, step in enumerate(steps):
                sid, sfield = f"{base}/{i:03d}", f"{gfield}.segments[{i}]"
                try:
                    subs = self._children(video, step, sfield, sid, top=False)
                except AdapterError as e:
                    yield self._error_ref(video, sid, e)
                    continue
                if "step" in levels:
                    nested = [_nested(b, f"{sfield}.segments[{j}]", "substep", i) for j, b in enumerate(subs)]
                    yield self._segment_ref(video, sid, step, "step", sfield, nested, {**meta, "parent": None})
                if "substep" in levels:
                    parent = _own(step) if isinstance(step, dict) else None
                    for j, sub in enumerate(subs):
                        m = {**meta, "parent": parent, "parent_field": sfield}
                        yield self._segment_ref(
                            video, f"{sid}/{j:03d}", sub, "substep", f"{sfield}.segments[{j}]", [], m
                        )

    def _children(self, video: Video, seg: Any, field: str, raw_id: str, *, top: bool) -> list[Any]:
        """A goal's steps or a step's substeps; a goal (or step) that is not an object, or whose `segments` is not a
        list, is refused (a step may leave `segments` out: substeps have none)."""
        where = {"file": video.annotation_file, "episode": raw_id}
        if not isinstance(seg, dict):
            raise self.error(f"expected an object, got {type(seg).__name__}", **where, field=field)
        if top and not isinstance(seg.get("video_uid"), str):
            raise self.error(f"video_uid is {seg.get('video_uid')!r}", **where, field=f"{field}.video_uid")
        if top and "segments" not in seg and "step_segments" in seg:
            msg = (
                f"video {video.uid} has no step times in this file (step_segments hold step_description and "
                "segment_count only, as in the unlabelled test split): nothing to cut"
            )
            raise self.error(msg, **where, field=f"{field}.step_segments")
        children = seg.get("segments", [] if not top else None)
        if not isinstance(children, list):
            raise self.error(f"segments is {children!r}, expected a list", **where, field=f"{field}.segments")
        return children

    def _error_ref(self, video: Video, raw_id: str, e: AdapterError) -> EpisodeRef:
        return self.new_ref(raw_id, (video.expected, str(video.annotation_file)), error=e)

    def _segment_ref(
        self, video: Video, raw_id: str, seg: Any, level: str, field: str, nested: list[dict], meta: dict[str, Any]
    ) -> EpisodeRef:
        try:
            (start, end, clipped), span = self._window(video, seg, level, field, raw_id)
        except AdapterError as e:
            return self._error_ref(video, raw_id, e)
        locator = {
            **video.locator(span),
            "annotation": "goalstep",
            "level": level,
            "field": field,
            "window_sec": [start, end],
            "segment": _own(seg),
            "nested": nested,
            **meta,
            **({"clipped_end_sec": clipped} if clipped else {}),
        }
        return self.new_ref(raw_id, (str(span.path), str(video.annotation_file)), locator=locator)

    def _window(
        self, video: Video, seg: Any, level: str, field: str, raw_id: str
    ) -> tuple[tuple[float, float, float | None], Span]:
        """The segment's [start, end] in the file that holds it (end clipped to the video within the tolerance; the
        clipped amount returned), or the specific reason there is none."""
        where = {"file": video.annotation_file, "episode": raw_id}
        _, s, e, problem = _times(seg, level)
        if problem:
            key, why = problem
            raise self.error(f"{why} (video {video.uid}, {level})", **where, field=f"{field}.{key}".rstrip("."))
        try:
            self.usable(video, raw_id)
        except AdapterError as err:
            msg = f"{err.reason}; named by {video.annotation_file.name} {field}"
            raise self.error(msg, file=err.file, episode=raw_id, field=err.field) from None
        tol = self.options.end_tolerance_s
        # only the video's own end has a tolerance (goal ends at video_start_sec + duration); a clip holds a segment
        # whole
        span = next((sp for sp in video.spans if sp.start <= s and e <= sp.end), None)
        full = video.spans[0]
        if span is None and full.kind == "full_scale" and s < full.end and e <= full.end + tol:
            span = full
        if span is None and video.spans[0].kind == "full_scale":
            end = video.spans[0].end
            key, t = ("start_time", s) if s >= end else ("end_time", e)
            msg = f"{key} {t:.3f} is past the end of video {video.uid} ({end:.3f} s, tolerance {tol} s)"
            raise self.error(msg, **where, field=f"{field}.{key}")
        if span is None:
            msg = f"no downloaded clip of video {video.uid} holds [{s:.3f}, {e:.3f}] s ({level} {field})"
            raise self.error(msg, file=video.expected, episode=raw_id, field="video")
        start, end = max(s, span.start), min(e, span.end)
        return (start, end, round(e - end, 6) if e > end else None), span

    def window(self, loc: dict[str, Any], fps: float) -> Window:
        """The episode's side of its segment (module docstring, "Episodes"); nested segments that are malformed or fall
        outside the window are listed in `metadata["not_in_action_config"]` with the reason."""
        start, end = loc["window_sec"]
        n_frames = round((end - start) * fps)
        seg, goal = loc["segment"], loc["goal"]
        language = [Language(seg[TEXT_KEY[loc["level"]]], "instruction")]
        about = goal.get("goal_description")
        if loc["level"] != "goal" and isinstance(about, str) and about.strip():
            language.append(Language(about, "description"))
        config, left_out = [], []
        for nested in loc["nested"]:
            text, s, e, problem = _times(nested, nested["level"])
            if problem is None:
                a, b = round((max(s, start) - start) * fps), min(n_frames, round((min(e, end) - start) * fps))
                problem = None if b > a else f"[{s}, {e}] s lies outside the episode [{start}, {end}] s"
            if problem is not None:
                why = problem if isinstance(problem, str) else problem[1]
                left_out.append({"field": nested["field"], "reason": why})
                continue
            extra = {k: v for k, v in nested.items() if k != "step_description"}
            config.append(ActionSegment(start_frame=a, end_frame=b, action_text=text, **extra))
            language.append(Language(text, "instruction", a / fps, b / fps))
        meta = {
            "goalstep_split": loc["split"],
            "goalstep_level": loc["level"],
            "goalstep_file": loc["file"],
            "goalstep_field": loc["field"],
            "goal": goal,
            "segment": seg,
            "parent_step": loc.get("parent"),
            "nested_segments": loc["nested"],
            **({"not_in_action_config": left_out} if left_out else {}),
            **({"clipped_end_sec": loc["clipped_end_sec"]} if loc.get("clipped_end_sec") else {}),
        }
        note = GoalStepAnnotation(
            level=loc["level"],
            split=loc["split"],
            file=loc["file"],
            field=loc["field"],
            goal=goal,
            parent_step=loc.get("parent"),
        )
        return Window(language, meta, config or None, note)


def _own(seg: dict) -> dict:
    """A segment's own keys, verbatim, without its children."""
    return {k: v for k, v in seg.items() if k != "segments"}


def _nested(seg: Any, field: str, level: str, step_index: int) -> dict:
    own = _own(seg) if isinstance(seg, dict) else {"value": seg}
    return {**own, "level": level, "field": field, **({"step_index": step_index} if level == "substep" else {})}


def _times(seg: Any, level: str) -> tuple[str | None, float, float, tuple[str, str] | None]:
    """(text, start, end, the first problem as (key, reason)) of a segment, as the maker's parser checks it."""
    if not isinstance(seg, dict):
        return None, np.nan, np.nan, ("", f"expected an object, got {type(seg).__name__}")
    key = TEXT_KEY[level]
    text, s, e = seg.get(key), seg.get("start_time"), seg.get("end_time")
    if not isinstance(text, str) or not text.strip():
        return None, np.nan, np.nan, (key, f"{key} is {text!r}")
    for key, t in (("start_time", s), ("end_time", e)):
        if isinstance(t, bool) or not isinstance(t, int | float) or not np.isfinite(t) or t < 0:
            return text, np.nan, np.nan, (key, f"{key} is {t!r}")
    if e <= s:
        return text, float(s), float(e), ("end_time", f"end_time {e} is not after start_time {s}")
    return text, float(s), float(e), None
