"""Where a LeRobot episode's rows and frames are (`adapters/lerobot_format/layout.py`): the v2.0 layout of the real
GR00T sample (real sample `gr00t_robot_sim_picknplace`, NVIDIA/Isaac-GR00T `demo_data/robot_sim.PickNPlace` @ f4e12be)
and the v3.0 layout of lerobot >= 0.4 (many episodes per file, `meta/tasks.parquet` indexed by the task string);
parquet columns to arrays in their own dtype, ragged lists refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.lerobot_format.files import load_info
from adapters.lerobot_format.layout import column_to_numpy, is_numeric, read_v3_locations, read_v3_tasks, v2_locations
from adapters.storage.location import locate
from adapters.synthetic.lerobot import write_lerobot_v3
from schemas.lerobot import EpisodeEntry
from tests.realdata import realdata

GR00T = "gr00t_robot_sim_picknplace"


def test_real_v20_episodes_point_at_their_files() -> None:
    root = realdata(GR00T)
    info = load_info(root / "meta/info.json")
    lines = (root / "meta/episodes.jsonl").read_text().splitlines()
    entries = [EpisodeEntry.model_validate(json.loads(line)) for line in reversed(lines)]  # any order in
    locs = v2_locations(info, entries)
    assert [loc.episode_index for loc in locs] == [0, 1, 2, 3, 4]
    assert locs[0].length == 416 and locs[0].tasks[1] == "valid"  # GR00T: the validity label is a task string
    assert locs[1].data_file == "data/chunk-000/episode_000001.parquet" and (root / locs[1].data_file).exists()
    clip = locs[1].videos["observation.images.ego_view"]
    assert clip.file == "videos/chunk-000/observation.images.ego_view/episode_000001.mp4" and clip.end_s is None
    assert (root / clip.file).exists()


def test_real_columns_keep_their_dtype_and_width() -> None:
    table = pq.read_table(realdata(GR00T) / "data/chunk-000/episode_000000.parquet")
    state = column_to_numpy(table["observation.state"])
    assert state.shape == (416, 44) and state.dtype == np.float64  # float64 stays float64
    assert column_to_numpy(table["next.done"]).dtype == np.bool_
    assert is_numeric(table.schema.field("observation.state").type) and is_numeric(pa.int64())
    assert not is_numeric(pa.string())
    nested = column_to_numpy(pa.array([[[1.0, 2.0], [3.0, 4.0]]] * 3))
    assert nested.shape == (3, 2, 2)
    with pytest.raises(ValueError, match="ragged lists"):
        column_to_numpy(pa.array([[1.0, 2.0], [3.0]]))


def test_v3_episodes_find_their_rows_and_video_spans(tmp_path: Path) -> None:
    w = write_lerobot_v3(tmp_path / "ds", (8, 11, 6), fps=10)
    info = load_info(w.root / "meta/info.json")
    locs = read_v3_locations(locate(w.root), info)
    assert [(loc.rows, loc.length) for loc in locs] == [((0, 8), 8), ((8, 19), 11), ((19, 25), 6)]
    clip = locs[1].videos["observation.images.top"]
    assert clip.file == "videos/observation.images.top/chunk-000/file-000.mp4"
    assert (clip.start_s, clip.end_s) == pytest.approx((0.8, 1.9))  # the running sum of episode durations
    assert locs[2].data_file == "data/chunk-000/file-000.parquet" and locs[2].tasks == (w.tasks[2],)


@pytest.mark.parametrize("index_name", ["task", None])
def test_v3_tasks_with_a_named_or_unnamed_index(tmp_path: Path, index_name: str | None) -> None:
    """lerobot names the index "task" (datasets/dataset_metadata.py); a hand-made file may leave it unnamed."""
    (tmp_path / "meta").mkdir()
    tasks = pd.DataFrame({"task_index": [0, 1]}, index=pd.Index(["pick", "place"], name=index_name))
    tasks.to_parquet(tmp_path / "meta/tasks.parquet")
    assert read_v3_tasks(locate(tmp_path)) == {0: "pick", 1: "place"}
    pd.DataFrame({"n": [1]}).to_parquet(tmp_path / "meta/tasks.parquet")
    with pytest.raises(ValueError, match="no task text column or no 'task_index'"):
        read_v3_tasks(locate(tmp_path))
