"""`episodes.py`: a plan's episodes held as columns, a ref made at each ask. Counted, not timed: the objects a plan
keeps alive grow with its kinds (datasets and catalog texts), not with its episodes."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from adapters.storage.corpus import Corpus
from jobs.catalog.manifest_read import entries_file
from jobs.export.lerobot_v3.job import manifest_groups
from jobs.export.lerobot_v3.plan import manifest_plan


def _held(root: Path, manifest: Path) -> tuple[int, int]:
    """(episodes planned, objects the garbage collector tracks that the plans keep alive), as `export_corpus` plans
    a manifest: its groups (`manifest_groups`), then each group's plan."""
    gc.collect()
    before = len(gc.get_objects())
    corpus = Corpus(root)
    settled = manifest_groups(corpus, manifest, None, False)
    plans = [manifest_plan(corpus, manifest, None, group=g) for g in settled.groups]
    gc.collect()
    held = len(gc.get_objects()) - before
    return sum(len(p.episodes) for p in plans), held


def test_a_plan_holds_no_object_per_episode(tiny_corpus: Path, tmp_path: Path) -> None:
    """Issue 99: a manifest of 200 times the entries plans 200 times the episodes while holding about the same
    objects (the old plan held a ref and a tuple of its columns per episode, and the groups one more each: ~1.4 KB an
    episode, 2.5 GiB at 1M episodes)."""
    root = tmp_path / "c"
    shutil.copytree(tiny_corpus, root)
    entries = pq.read_table(entries_file(root / "manifests" / "all"))
    held = {}
    for times in (1, 200):
        manifest = root / "manifests" / f"all{times}"
        shutil.copytree(root / "manifests" / "all", manifest)
        pq.write_table(pa.concat_tables([entries] * times), entries_file(manifest))  # each entry `times` times over
        held[times] = _held(root, manifest)
    (few, few_held), (many, many_held) = held[1], held[200]
    assert many == 200 * few > 1000
    per_episode = (many_held - few_held) / (many - few)
    assert per_episode < 0.01, f"{many_held - few_held} objects more for {many - few} episodes more"
