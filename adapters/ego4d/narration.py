"""Ego4D `narration.json`: one episode per narration, a window cut around its timestamp (or runs of overlapping
windows merged), with the pass's summaries that overlap it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from adapters.base import AdapterError, EpisodeRef, Language
from adapters.ego4d.videos import Span, Video, num, usable
from schemas.narration import parse_narration

if TYPE_CHECKING:
    from adapters.ego4d.adapter import Ego4DAdapter


def narration_refs(adapter: Ego4DAdapter, video: Video, entry: Any) -> Iterator[EpisodeRef]:
    """The video's narration episodes (or their reasons), pass by pass."""
    opts = adapter.options
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
                t, span = _locate(adapter, video, n, f"{video.uid}.{pass_name}.narrations[{i}]", raw_id)
            except AdapterError as e:
                yield adapter.new_ref(raw_id, (video.expected, str(video.annotation_file)), str(e), e.locator())
                continue
            items.append((i, t, n, span))
        summaries = [s for s in block.get("summaries", []) if isinstance(s, dict)]
        for group in _group(items, opts.window_s, opts.merge_overlapping):
            yield _ref(adapter, video, pass_name, group, summaries)


def _locate(adapter: Ego4DAdapter, video: Video, n: Any, field: str, raw_id: str) -> tuple[float, Span]:
    """The narration's timestamp and the file holding it, or the specific reason there is none."""
    where = {"file": video.annotation_file, "episode": raw_id}
    t = n.get("timestamp_sec") if isinstance(n, dict) else None
    if not isinstance(t, int | float) or not np.isfinite(t) or t < 0:
        raise adapter.error(f"timestamp_sec is {t!r}", **where, field=f"{field}.timestamp_sec")
    text = n.get("narration_text")
    if not isinstance(text, str) or not text.strip():
        raise adapter.error(f"narration_text is {text!r}", **where, field=f"{field}.narration_text")
    usable(adapter, video, raw_id)
    span = next((sp for sp in video.spans if sp.start <= t <= sp.end), None)
    if span is None and video.spans[0].kind == "full_scale":
        msg = f"timestamp_sec {t:.3f} is past the end of video {video.uid} ({video.spans[0].end:.3f} s)"
        raise adapter.error(msg, **where, field=f"{field}.timestamp_sec")
    if span is None:
        msg = f"no downloaded clip of video {video.uid} holds {t:.3f} s"
        raise adapter.error(msg, file=video.expected, episode=raw_id, field="video")
    return float(t), span


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


def _ref(adapter: Ego4DAdapter, video: Video, pass_name: str, group: list[tuple], summaries: list[dict]) -> EpisodeRef:
    start, end, span = min(g[0] for g in group), max(g[1] for g in group), group[0][4]
    suffix = f"{group[0][2]:05d}" if len(group) == 1 else f"{group[0][2]:05d}-{group[-1][2]:05d}"
    keys = ("timestamp_sec", "timestamp_frame", "narration_text", "annotation_uid")
    narrs = [{"index": i, **{k: n.get(k) for k in keys}} for _, _, i, n, _ in group]
    overlapping = [s for s in summaries if num(s.get("start_sec")) < end and num(s.get("end_sec")) > start]
    locator = {
        **video.locator(span),
        "annotation": "narration",
        "pass": pass_name,
        "window_sec": [start, end],
        "narrations": narrs,
        "summaries": overlapping,
    }
    paths = (str(span.path), str(video.annotation_file))
    return adapter.new_ref(f"{video.uid}/{pass_name}/{suffix}", paths, None, locator)


def narration_language(loc: dict[str, Any]) -> tuple[list[Language], dict[str, Any]]:
    """The narrations (at their instant) and overlapping summaries (over their span, clipped), and the metadata."""
    start, end = loc["window_sec"]
    language = [
        Language(
            n["narration_text"], kind="narration", start_s=n["timestamp_sec"] - start, end_s=n["timestamp_sec"] - start
        )
        for n in loc["narrations"]
    ]
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
    return language, meta
