"""The action masks the report reads (`jobs.report.masks`): from the catalog's `plan_line`, each dataset's meta only
where the catalog does not say."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.catalog.parts import parquet_files
from jobs.report.masks import corpus_masks
from schemas.corpus import EPISODES_DIR
from schemas.lerobot import EPISODES_PATH


def test_masks_are_read_from_the_catalog_and_a_dataset_without_plan_lines_from_its_meta(
    corpus: Path, tmp_path: Path
) -> None:
    # issue 99: every dataset's episodes.jsonl streamed for the masks took 36 s at 1M episodes; the catalog's
    # plan_line holds each episode's lineage mask and embodiment
    root = tmp_path / "corpus"
    shutil.copytree(corpus, root, copy_function=shutil.copy2)
    before = corpus_masks(root)
    clips = root / "datasets/ego4d/clips" / EPISODES_PATH  # its line has its mask and embodiment: no wrist
    clips.write_text("")
    scan = corpus_masks(root)
    assert (scan.datasets, scan.episodes) == (3, 4) and scan.coverage.keys() == before.coverage.keys()
    assert [v.name for v in scan.wrists] == [v.name for v in before.wrists]
    assert [v.episodes for v in scan.wrists] == [v.episodes for v in before.wrists]  # their lines, read to them
    # a catalog without plan_line for a dataset (an older eidata's): its meta is read, here the emptied file
    part = parquet_files(root, EPISODES_DIR)[0]
    table = pq.read_table(part)
    plan = [
        None if d == "datasets/ego4d/clips" else p
        for d, p in zip(table["dataset"].to_pylist(), table["plan_line"].to_pylist(), strict=True)
    ]
    pq.write_table(
        table.set_column(table.schema.get_field_index("plan_line"), "plan_line", pa.array(plan, pa.string())), part
    )
    scan = corpus_masks(root)
    assert (scan.datasets, scan.episodes) == (3, 3) and "human_video" not in scan.coverage
