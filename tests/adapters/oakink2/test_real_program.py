"""OakInk2's program annotations on real bytes no one here wrote (issue 66 item 4): the `program/` files of a few
sequences as OakInk2 ships them, kept in a public project (awaited as `oakink2_program`, tests/REAL_SAMPLES.md). Each
hand's part of each primitive equals what the maker's toolkit takes from the same keys (`ast.literal_eval` of the
key, each hand's `(start, end)`, its `seg_desc`: oakink/OakInk2-PreviewTool@63365c6 src/oakink2_toolkit/
dataset.py:52-65), computed here apart from `adapters/oakink2/adapter.py`; one hand's primitives never overlap; the
task is the sequence's line of `task_target.json`. No MANO pickle of OakInk2 was found: this is its program only."""

from __future__ import annotations

import ast
import json

import pytest

from adapters.oakink2.adapter import primitives
from tests.realdata import realdata

FOLDER = "oakink2_program"
SEQUENCES = (
    "scene_01__A001++seq__0b3d183d6b2e90eefd66__2023-04-27-20-38-16",
    "scene_01__A001++seq__4c966751912ef4687b87__2023-04-27-18-41-04",
)


def _fail(message: str, field: str) -> ValueError:
    return ValueError(f"{field}: {message}")


def _load(kind: str, token: str) -> dict:
    return json.loads(realdata(f"{FOLDER}/program/{kind}/{token}.json").read_text())


@pytest.mark.parametrize("token", SEQUENCES)
def test_each_hands_primitives_are_the_toolkits_reading_of_the_real_keys(token: str) -> None:
    info, desc = _load("program_info", token), _load("desc_info", token)
    got = primitives(info, desc, _fail)
    texts = {ast.literal_eval(k): v["seg_desc"].strip() for k, v in desc.items()}
    mine = sorted(
        (iv[0], side, iv[1], texts[ast.literal_eval(key)])
        for key in info
        for side, iv in zip(("left", "right"), ast.literal_eval(key), strict=True)
        if iv is not None
    )
    assert [(p.start, p.hand, p.end, p.text) for p in got] == mine and len(got) >= 1
    assert all(p.end > p.start and p.text and p.interaction_mode.endswith("_main") for p in got)
    tasks = json.loads(realdata(f"{FOLDER}/program/task_target.json").read_text())
    assert isinstance(tasks[token.replace("++", "/")], str) and tasks[token.replace("++", "/")].strip()
