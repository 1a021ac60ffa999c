"""One LeRobot episode read (`adapters/lerobot/episode.py`), step by step on the real GR00T sample
(real sample `gr00t_robot_sim_picknplace`, NVIDIA/Isaac-GR00T @ f4e12be; its README lists the quirks): no
`frame_index` (row order kept, noted), parquet timestamps one frame (0.05 s) after the video PTS (measured and
subtracted, noted), the 44-D state split by GR00T's `modality.json` into its slices with nothing lost, and a slice
table that does not fit kept whole with a warning. Which columns of a LeRobot episode hold its language, and the spans
their runs cover (`episode_language`)."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from adapters.base import AdapterError, Language
from adapters.lerobot.adapter import LeRobotSource
from adapters.lerobot.episode import EpisodeReader, ReadSettings, episode_language
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


TS = np.arange(6) / 10.0
TASKS = {0: "pick the cube", 1: "place it in the bowl", 2: "valid"}


def _read(table: pa.Table, fallback: tuple[str, ...] = ()) -> tuple[list[Language], dict, list[tuple[str, str]]]:
    notes: list[tuple[str, str]] = []
    out, ann = episode_language(table, TS, TASKS, fallback, lambda code, sev, msg: notes.append((code, msg)))
    return out, ann, notes


def test_task_index_runs_are_instructions_over_their_spans() -> None:
    out, ann, notes = _read(pa.table({"task_index": [0, 0, 0, 1, 1, 1]}))
    assert out == [
        Language("pick the cube", "instruction", 0.0, 0.2),
        Language("place it in the bowl", "instruction", 0.3, 0.5),
    ]
    assert ann == {} and notes == []


def test_one_task_over_the_whole_episode_has_no_span() -> None:
    out, _, _ = _read(pa.table({"task_index": [1] * 6}))
    assert out == [Language("place it in the bowl", "instruction", None, None)]


def test_a_validity_annotation_is_a_label_and_a_description_column_a_description() -> None:
    table = pa.table({"annotation.human.validity": [2] * 6, "annotation.human.scene": [0, 0, 0, 0, 0, 0]})
    out, ann, _ = _read(table)
    assert ann == {"annotation.human.validity": [{"text": "valid", "start_s": None, "end_s": None}]}
    assert out == [Language("pick the cube", "description", None, None)]


def test_an_unknown_index_is_noted_and_skipped() -> None:
    out, _, notes = _read(pa.table({"task_index": [0, 0, 0, 7, 7, 7]}))
    assert out == [Language("pick the cube", "instruction", 0.0, 0.2)]
    assert [code for code, _ in notes] == ["task_index_unknown"] and "7" in notes[0][1]


def test_per_frame_strings_are_instructions_and_the_meta_tasks_the_fallback() -> None:
    out, _, _ = _read(pa.table({"instruction": ["open the drawer"] * 3 + [""] * 3}))
    assert out == [Language("open the drawer", "instruction", 0.0, 0.2)]
    fallback, _, _ = _read(pa.table({"frame_index": list(range(6))}), fallback=("wipe the table",))
    assert fallback == [Language("wipe the table")]


def test_the_same_text_over_the_same_span_is_kept_once() -> None:
    table = pa.table({"task_index": [0] * 6, "prompt": ["pick the cube"] * 6})
    out, _, _ = _read(table)
    assert out == [Language("pick the cube", "instruction", None, None)]
