"""OakInk2's program annotations of one sequence: the task (`program/task_target.json`, keyed by the sequence key, the
token with `/` for `++`) and its primitives (`program/program_info/<token>.json`, texts in
`program/desc_info/<token>.json`), each keyed by the string of a pair (left interval, right interval), an interval
`(start, end)` of mocap frame ids or None where that hand takes no part (oakink/OakInk2-PreviewTool@63365c6:
README.md:262-293; the toolkit reads the keys with `ast.literal_eval`, src/oakink2_toolkit/dataset.py:52-65, and takes
`range(start, end)`, end excluded, :163-186). One hand's primitives do not overlap; the two hands' may (the viewer
looks a frame up per hand, src/oakink2_preview/viz/gui.py:690-720)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

SIDES = ("left", "right")


@dataclass(frozen=True)
class Primitive:
    hand: str  # "left" or "right"
    start: int  # mocap frame id
    end: int  # excluded
    text: str  # `seg_desc`
    primitive: str  # this hand's primitive id (`primitive_lh` / `primitive_rh`, else `primitive`)
    interaction_mode: str  # lh_main, rh_main or bh_main


def _pair(key: str, fail: Callable[[str, str], Exception]) -> tuple[tuple[int, int] | None, ...]:
    try:
        pair = ast.literal_eval(key)
    except (ValueError, SyntaxError):
        pair = None
    ok = isinstance(pair, tuple) and len(pair) == 2
    ok = ok and all(
        iv is None or (isinstance(iv, tuple) and len(iv) == 2 and all(isinstance(v, int) for v in iv) and iv[0] < iv[1])
        for iv in pair  # type: ignore[union-attr]
    )
    if not ok or pair == (None, None):
        raise fail(f"key {key!r} is not (left interval, right interval) of (start, end) frame ids", "program_info")
    return pair  # type: ignore[return-value]


def primitives(info: Any, desc: Any, fail: Callable[[str, str], Exception]) -> list[Primitive]:
    """Each hand's part of each primitive, ordered by start frame then hand."""
    if not isinstance(info, dict) or not isinstance(desc, dict):
        raise fail("program_info and desc_info must be JSON objects", "program_info")
    texts = {_pair(k, fail): v for k, v in desc.items()}
    out = []
    for key, item in info.items():
        pair = _pair(key, fail)
        if not isinstance(item, dict):
            raise fail(f"{key}: not an object", "program_info")
        seg = texts.get(pair)
        text = seg.get("seg_desc") if isinstance(seg, dict) else None
        if not isinstance(text, str):
            raise fail(f"{key}: no seg_desc", "desc_info")
        for side, iv, p in zip(SIDES, pair, ("lh", "rh"), strict=True):
            if iv is not None:
                prim = item.get(f"primitive_{p}") or item.get("primitive") or ""
                out.append(
                    Primitive(side, iv[0], iv[1], text.strip(), str(prim), str(item.get("interaction_mode", "")))
                )
    for side in SIDES:
        for a, b in pairwise(sorted((p for p in out if p.hand == side), key=lambda p: p.start)):
            if b.start < a.end:
                raise fail(
                    f"{side} hand's primitives overlap: [{a.start}, {a.end}) and [{b.start}, {b.end})", "program_info"
                )
    return sorted(out, key=lambda p: (p.start, p.hand))
