"""Ego4D Goal-Step (`goalstep_{train,valid}.json`): goals, steps and substeps as episodes over their [start, end].

The schema, as the maker wrote it (facebookresearch/ego4d-goalstep, README "Annotation Format" and the files in
`data/` at commit 7e2b6cf5; `step_grounding/tools/parse_goalstep_jsons.py` at b4fe5768 reads them):
`{"version", "date", "description", "split", "videos": [goal, ...]}`, a goal being `{video_uid, start_time,
end_time, goal_category, goal_description, goal_wikihow_url, summary: [str], is_procedural, segments: [step]}`, a
step `{start_time, end_time, step_category, step_description, is_continued, is_procedural, is_relevant
("essential" / "optional" / "irrelevant" / "unsure"), summary: [str], segments: [substep]}`, a substep the same
without `segments`. Times are seconds of the whole video: the maker's parser hands them on unchanged as NLQ
`clip_start_sec` / `clip_end_sec` with the whole video as the clip, the same timeline as narrations. Seen in the real
val file: goal spans written as `[video_start_sec, video_start_sec + duration]` (0.0210286458 .. 5052.921 s), so a
goal may end just past the video; substeps that start a little before or end a little after their step (81.014 in a
step from 81.105, 270 in a step to 269); integer times; descriptions with trailing blanks or a "\\n-" (kept
verbatim). The maker's parser asserts `end_time - start_time > 0` and a non-empty stripped `step_description`: those
are the refusals here too. The test file (`goalstep_test.json`) has only `step_segments` (`step_description`,
`segment_count`), no times, so its videos are refused by name with that reason.

Episodes: a step with its substeps as `action_config` (frames of the episode at the video's fps, half-open
[start, end), clipped to the step; the video-second times and every other key kept on each segment), a substep with
its parent step in the metadata, and optionally the whole goal with its steps and substeps as `action_config`. The
segment's description is the task (`Language("instruction")`); the goal (description, category, url, summary) rides
in the metadata and as a `Language("description")`. raw_id `<video_uid>/goalstep_<split>/<step:03d>[/<substep:03d>]`
(`goalstep_<split>` alone for the goal; `.<n>` after the split when a video has more than one goal in a file).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from adapters.base import AdapterError, EpisodeRef, Language
from adapters.ego4d.videos import Span, Video, usable
from adapters.storage.location import Location
from schemas.corpus import SourceAnnotation
from schemas.lerobot import ActionSegment

if TYPE_CHECKING:
    from adapters.ego4d.adapter import Ego4DAdapter

TEXT_KEY = {"goal": "goal_description", "step": "step_description", "substep": "step_description"}


def index_videos(doc: Any, split: str) -> dict[str, list[tuple[int, Any]]]:
    """Goal entries by video_uid, in file order, each with its position in `videos` (for reasons); an entry
    without a video_uid is kept under `no-video-uid-<k>` so discovery refuses it by name."""
    out: dict[str, list[tuple[int, Any]]] = {}
    for k, entry in enumerate(doc.get("videos") or []):
        uid = entry.get("video_uid") if isinstance(entry, dict) else None
        key = uid if isinstance(uid, str) and uid else f"no-video-uid-{k:05d}"
        out.setdefault(key, []).append((k, entry))
    return out


def goalstep_refs(
    adapter: Ego4DAdapter, video: Video, split: str, path: Location, entries: list[tuple[int, Any]]
) -> Iterator[EpisodeRef]:
    """The episodes of one video's goals in one split's file (or their reasons)."""
    levels = set(adapter.options.goalstep_levels)
    for n, (k, goal) in enumerate(entries):
        base = f"{video.uid}/goalstep_{split}" + (f".{n}" if n else "")
        gfield = f"videos[{k}]"
        try:
            steps = _children(adapter, video, goal, gfield, base, top=True)
        except AdapterError as e:
            yield _error_ref(adapter, video, base, e)
            continue
        meta = {"split": split, "file": str(path), "goal": _own(goal), "goal_field": gfield}
        if "goal" in levels:
            nested = [_nested(s, f"{gfield}.segments[{i}]", "step", i) for i, s in enumerate(steps)]
            for i, s in enumerate(steps):
                subs = s.get("segments") if isinstance(s, dict) and isinstance(s.get("segments"), list) else []
                nested += [
                    _nested(b, f"{gfield}.segments[{i}].segments[{j}]", "substep", i) for j, b in enumerate(subs)
                ]
            yield _segment_ref(adapter, video, base, goal, "goal", gfield, nested, {**meta, "parent": None})
        for i, step in enumerate(steps):
            sid, sfield = f"{base}/{i:03d}", f"{gfield}.segments[{i}]"
            try:
                subs = _children(adapter, video, step, sfield, sid, top=False)
            except AdapterError as e:
                yield _error_ref(adapter, video, sid, e)
                continue
            if "step" in levels:
                nested = [_nested(b, f"{sfield}.segments[{j}]", "substep", i) for j, b in enumerate(subs)]
                yield _segment_ref(adapter, video, sid, step, "step", sfield, nested, {**meta, "parent": None})
            if "substep" in levels:
                parent = _own(step) if isinstance(step, dict) else None
                for j, sub in enumerate(subs):
                    m = {**meta, "parent": parent, "parent_field": sfield}
                    yield _segment_ref(
                        adapter, video, f"{sid}/{j:03d}", sub, "substep", f"{sfield}.segments[{j}]", [], m
                    )


def _children(adapter: Ego4DAdapter, video: Video, seg: Any, field: str, raw_id: str, *, top: bool) -> list[Any]:
    """A goal's steps or a step's substeps; a goal (or step) that is not an object, or whose `segments` is not a
    list, is refused (a step may leave `segments` out: substeps have none)."""
    where = {"file": video.annotation_file, "episode": raw_id}
    if not isinstance(seg, dict):
        raise adapter.error(f"expected an object, got {type(seg).__name__}", **where, field=field)
    if top and not isinstance(seg.get("video_uid"), str):
        raise adapter.error(f"video_uid is {seg.get('video_uid')!r}", **where, field=f"{field}.video_uid")
    if top and "segments" not in seg and "step_segments" in seg:
        msg = (
            f"video {video.uid} has no step times in this file (step_segments hold step_description and "
            "segment_count only, as in the unlabelled test split): nothing to cut"
        )
        raise adapter.error(msg, **where, field=f"{field}.step_segments")
    children = seg.get("segments", [] if not top else None)
    if not isinstance(children, list):
        raise adapter.error(f"segments is {children!r}, expected a list", **where, field=f"{field}.segments")
    return children


def _own(seg: dict) -> dict:
    """A segment's own keys, verbatim, without its children."""
    return {k: v for k, v in seg.items() if k != "segments"}


