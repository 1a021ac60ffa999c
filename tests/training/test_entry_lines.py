"""The entries' lines as columns (training/entry_lines.py, issue 99): from the catalog's columns the same lengths and
plan fields as from each dataset's episodes.jsonl, and the catalog's latents files where it knows them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from adapters.storage.corpus_files import CorpusFiles
from schemas.manifest import MANIFEST_JSON
from training.entry_lines import EntryLines


def _entries(manifest: Path) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    table = pq.read_table(manifest / json.loads((manifest / MANIFEST_JSON).read_text())["entries"])
    datasets = table.column("dataset").to_pylist()
    names = sorted(set(datasets))
    codes = np.array([names.index(d) for d in datasets], np.int32)
    return names, codes, table.column("episode_index").to_numpy(), table.column("episode_uid").to_pylist()


def test_the_catalog_s_lines_are_the_meta_s(manifest: Path) -> None:
    corpus = manifest.parent.parent
    names, dataset, index, uids = _entries(manifest)
    cataloged = EntryLines(corpus, names, dataset, index)
    read = EntryLines(None, names, dataset, index)  # no catalog: every dataset's meta
    assert cataloged.cataloged.all() and not read.cataloged.any()
    files = CorpusFiles(corpus)
    for d, rel in enumerate(names):
        rows = np.flatnonzero(dataset == d)
        read.read_meta(files, rel, rows, index[rows])
    assert (cataloged.length == read.length).all() and (read.plan >= 0).all() and (read.files < 0).all()
    for row in range(len(uids)):
        args = (int(index[row]), int(cataloged.length[row]), uids[row])
        assert cataloged.line(int(cataloged.plan[row]), *args) == read.line(int(read.plan[row]), *args)
    known = [cataloged.known(int(c)) for c in cataloged.files]
    assert all(k is not None for k in known) and any(k for k in known)  # the catalog knows every episode's files
    assert all(read.known(int(c)) is None for c in read.files)
