"""One LeRobot episode read (`adapters/lerobot/episode.py`), step by step on the real GR00T sample
(real sample `gr00t_robot_sim_picknplace`, NVIDIA/Isaac-GR00T @ f4e12be; its README lists the quirks): no
`frame_index` (row order kept, noted), parquet timestamps one frame (0.05 s) after the video PTS (measured and
subtracted, noted), the 44-D state split by GR00T's `modality.json` into its slices with nothing lost, and a slice
table that does not fit kept whole with a warning."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from adapters.base import AdapterError
from adapters.lerobot.adapter import LeRobotSource
from adapters.lerobot.episode import EpisodeReader, ReadSettings
from schemas.tiers import QualityTier
from tests.realdata import realdata


def _reader(root: Path, offset: str | float = "auto") -> EpisodeReader:
    source = LeRobotSource()
    ds, ref = source.dataset(root), next(iter(source.discover(root)))
    settings = ReadSettings(offset, True, "GR1ArmsOnly", "gr1", "test", QualityTier.high)
    return EpisodeReader(ds, ds.episodes[0], ref, settings, functools.partial(AdapterError, adapter="lerobot"))


def test_rows_and_the_measured_video_offset() -> None:
    r = _reader(realdata("gr00t_robot_sim_picknplace"))
    table = r.table()
    ts = r.timestamps(table)
    assert len(ts) == 416 and ts[0] == pytest.approx(0.05, abs=1e-6)
    cams = r.cameras(table, ts)
    assert r.offset(ts, cams) == pytest.approx(0.05, abs=1e-6)  # one frame at 20 fps
    assert [q.code for q in r.quirks] == ["no_frame_index", "timestamp_offset_corrected"]
    fixed = _reader(realdata("gr00t_robot_sim_picknplace"), offset=0.02)
    assert fixed.offset(ts, cams) == 0.02 and fixed.quirks[-1].message.startswith("0.02s subtracted")


def test_the_state_splits_by_modality_json() -> None:
    root = realdata("gr00t_robot_sim_picknplace")
    r = _reader(root)
    table = r.table()
    states = r.streams(table, r.timestamps(table))[0]
    modality = json.loads((root / "meta/modality.json").read_text())["state"]
    assert {f"state.{k}" for k in modality} <= set(states)
    whole = np.asarray(table["observation.state"].to_pylist())
    for key, entry in modality.items():
        np.testing.assert_array_equal(states[f"state.{key}"].values, whole[:, entry["start"] : entry["end"]])


def test_slices_that_do_not_fit_keep_the_column_whole(tmp_path: Path) -> None:
    root = tmp_path / "gr00t"
    shutil.copytree(realdata("gr00t_robot_sim_picknplace"), root)
    path = root / "meta/modality.json"
    modality = json.loads(path.read_text())
    first = next(iter(modality["state"]))
    modality["state"][first]["end"] = 45  # past the 44 columns
    path.write_text(json.dumps(modality))
    r = _reader(root)
    table = r.table()
    states = r.streams(table, r.timestamps(table))[0]
    assert "observation.state" in states and states["observation.state"].values.shape[1] == 44
    assert any(q.code == "modality_invalid" and "width 44" in q.message for q in r.quirks)


def test_an_unreadable_parquet_names_the_episode_and_field(tmp_path: Path) -> None:
    root = tmp_path / "gr00t"
    shutil.copytree(realdata("gr00t_robot_sim_picknplace"), root)
    (root / "data/chunk-000/episode_000000.parquet").write_bytes(b"PAR1 torn")
    r = _reader(root)
    with pytest.raises(AdapterError) as err:
        r.table()
    assert (err.value.field, err.value.episode) == ("data_path", r.ref.raw_id)
    assert err.value.file == str(root / "data/chunk-000/episode_000000.parquet")
