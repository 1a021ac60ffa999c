"""A manifest's entries as a plan reads them (`jobs.export.lerobot_v3.entries`): columns holding the values a plain
read gives, row for row, and their episodes as a plan's (`episodes.PlanEpisodes`)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.export.lerobot_v3.entries import INDEX_COLUMN, OWN_COLUMNS, ManifestEntries
from jobs.export.lerobot_v3.episodes import OWN, Kind


def _entries(path: Path, n: int) -> Path:
    table = pa.table(
        {
            "dataset": [f"datasets/src/sub{i % 3}" for i in range(n)],
            "episode_index": pa.array([i // 3 for i in range(n)], pa.int64()),
            "episode_uid": [f"uid-{i}" for i in range(n)],
            "tier": ["high" if i % 2 else "low" for i in range(n)],
            "split": [None if i == 4 else "train" for i in range(n)],
            "weight": [None if i % 5 == 0 else i / 10 for i in range(n)],
            "reason": ["not read by a plan"] * n,
        }
    )
    pq.write_table(table, path, row_group_size=4)  # several chunks
    return path


def test_columns_equal_a_plain_read(tmp_path: Path) -> None:
    path = _entries(tmp_path / "entries.parquet", 11)
    entries = ManifestEntries.read(path)
    plain = pq.read_table(path).to_pylist()
    assert [entries.datasets[c] for c in entries.dataset] == [r["dataset"] for r in plain]
    assert entries.index.tolist() == [r["episode_index"] for r in plain]
    for name in OWN_COLUMNS:
        assert entries.own[name].to_pylist() == [r[name] for r in plain]


def test_datasets_in_the_order_the_rows_first_name_them(tmp_path: Path) -> None:
    named = ManifestEntries.read(_entries(tmp_path / "entries.parquet", 7)).named()
    assert list(named) == ["datasets/src/sub0", "datasets/src/sub1", "datasets/src/sub2"]
    assert named["datasets/src/sub0"] == {0, 1, 2}


def test_episodes_keep_the_manifest_order_and_share_a_kind_per_text(tmp_path: Path) -> None:
    """Each dataset's episodes alive, in the entries' order, one kind per dataset and text: two datasets here, each
    one text, so two kinds for nine episodes; an entry whose dataset lacks the episode is left out (alive) or kept."""
    entries = ManifestEntries.read(_entries(tmp_path / "entries.parquet", 11))
    src = {
        ds: SimpleNamespace(root=Path(ds), episodes={0: {}, 1: {}, 2: {}}, text=lambda i: "one")
        for ds in entries.datasets[:2]
    }
    make = lambda s, ds, _: Kind(s, {"source_dataset": ds, "episode_uid": OWN}, dataset=ds)  # noqa: E731
    eps = entries.episodes(src, make)
    plain = [r for r in pq.read_table(tmp_path / "entries.parquet").to_pylist() if r["dataset"] in src]
    alive = [r for r in plain if r["episode_index"] < 3]
    assert len(eps.kinds) == 2 and len(eps) == len(alive) == 6
    assert [(r.extra["source_dataset"], r.episode_index, r.extra["episode_uid"]) for r in eps] == [
        (r["dataset"], r["episode_index"], r["episode_uid"]) for r in alive
    ]
    assert eps.own[INDEX_COLUMN].to_pylist() == [r["episode_index"] for r in alive]
    assert len(entries.episodes(src, make, alive=False)) == len(plain) == 8
