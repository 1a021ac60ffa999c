"""One dataset's entries indexed (training/index_build.py): of its meta only what the split needs is read, and one
dataset's meta is alive at a time. Where a sample may anchor: the chunk and the future latent it needs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from schemas.corpus import EPISODES_DIR
from tests.training.conftest import MODEL
from training.config import DataConfig
from training.episodes import build_index
from training.index_build import anchors


def test_the_index_parses_its_split_s_lines_and_holds_one_dataset_s_meta(
    manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 75: of each dataset's episodes.jsonl only the split's episodes' lines are parsed (the old build parsed and
    held every line of every dataset the manifest names, ~33 KB per episode at 100k), and one dataset's meta is alive
    at a time. Read from the meta: a corpus whose catalog's parts are gone (issue 99: with them, no line is parsed,
    tests/adapters/storage/test_plan_lines.py)."""
    corpus = Path(shutil.copytree(manifest.parent.parent, tmp_path / "corpus"))
    shutil.rmtree(corpus / EPISODES_DIR)
    manifest = corpus / "manifests" / manifest.name
    import json
    import weakref

    import pyarrow.parquet as pq

    from jobs.catalog.manifest_read import entries_file
    from training import index_build as module

    parsed: list[str] = []
    real_loads = json.loads
    monkeypatch.setattr(json, "loads", lambda s, *a, **k: parsed.append(s) or real_loads(s, *a, **k))
    alive: list[weakref.ref] = []
    most = []
    real_meta = module.DatasetMeta

    def meta(*a: object) -> object:
        most.append(sum(r() is not None for r in alive))  # the one it replaces may still be bound
        made = real_meta(*a)  # type: ignore[arg-type]
        alive.append(weakref.ref(made))
        return made

    monkeypatch.setattr(module, "DatasetMeta", meta)
    build_index(manifest, "train", MODEL, DataConfig(num_workers=0))
    entries = pq.read_table(entries_file(manifest)).to_pylist()
    train = [e for e in entries if e["split"] == "train"]
    assert len(train) < len(entries)  # the val episodes' lines are of the same datasets
    lines = [s for s in parsed if str(s).startswith('{"episode_index"')]  # not info.json, a header
    assert len(lines) == len(train), (len(lines), len(train))
    assert max(most) <= 1 and len(alive) == len({e["dataset"] for e in train})


def test_a_dataset_without_latents_is_left_out_unparsed(manifest: Path, tmp_path: Path) -> None:
    """Issue 99: a dataset the catalog describes with no latents folder has each of its episodes left out and named
    (no latents), its info.json not parsed (at 1M, 3 datasets of 4: the build of before parsed every one)."""
    from tests.fixtures.opened import opened_here
    from training.index_build import NO_LATENTS

    corpus = Path(shutil.copytree(manifest.parent.parent, tmp_path / "corpus"))
    shutil.rmtree(corpus / "datasets/ego/video/latents")
    with opened_here() as opened:
        index = build_index(corpus / "manifests" / manifest.name, "train", MODEL, DataConfig(num_workers=0))
    assert not [p for p in opened if p.endswith("ego/video/meta/info.json")]
    assert "datasets/ego/video" not in index.datasets
    (reason,) = [r for r in index.report.skipped if r.startswith(NO_LATENTS)]
    assert index.report.skipped[reason] == 1 + sum(e.startswith("ego/") for e in index.report.skipped_examples[reason])


def test_anchors_need_a_chunk_and_a_future() -> None:
    frames = np.arange(0, 40, 2)
    anchor, future = anchors(frames, length=40, chunk=16, future_offset=16)
    assert frames[anchor].tolist() == list(range(0, 23, 2))  # t + 16 must still have a latent (<= 38)
    assert (frames[future] >= frames[anchor] + 16).all() and (frames[future] - frames[anchor] < 18).all()
