"""The index's episodes as columns (training/episode_table.py, issue 99): what the index holds does not grow with its
episodes (at 1M a Python record per episode held 2.4 GiB), and an episode's record is made when asked for."""

from __future__ import annotations

import gc
import json
import shutil
from enum import Enum
from pathlib import Path
from types import FunctionType, ModuleType

import pyarrow as pa
import pyarrow.parquet as pq

from adapters.storage.corpus_files import CorpusFiles
from schemas.manifest import MANIFEST_JSON
from tests.training.conftest import MODEL
from training.config import DataConfig
from training.episode_table import EpisodeRecord
from training.episodes import SampleIndex, build_index

REPEAT = 40


def _held(root: object) -> int:
    """How many Python objects `root` holds (itself included), its classes, enums and the corpus handle aside."""
    seen: set[int] = set()
    keep, todo = [], [root]
    while todo:
        o = todo.pop()
        if id(o) in seen or isinstance(o, (type, ModuleType, FunctionType, Enum, CorpusFiles)):
            continue
        seen.add(id(o))
        keep.append(o)
        todo.extend(gc.get_referents(o))
    return len(seen)


def _repeated(manifest: Path, tmp_path: Path) -> Path:
    """A copy of the corpus whose manifest names each of its entries `REPEAT` times: an index of `REPEAT` times the
    episodes, of the same datasets, files and values."""
    corpus = Path(shutil.copytree(manifest.parent.parent, tmp_path / "corpus"))
    out = corpus / "manifests" / manifest.name
    entries = out / json.loads((out / MANIFEST_JSON).read_text())["entries"]
    table = pq.read_table(entries)
    pq.write_table(pa.concat_tables([table] * REPEAT), entries)
    return out


def test_the_index_holds_no_python_object_per_episode(manifest: Path, index: SampleIndex, tmp_path: Path) -> None:
    """Issue 99: `REPEAT` times the episodes, the same number of Python objects held by the episodes and by the whole
    index (the manifest, the report and the corpus handle aside): columns and the distinct values they code. The
    build of before held an `EpisodeRecord` per episode, with its paths (fails at e7043c41: 3,523 objects, not 130)."""
    big = build_index(_repeated(manifest, tmp_path), "train", MODEL, DataConfig(num_workers=0))
    assert len(big.episodes) == REPEAT * len(index.episodes) and len(big) == REPEAT * len(index)
    assert _held(big.episodes) == _held(index.episodes)
    aside = ("manifest", "report")  # the report names at most 3 episodes a reason
    assert _held([v for k, v in vars(big).items() if k not in aside]) == _held(
        [v for k, v in vars(index).items() if k not in aside]
    )


def test_an_episode_s_record_is_made_from_its_columns(index: SampleIndex) -> None:
    """`episodes[i]` is episode i's record: its files under its dataset, its frames those its samples index."""
    table = index.episodes
    for i, ep in enumerate(table):
        assert isinstance(ep, EpisodeRecord) and ep == table[i] and ep.uid == table.uid[i].as_py()
        rel = index.datasets[ep.dataset_id]
        assert Path(ep.data_path).is_file() and Path(ep.latents_path).is_file()
        assert Path(ep.data_path).is_relative_to(Path(index.files.join(rel)))
        assert ep.latent_frames[index.sample_anchor[index.sample_episode == i]].max() < ep.length
    assert [e.uid for e in table.of_dataset(0)] == [e.uid for e in table if e.dataset_id == 0]
