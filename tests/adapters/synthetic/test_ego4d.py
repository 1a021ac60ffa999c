"""The Ego4D writer (`adapters/synthetic/ego4d.py`) against the maker's own Goal-Step annotations
(real sample `ego4d_goalstep_excerpt/goalstep_valid.json`, facebookresearch/ego4d-goalstep @ 7e2b6cf, values
verbatim): the written `goalstep_valid.json` has the real file's keys and value types at every level (file, goal,
step, substep; substeps carry no `segments` key, as in the real file), and the release layout puts the full-scale
mp4s under `v2/full_scale/<video_uid>.mp4` in the Examples Notebook's time base (1/15360)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import pytest

from adapters.synthetic.ego4d import write_ego4d
from tests.fixtures.ego4d_goalstep import write_goalstep
from tests.fixtures.writers.ego4d import TIME_BASE
from tests.realdata import realdata


def _kind(value: object) -> str:
    return "number" if isinstance(value, int | float) and not isinstance(value, bool) else type(value).__name__


def _schema(doc: dict) -> dict[str, set[tuple[str, str]]]:
    """(key, value kind) per level: the file, its goals, their steps, the steps' substeps."""
    levels: dict[str, set[tuple[str, str]]] = {"file": set(), "goal": set(), "step": set(), "substep": set()}
    levels["file"] = {(k, _kind(v)) for k, v in doc.items()}
    for goal in doc["videos"]:
        levels["goal"] |= {(k, _kind(v)) for k, v in goal.items()}
        for step in goal["segments"]:
            levels["step"] |= {(k, _kind(v)) for k, v in step.items()}
            for sub in step.get("segments", []):
                levels["substep"] |= {(k, _kind(v)) for k, v in sub.items()}
    return levels


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    corpus = write_ego4d(tmp_path_factory.mktemp("ego4d"), num_videos=2, duration_s=2.0)
    files = write_goalstep(corpus, val=[1]).files
    return corpus.root, json.loads(files["val"].read_text())


def test_goalstep_file_has_the_real_files_keys_and_kinds(written: tuple[Path, dict]) -> None:
    real = json.loads((realdata("ego4d_goalstep_excerpt/goalstep_valid.json")).read_text())
    ours, theirs = _schema(written[1]), _schema(real)
    for level in ("file", "goal", "step", "substep"):
        assert ours[level] == theirs[level], level
    assert {s["is_relevant"] for g in written[1]["videos"] for s in g["segments"]} <= {
        s["is_relevant"] for g in real["videos"] for s in g["segments"]
    }


def test_full_scale_videos_where_the_release_puts_them(written: tuple[Path, dict]) -> None:
    root, doc = written
    uid = doc["videos"][0]["video_uid"]
    mp4 = root / "v2" / "full_scale" / f"{uid}.mp4"
    with av.open(str(mp4)) as c:
        assert c.streams.video[0].time_base == TIME_BASE == Fraction(1, 15360)
    assert (root / "v2" / "annotations" / "narration.json").is_file() and (root / "ego4d.json").is_file()
