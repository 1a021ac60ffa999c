"""One v3.0 dataset written from a manifest of two canonical datasets (the tiny corpus, conftest.py): every source
frame once, in plan order, `index` over the whole dataset and `episode_index` renumbered; tasks merged by text; one
meta row per episode with contiguous frame ranges and video spans, its stats recomputed and the lineage columns;
stats.json the aggregate; files rolled over at the size limit; nothing written for an empty plan."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.storage.corpus import Corpus
from jobs.export.layout import consumer_layout
from jobs.export.lerobot_v3.plan import ExportPlan, manifest_plan
from jobs.export.lerobot_v3.write import MB, V30Writer, _Rolling
from schemas.canonical import STATE
from schemas.lerobot_v3 import INFO_PATH_V30, STATS_PATH_V30, TASKS_PATH_V30
from tests.jobs.export.lerobot_v3.conftest import REAL_MIX

HEAD = "observation.images.head"


def _write(tiny_corpus: Path, out: Path, **limits: int) -> dict:
    plan = manifest_plan(Corpus(tiny_corpus), "all", None)
    writer = V30Writer(out, plan, **limits)
    for ref in plan.episodes:
        writer.add(ref)
    return {"plan": plan, "info": writer.finish(plan.splits)}


@pytest.fixture(scope="module")
def written(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("v30") / "all"
    return {**_write(tiny_corpus, out), "out": out}


def _state(path: Path) -> np.ndarray:
    return np.stack(pq.read_table(path)[STATE].to_numpy(zero_copy_only=False))


def _table(out: Path, folder: str):
    return pq.read_table(sorted((out / folder).rglob("*.parquet")))


def test_every_frame_once_in_plan_order_with_global_indices(written: dict) -> None:
    plan, out = written["plan"], written["out"]
    data = pq.ParquetFile(next((out / "data").rglob("*.parquet")))
    assert data.metadata.num_row_groups == len(plan.episodes)  # one row group per episode
    table = data.read()
    want = np.concatenate(
        [
            pq.read_table(e.source.data_file(e.episode_index))[STATE].to_numpy(zero_copy_only=False)
            for e in plan.episodes
        ]
    )
    got = table[STATE].to_numpy(zero_copy_only=False)
    assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))
    assert table["index"].to_pylist() == list(range(len(want)))
    lengths = [
        len(e.source.episodes[e.episode_index]["tasks"]) and e.source.episodes[e.episode_index]["length"]
        for e in plan.episodes
    ]
    assert table["episode_index"].to_pylist() == [i for i, n in enumerate(lengths) for _ in range(n)]
    assert written["info"]["total_frames"] == len(want) and written["info"]["total_episodes"] == len(plan.episodes)


def test_tasks_are_merged_by_text(written: dict) -> None:
    out, plan = written["out"], written["plan"]
    tasks = pq.read_table(out / TASKS_PATH_V30).to_pylist()
    texts = [t["task"] for t in tasks]
    assert sorted(texts) == ["fold", "open the drawer", "pick"] and [t["task_index"] for t in tasks] == [0, 1, 2]
    data = _table(out, "data")
    index_of = {t["task"]: t["task_index"] for t in tasks}
    starts = np.cumsum([0] + [e.source.episodes[e.episode_index]["length"] for e in plan.episodes])
    for k, e in enumerate(plan.episodes):
        (task,) = e.source.episodes[e.episode_index]["tasks"]
        assert set(data["task_index"].to_pylist()[starts[k] : starts[k + 1]]) == {index_of[task]}


def test_one_meta_row_per_episode_with_ranges_spans_stats_and_lineage(written: dict) -> None:
    out, plan = written["out"], written["plan"]
    rows = _table(out, "meta/episodes").to_pylist()
    assert [r["episode_index"] for r in rows] == list(range(len(plan.episodes)))
    assert [r["dataset_from_index"] for r in rows[1:]] == [r["dataset_to_index"] for r in rows[:-1]]
    assert [r[f"videos/{HEAD}/from_timestamp"] for r in rows[1:]] == [
        r[f"videos/{HEAD}/to_timestamp"] for r in rows[:-1]
    ]
    for r, e in zip(rows, plan.episodes, strict=True):
        assert r["length"] == r["dataset_to_index"] - r["dataset_from_index"]
        assert r["episode_uid"] == e.extra["episode_uid"] and r["source"] == e.extra["source"]
        state = _state(e.source.data_file(e.episode_index))
        np.testing.assert_allclose(r[f"stats/{STATE}/mean"], state.mean(axis=0), rtol=1e-6, atol=1e-7)
        assert r[f"stats/{STATE}/count"] == [len(state)]
    stats = json.loads((out / STATS_PATH_V30).read_text())
    every = np.stack(_table(out, "data")[STATE].to_numpy(zero_copy_only=False))
    np.testing.assert_allclose(stats[STATE]["mean"], every.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats[STATE]["max"], every.max(axis=0))
    info = json.loads((out / INFO_PATH_V30).read_text())
    assert info["codebase_version"] == "v3.0" and info["splits"] == plan.splits


def test_files_roll_over_at_the_size_limit(tiny_corpus: Path, tmp_path: Path) -> None:
    _write(tiny_corpus, tmp_path / "small", data_mb=0, video_mb=0)  # every episode reaches a 0 MB limit
    n = len(manifest_plan(Corpus(tiny_corpus), "all", None).episodes)
    assert len(list((tmp_path / "small" / "data").rglob("*.parquet"))) == n
    assert len(list((tmp_path / "small" / "videos" / HEAD).rglob("*.mp4"))) == n
    rows = _table(tmp_path / "small", "meta/episodes").to_pylist()
    assert [r["data/file_index"] for r in rows] == list(range(n))
    assert all(r[f"videos/{HEAD}/from_timestamp"] == 0.0 for r in rows)  # each its own file


def test_an_empty_export_is_refused(tmp_path: Path) -> None:
    writer = V30Writer(tmp_path / "none", ExportPlan("none", 10, {}, None, [], consumer_layout({})))
    with pytest.raises(ValueError, match="no episode to export"):
        writer.finish()
    assert not (tmp_path / "none").exists()


def test_a_mixed_manifest_written_with_each_dataset_camera_in_its_slot(
    real_mix: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 50 item 2: real GR00T (head) and Bridge (third_person) episodes as one v3.0 dataset and one v2.1 dataset,
    every episode with video under `observation.images.primary`; an export that would leave a source out exits 1
    naming it, unless allowed. (lerobot 0.6.1 reading such an export: test_clients.py reads the same layout.)"""
    from jobs.cli import main
    from jobs.validate import validate_path
    from schemas.export_layout import camera_source_column

    argv = ["export", str(real_mix), "--format", "lerobot-v3", "--out", str(tmp_path / "v3"), "--manifest", REAL_MIX]
    assert main(argv) == 0
    root, key = tmp_path / "v3" / REAL_MIX, "observation.images.primary"
    rows = pq.read_table(root / "meta" / "episodes").to_pylist()
    assert [r[camera_source_column(key)] for r in rows] == ["observation.images.head"] * 2 + [
        "observation.images.third_person"
    ] * 3
    assert json.loads((root / INFO_PATH_V30).read_text())["robot_type"] == "gr1+widowx"
    for r in rows:  # each episode's span of the slot's video holds its frames
        assert r[f"videos/{key}/to_timestamp"] - r[f"videos/{key}/from_timestamp"] == pytest.approx(r["length"] / 10)
    (report,) = validate_path(root)
    assert report.count("error") == 0 and report.episodes == 5, report.render()
    v21 = ["export", str(real_mix), "--format", "lerobot-v21", "--out", str(tmp_path / "v21"), "--manifest", REAL_MIX]
    assert main(v21) == 0
    assert len(list((tmp_path / "v21" / REAL_MIX / f"videos/chunk-000/{key}").glob("*.mp4"))) == 5
    capsys.readouterr()
    assert main([*argv, "--cameras", "head"]) == 1  # Bridge has no head camera: it would be left out
    err = capsys.readouterr().err
    assert "leave out source oxe: 3 episodes, 3 no camera observation.images.head" in err, err
    assert main([*argv, "--cameras", "head", "--allow-dropped-sources"]) == 0
    assert "2 episodes, action canonical [50], skipped: 3 no camera observation.images.head" in capsys.readouterr().out


