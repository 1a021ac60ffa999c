"""What train's index reads of each manifest entry's `episodes.jsonl` line, as columns (issue 99): its length, a
code of its plan fields (`schemas.episode_lines.plan_fields`: its tasks and lineage, which its action and text
embedding come from) and a code of its latents files as the catalog holds them. From the catalog's columns where it
describes the dataset (`Corpus.plan_columns`, `adapters.storage.plan_lines.catalog_plan`: joined to the entries by
dataset and episode index), else from the dataset's `episodes.jsonl` (`EntryLines.read_meta`), as `catalog_lines`
decides per dataset: a dataset with a named episode whose row has no `plan_line` is read from its meta."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from adapters.storage.corpus import Corpus
from adapters.storage.corpus_files import CorpusFiles
from schemas.corpus import LINEAGE_KEY
from schemas.episode_lines import joined_fields, plan_fields, shared_fields
from schemas.lerobot import EPISODES_PATH
from training.errors import DataError


class EntryLines:
    """Per entry (a row of the split's entries: `dataset` codes into `names`, `episode_index`): `length`, `plan`
    (a code for `shared`, -1: no line) and `files` (a code for `known`, -1: the catalog does not know its latents
    files); `cataloged[d]`: whether dataset d's lines are the catalog's (else its meta's, read by `read_meta`)."""

    def __init__(self, root: Path | None, names: list[str], dataset: np.ndarray, episode_index: np.ndarray) -> None:
        n = len(dataset)
        self.length = np.full(n, -1, np.int64)
        self.plan = np.full(n, -1, np.int32)
        self.files = np.full(n, -1, np.int32)
        self.cataloged = np.zeros(len(names), bool)
        self._plans: list[Any] = []  # code -> its text (parsed at first use) or its fields
        self._known: list[Any] = []  # code -> (keys, texts), then the parsed mapping
        self.written_ns = 0
        catalog = Corpus(root).plan_columns(names) if root is not None else None
        if catalog is None or not len(catalog.dataset):
            return
        self.written_ns, self._plans, self._known = catalog.written_ns, catalog.plans, catalog.latents
        # the last row of each (dataset, episode) wins, as in `catalog_lines`
        if episode_index.min(initial=0) < 0 or episode_index.max(initial=0) >= 1 << 32:
            raise DataError(f"episode index outside 0..2^32 in the manifest: {episode_index.min()}")
        keys = catalog.dataset.astype(np.int64) << 32 | catalog.episode_index
        order = np.argsort(keys, kind="stable")
        wanted = dataset.astype(np.int64) << 32 | episode_index
        at = np.searchsorted(keys[order], wanted, side="right") - 1
        row = order[np.maximum(at, 0)]
        hit = (at >= 0) & (keys[row] == wanted)
        plan = np.where(hit, catalog.plan[row], -1)
        lacking = np.unique(dataset[hit & (plan < 0)])  # a named episode cataloged without its line: the meta's
        self.cataloged[np.unique(dataset[hit & (plan >= 0)])] = True
        self.cataloged[lacking] = False
        mine = self.cataloged[dataset] & hit
        self.length[mine] = catalog.length[row[mine]]
        self.plan[mine] = plan[mine]
        self.files[mine] = catalog.files[row[mine]]

    def read_meta(self, files: CorpusFiles, rel: str, rows: np.ndarray, episode_index: np.ndarray) -> None:
        """The lines of the entries `rows` (of the dataset `rel`, their `episode_index`) from its episodes.jsonl."""
        read = files.jsonl(files.join(rel, EPISODES_PATH), set(episode_index.tolist()))
        lines = {int(obj["episode_index"]): plan_fields(obj, LINEAGE_KEY) for _, obj in read}
        codes: dict[str, int] = {}
        for row, index in zip(rows.tolist(), episode_index.tolist(), strict=True):
            if (line := lines.get(index)) is None:
                continue
            self.length[row] = int(line["length"])
            shared = shared_fields(line, LINEAGE_KEY)
            if (code := codes.get(text := json.dumps(shared, sort_keys=True))) is None:
                code = codes[text] = len(self._plans)
                self._plans.append(MappingProxyType(shared))
            self.plan[row] = code

    def shared(self, code: int) -> Mapping[str, Any]:
        """The plan fields of code `code` but the episode's own (index, length, uid): `joined_fields` adds them."""
        if isinstance(found := self._plans[code], str):
            found = self._plans[code] = json.loads(found)
        return found

    def line(self, code: int, index: int, length: int, uid: str) -> dict[str, Any]:
        return joined_fields(self.shared(code), index, length, uid, LINEAGE_KEY)

    def known(self, code: int) -> Mapping[str, Mapping[str, Any]] | None:
        """video key -> its latents file's parsed catalog text, of the files of code `code` (None for -1)."""
        if code < 0:
            return None
        if isinstance(found := self._known[code], tuple):
            keys, texts = found
            found = self._known[code] = MappingProxyType({k: json.loads(t) for k, t in zip(keys, texts, strict=True)})
        return found
