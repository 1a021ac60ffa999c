"""Hostile LeRobot datasets through the real job (reliability review 1a, 1d, 1e'): a template that leaves the root,
an episode whose parquet is a symlink out of it, and an episode of 4,100 extra columns first in its dataset. The job
exits 0; each bad one is a quarantine row naming its path and cause; the wide episode does not fix its dataset's
features, so the valid episodes after it are written with the ordinary native width; nothing outside is read."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import jobs.cli
from adapters.lerobot_format.files import read_jsonl
from jobs.catalog.query import run_query
from schemas.corpus import EpisodeLineage
from schemas.lerobot import EPISODES_PATH
from tests.adapters.lerobot.conftest import MOTORS, write_arm_dataset
from tests.fixtures.opened import opened_files


def _three_episodes(root: Path) -> Path:
    """A dataset of three valid episodes (copies of one written by our writer)."""
    rows = np.linspace(0, 1, 40 * len(MOTORS)).reshape(40, len(MOTORS))
    write_arm_dataset(root, "so101_follower", list(MOTORS), rows)
    data = root / "data/chunk-000"
    entry = json.loads((root / "meta/episodes.jsonl").read_text())
    for i in (1, 2):
        table = pq.read_table(data / "episode_000000.parquet")
        index = table.schema.get_field_index("episode_index")
        table = table.set_column(index, "episode_index", pa.array([i] * table.num_rows, pa.int64()))
        pq.write_table(table, data / f"episode_{i:06d}.parquet")
    (root / "meta/episodes.jsonl").write_text(
        "".join(json.dumps(entry | {"episode_index": i}) + "\n" for i in range(3))
    )
    info = json.loads((root / "meta/info.json").read_text())
    (root / "meta/info.json").write_text(json.dumps(info | {"total_episodes": 3, "total_frames": 117}))
    return root


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("hostile")
    victim = _three_episodes(tmp / "outside/victim")
    trav = tmp / "raw/trav/fc"
    shutil.copytree(victim, trav)
    shutil.rmtree(trav / "data")
    info = json.loads((trav / "meta/info.json").read_text())
    template = "../../../outside/victim/data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
    (trav / "meta/info.json").write_text(json.dumps(info | {"data_path": template}))
    link = tmp / "raw/link/fc"
    shutil.copytree(victim, link)
    (link / "data/chunk-000/episode_000001.parquet").unlink()
    os.symlink(victim / "data/chunk-000/episode_000001.parquet", link / "data/chunk-000/episode_000001.parquet")
    wide = tmp / "raw/wide/fc"
    shutil.copytree(victim, wide)
    first = wide / "data/chunk-000/episode_000000.parquet"
    table = pq.read_table(first)
    extra = {f"extra_{i:04d}": pa.array(np.full(table.num_rows, i, np.float32)) for i in range(4100)}
    pq.write_table(pa.table({**{c: table[c] for c in table.column_names}, **extra}), first)
    sources = [{"name": n, "adapter": "lerobot", "root": str(tmp / "raw" / n)} for n in ("trav", "link", "wide")]
    path = tmp / "spec.yaml"
    path.write_text(yaml.safe_dump({"output": str(tmp / "corpus"), "sources": sources, "parallelism": {"num_cpus": 2}}))
    return path


@pytest.mark.shared_ray  # tests/ray_scope.py
def test_hostile_datasets_are_quarantined_naming_their_paths(spec: Path) -> None:
    tmp = spec.parent
    corpus = tmp / "corpus"
    with opened_files(tmp / "outside") as opened:
        assert jobs.cli.main(["ingest", str(spec)]) == 0
    assert opened == []
    rows = run_query(corpus, "SELECT episode_uid, file, field, message FROM quarantine ORDER BY 1").to_pylist()
    by_uid = {r["episode_uid"]: r for r in rows}
    assert set(by_uid) == {"trav/fc/meta", "link/fc/episode_000001", "wide/fc/episode_000000"}
    trav = by_uid["trav/fc/meta"]
    assert "leaves the dataset root" in trav["message"] and "../../../outside/victim/data" in trav["message"]
    link = by_uid["link/fc/episode_000001"]
    assert link["file"] == str(tmp / "raw/link/fc/data/chunk-000/episode_000001.parquet")
    assert f"(resolves to {tmp / 'outside/victim/data/chunk-000/episode_000001.parquet'})" in link["message"]
    wide = by_uid["wide/fc/episode_000000"]
    assert wide["field"] == "data_path" and "parquet columns: 4,1" in wide["message"]

    episodes = run_query(corpus, "SELECT episode_uid, raw_path FROM episodes ORDER BY 1").to_pylist()
    assert [e["episode_uid"] for e in episodes] == [
        "link/fc/episode_000000",
        "link/fc/episode_000002",
        "wide/fc/episode_000001",
        "wide/fc/episode_000002",
    ]
    assert not any("outside" in e["raw_path"] for e in episodes)
    info = json.loads((corpus / "datasets/wide/fc/meta/info.json").read_text())
    assert info["features"]["observation.state.native"]["shape"] == [len(MOTORS)]  # not 4,106 wide
    for _, line in read_jsonl(corpus / "datasets/wide/fc" / EPISODES_PATH):
        assert "outside" not in EpisodeLineage.of(line).raw_path
