"""Checks of what lerobot's own loader needs (`adapters/lerobot_format/checks.py`), on copies of the real GR00T sample
(real sample `gr00t_robot_sim_picknplace`, NVIDIA/Isaac-GR00T @ f4e12be): the sample as published passes; a
stats entry of the wrong shape, a NaN stat and a data file without lerobot's default columns are each one quirk that
names the file, and the shape lerobot's stats have differs between v2.1 and v3.0 as lerobot's code computes them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.lerobot.adapter import LeRobotSource
from adapters.lerobot_format.checks import check_default_columns, check_stats, loader_checks
from adapters.lerobot_format.stats import expected_stats_shape
from schemas.lerobot_features import FeatureSpec
from tests.realdata import realdata


@pytest.fixture
def gr00t(tmp_path: Path) -> Path:
    root = tmp_path / "gr00t"
    shutil.copytree(realdata("gr00t_robot_sim_picknplace"), root)
    return root


def test_the_published_sample_passes(gr00t: Path) -> None:
    assert loader_checks(LeRobotSource().dataset(gr00t)) == []


def test_bad_stats_are_named(gr00t: Path) -> None:
    path = gr00t / "meta/stats.json"
    stats = json.loads(path.read_text())
    stats["observation.state"]["min"] = stats["observation.state"]["min"][:40]  # 40 of 44 dims
    stats["action"]["std"][3] = float("nan")
    path.write_text(json.dumps(stats))
    quirks = {q.code: q for q in check_stats(LeRobotSource().dataset(gr00t))}
    shape, nan = quirks["stats_shape_mismatch"], quirks["stats_not_finite"]
    assert shape.severity == "error" and shape.path == "meta/stats.json" and "observation.state" in shape.message
    assert nan.severity == "warning" and "action" in nan.message


def test_a_data_file_without_the_default_columns(gr00t: Path) -> None:
    path = gr00t / "data/chunk-000/episode_000003.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["timestamp", "index"]), path)
    error, warning = check_default_columns(LeRobotSource().dataset(gr00t))
    assert (error.code, error.severity, error.path) == (
        "missing_default_column",
        "error",
        path.relative_to(gr00t).as_posix(),
    )
    assert error.message.endswith("timestamp (episodes 3)")  # lerobot reads it for every item
    assert warning.severity == "warning" and warning.message.endswith("index (episodes 3)")  # bookkeeping only


def test_stats_shapes_follow_lerobots_code() -> None:
    """v2.1 (lerobot 0.3.3 `np.min(axis=0)`) keeps a feature's whole shape, v3.0 (0.6.1 `RunningQuantileStats`)
    its last axis; cameras have one value per channel."""
    kp = FeatureSpec(dtype="float32", shape=[2, 3])
    assert expected_stats_shape(kp) == (2, 3) and expected_stats_shape(kp, v3=True) == (3,)
    assert expected_stats_shape(FeatureSpec(dtype="video", shape=[32, 32, 3])) == (3, 1, 1)
    assert expected_stats_shape(FeatureSpec(dtype="string", shape=[1])) is None


@pytest.mark.parametrize(
    ("end", "next_start", "found", "in_span"),
    [
        (0.5, 0.5, 5, 5),  # the episode's 5 frames, its span exact
        (0.4, 0.5, 5, 4),  # to_timestamp a frame early: every frame there, the span short (a note, not an error)
        (0.4, 0.4, 4, 4),  # a shared mp4 whose episode holds 4 frames: the next one's first frame is not counted
        (0.6, 0.6, 5, 6),  # a span past the rows: a frame more than the rows (a warning)
    ],
)
def test_an_episode_holds_its_frames_from_its_start_over_its_rows(end, next_start, found, in_span) -> None:
    """Issue 68: a video's length is its frames from `from_timestamp` over the episode's rows (what lerobot seeks),
    bounded by the next episode's start in the same file; the metadata span `[from, to)` is counted apart."""
    from adapters.lerobot_format.checks import _episode_frames

    t = np.arange(10) / 10.0  # one mp4 at 10 fps holding this episode (5 rows) from 0 s, then another's
    assert _episode_frames(t, 0.0, end, 5, 10.0, [0.0, next_start]) == (found, in_span)
    assert _episode_frames(t, 0.0, None, 5, 10.0, [0.0]) == (10, 10)  # v2: the whole file
