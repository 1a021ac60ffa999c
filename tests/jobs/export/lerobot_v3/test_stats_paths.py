"""One statistics module on every LeRobot path (issue 88 item 2): the stats the writer puts in a corpus's
`episodes_stats.jsonl`, the stats a v2.1 export writes, and the per-episode `stats/...` columns and `meta/stats.json`
a v3.0 export writes (batched over episodes) are each what `adapters.lerobot_format.stats` gives for the values written,
read back from the written files (the v3.0 ones one episode at a time, so the batch and the one-episode path meet).
The frame times are the writer's own float64 `index / fps` (lerobot 0.3.3's writer takes stats of its buffer before
the float32 column is written), so `timestamp` is held to those."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.lerobot_format.stats import aggregate_stats, episode_stats, numeric_stats
from jobs.cli import main

NOT_NUMERIC = ("video", "image", "string")


def _columns(table: pa.Table, features: dict[str, Any]) -> dict[str, np.ndarray]:
    out = {}
    for key, ft in features.items():
        if ft["dtype"] in NOT_NUMERIC:
            continue
        arr = table.column(key).combine_chunks()
        while pa.types.is_list(arr.type) or pa.types.is_fixed_size_list(arr.type):
            arr = arr.flatten()
        values = arr.to_numpy(zero_copy_only=False)
        out[key] = values if tuple(ft["shape"]) == (1,) else values.reshape(table.num_rows, *ft["shape"])
    return out


def _v21_mismatches(dataset: Path) -> tuple[int, list[str]]:
    info = json.loads((dataset / "meta/info.json").read_text())
    checked, wrong = 0, []
    for line in (dataset / "meta/episodes_stats.jsonl").read_text().splitlines():
        entry = json.loads(line)
        i = entry["episode_index"]
        path = info["data_path"].format(episode_chunk=i // info["chunks_size"], episode_index=i)
        cols = _columns(pq.read_table(dataset / path), info["features"])
        cols["timestamp"] = np.arange(len(cols["timestamp"])) / info["fps"]  # the writer's frame times
        for key, values in cols.items():
            checked += 1
            if numeric_stats(values).model_dump(exclude_none=True) != entry["stats"][key]:
                wrong.append(f"{dataset.name} episode {i} {key}")
    return checked, wrong


def _v30_mismatches(dataset: Path) -> tuple[int, list[str]]:
    info = json.loads((dataset / "meta/info.json").read_text())
    data = pq.read_table(dataset / "data/chunk-000/file-000.parquet")
    rows = pq.read_table(dataset / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    checked, wrong, numeric = 0, [], []
    for row in rows:
        i = row["episode_index"]
        stats = episode_stats(_columns(data.filter(np.asarray(data.column("episode_index")) == i), info["features"]))
        numeric.append(stats)
        for key, feature in stats.items():
            for stat, value in feature.items():
                checked += 1
                if np.asarray(value).tolist() != row[f"stats/{key}/{stat}"]:
                    wrong.append(f"{dataset.name} episode {i} {key} {stat}")
    written, running = json.loads((dataset / "meta/stats.json").read_text()), numeric[0]
    for stats in numeric[1:]:  # episode by episode, as lerobot's writer aggregates
        running = aggregate_stats([running, stats])
    for key, feature in running.items():
        checked += 1
        if {k: np.asarray(v).tolist() for k, v in feature.items()} != written[key]:
            wrong.append(f"{dataset.name} meta/stats.json {key}")
    return checked, wrong


@pytest.fixture(scope="module")
def exports(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stats_paths")
    for fmt in ("lerobot-v21", "lerobot-v3"):
        assert main(["export", str(tiny_corpus), "--format", fmt, "--out", str(out / fmt)]) == 0
    return out


def test_the_writer_and_the_v21_export_write_the_stats_module_s_numbers(tiny_corpus: Path, exports: Path) -> None:
    datasets = [p.parent.parent for p in sorted((tiny_corpus / "datasets").glob("*/*/meta/info.json"))]
    datasets += [p.parent.parent for p in sorted((exports / "lerobot-v21").glob("*/*/meta/info.json"))]  # no job/
    assert len(datasets) == 6
    results = [_v21_mismatches(d) for d in datasets]
    assert all(checked > 0 for checked, _ in results)
    assert [w for _, wrong in results for w in wrong] == []


def test_the_v30_export_s_batched_stats_equal_each_episode_s_own(exports: Path) -> None:
    datasets = [p.parent.parent for p in sorted((exports / "lerobot-v3").glob("*/*/meta/info.json"))]  # no job/
    assert len(datasets) == 3
    results = [_v30_mismatches(d) for d in datasets]
    assert all(checked > 0 for checked, _ in results)
    assert [w for _, wrong in results for w in wrong] == []