@pytest.mark.slow  # lerobot 0.6.1 in its own venv: ~20 s of imports and decoding
def test_a_mixed_manifest_loads_in_lerobot_061(real_mix: Path, run_oracle_v30, tmp_path: Path) -> None:
    """Issue 50 item 2, done when: the real GR00T + Bridge manifest, every episode in the `primary` slot, is one
    dataset lerobot 0.6.1 loads (`LeRobotDataset`), its first (GR00T head) and last (Bridge third_person) frames
    decoded, the slot's source camera in `meta.episodes`."""
    from jobs.export.lerobot_v3.job import export_corpus
    from schemas.export_layout import camera_source_column

    export_corpus(real_mix, tmp_path / "out", manifest=REAL_MIX)
    root = tmp_path / "out" / REAL_MIX
    result = run_oracle_v30("load", root, "--out", tmp_path / "dump", timeout=300)[str(root)]
    assert result["ok"], result
    assert (result["num_episodes"], len(result["items_tasks"])) == (5, 2)
    assert [k for k, ft in result["features"].items() if ft["dtype"] == "video"] == ["observation.images.primary"]
    held = [e[camera_source_column("observation.images.primary")] for e in result["episodes"]]
    assert held == ["observation.images.head"] * 2 + ["observation.images.third_person"] * 3


def test_a_file_opens_at_the_limit_or_when_asked() -> None:
    """`_Rolling.place`: the first item opens a file, one reaching the limit (lerobot's `>=`) the next, and so does
    `new` (a camera whose codec or size changed: its packets cannot join the file) whatever the size."""
    place = _Rolling()
    assert place.place(MB // 2, 1) and not place.place(MB // 4, 1)
    assert place.place(MB // 4, 1) and (place.file, place.bytes) == (1, MB // 4)
    assert place.place(1, 1, new=True) and (place.chunk, place.file, place.bytes) == (0, 2, 1)