def _nested(seg: Any, field: str, level: str, step_index: int) -> dict:
    own = _own(seg) if isinstance(seg, dict) else {"value": seg}
    return {**own, "level": level, "field": field, **({"step_index": step_index} if level == "substep" else {})}


def _error_ref(adapter: Ego4DAdapter, video: Video, raw_id: str, e: AdapterError) -> EpisodeRef:
    return adapter.new_ref(raw_id, (video.expected, str(video.annotation_file)), str(e), e.locator())


def _segment_ref(
    adapter: Ego4DAdapter,
    video: Video,
    raw_id: str,
    seg: Any,
    level: str,
    field: str,
    nested: list[dict],
    meta: dict[str, Any],
) -> EpisodeRef:
    try:
        (start, end, clipped), span = _window(adapter, video, seg, level, field, raw_id)
    except AdapterError as e:
        return _error_ref(adapter, video, raw_id, e)
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
    return adapter.new_ref(raw_id, (str(span.path), str(video.annotation_file)), None, locator)


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


def _window(
    adapter: Ego4DAdapter, video: Video, seg: Any, level: str, field: str, raw_id: str
) -> tuple[tuple[float, float, float | None], Span]:
    """The segment's [start, end] in the file that holds it (end clipped to the video within the tolerance; the
    clipped amount returned), or the specific reason there is none."""
    where = {"file": video.annotation_file, "episode": raw_id}
    _, s, e, problem = _times(seg, level)
    if problem:
        key, why = problem
        raise adapter.error(f"{why} (video {video.uid}, {level})", **where, field=f"{field}.{key}".rstrip("."))
    try:
        usable(adapter, video, raw_id)
    except AdapterError as err:
        msg = f"{err.reason}; named by {video.annotation_file.name} {field}"
        raise adapter.error(msg, file=err.file, episode=raw_id, field=err.field) from None
    tol = adapter.options.goalstep_end_tolerance_s
    # only the video's own end has a tolerance (goal ends at video_start_sec + duration); a clip holds a segment whole
    span = next((sp for sp in video.spans if sp.start <= s and e <= sp.end), None)
    full = video.spans[0]
    if span is None and full.kind == "full_scale" and s < full.end and e <= full.end + tol:
        span = full
    if span is None and video.spans[0].kind == "full_scale":
        end = video.spans[0].end
        key, t = ("start_time", s) if s >= end else ("end_time", e)
        msg = f"{key} {t:.3f} is past the end of video {video.uid} ({end:.3f} s, tolerance {tol} s)"
        raise adapter.error(msg, **where, field=f"{field}.{key}")
    if span is None:
        msg = f"no downloaded clip of video {video.uid} holds [{s:.3f}, {e:.3f}] s ({level} {field})"
        raise adapter.error(msg, file=video.expected, episode=raw_id, field="video")
    start, end = max(s, span.start), min(e, span.end)
    return (start, end, round(e - end, 6) if e > end else None), span


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


def goalstep_parts(
    loc: dict[str, Any], fps: float
) -> tuple[list[Language], list[ActionSegment] | None, dict, GoalStepAnnotation]:
    """The task (the segment's description), the goal, the nested segments as `action_config` at `fps` (frames of
    the episode, half-open, clipped to it) and as timed instructions, the metadata and the annotation; nested segments
    that are malformed or fall outside the window are listed in `metadata["not_in_action_config"]` with the reason."""
    start, end = loc["window_sec"]
    n_frames = round((end - start) * fps)
    seg, goal = loc["segment"], loc["goal"]
    language = [Language(seg[TEXT_KEY[loc["level"]]], "instruction")]
    if loc["level"] != "goal" and isinstance(goal.get("goal_description"), str) and goal["goal_description"].strip():
        language.append(Language(goal["goal_description"], "description"))
    config, left_out = [], []
    for nested in loc["nested"]:
        text, s, e, problem = _times(nested, nested["level"])
        if problem is None:
            a, b = round((max(s, start) - start) * fps), min(n_frames, round((min(e, end) - start) * fps))
            problem = None if b > a else f"[{s}, {e}] s lies outside the episode [{start}, {end}] s"
        if problem is not None:
            left_out.append({"field": nested["field"], "reason": problem if isinstance(problem, str) else problem[1]})
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
    return language, config or None, meta, note
