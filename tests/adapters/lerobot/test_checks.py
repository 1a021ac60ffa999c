"""Checks of what lerobot's own loader needs (`adapters/lerobot/checks.py`), on copies of the real GR00T sample
(real sample `gr00t_robot_sim_picknplace`, NVIDIA/Isaac-GR00T @ f4e12be): the sample as published passes; a
stats entry of the wrong shape, a NaN stat and a data file without lerobot's default columns are each one quirk that
names the file, and the shape lerobot's stats have differs between v2.1 and v3.0 as lerobot's code computes them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from adapters.lerobot.adapter import LeRobotSource
from adapters.lerobot.checks import check_default_columns, check_stats, expected_stats_shape, loader_checks
from schemas.lerobot import FeatureSpec
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
