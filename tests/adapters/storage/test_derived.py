"""Derived files (latents, text embeddings) published on a local output (`objects` gives a local path the same
promises): each batch is its files at their final keys plus one record holding their metadata; the dataset's meta is
unchanged by it; what is done is read from the records; a file put but never committed is garbage for the next
recovery; a committed file is never put again."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adapters.storage.commit_log import CommitConflictError
from adapters.storage.derived import DERIVED, DerivedFileError, committed_derived, publish_derived
from adapters.storage.objects import put_if_absent
from adapters.storage.publish import DatasetPublisher, derived_meta
from ingest.files.latents import save_atomic
from tests.adapters.storage.test_publish import LENGTHS, published_dataset, publisher

FILES = {
    "latents/chunk-000/observation.images.head/episode_000000.safetensors": {"episode_index": "0", "model": "m"},
    "latents/chunk-000/observation.images.head/episode_000001.safetensors": {"episode_index": "1", "model": "m"},
}


def make(scratch: Path, rel: str, metadata: dict[str, str], seed: int) -> bytes:
    g = torch.Generator().manual_seed(seed)
    save_atomic(scratch / rel, {"latents": torch.randn(3, 4, generator=g)}, metadata)
    return (scratch / rel).read_bytes()


@pytest.fixture
def published(tmp_path: Path) -> DatasetPublisher:
    return published_dataset(tmp_path)


def test_a_batch_is_its_objects_and_one_record(published: DatasetPublisher, tmp_path: Path) -> None:
    meta_before = derived_meta(published.log.records())
    made = {rel: make(published.scratch, rel, m, seed) for seed, (rel, m) in enumerate(FILES.items())}
    record = publish_derived(published, "latents", sorted(FILES))
    assert record is not None and record.seq == len(LENGTHS) + 1 and record.group.startswith("latents ")
    assert set(record.objects) == set(FILES) and record.meta[DERIVED] == FILES
    out = tmp_path / "out/datasets/a/b"
    assert {rel: (out / rel).read_bytes() for rel in FILES} == made
    assert not any((published.scratch / rel).exists() for rel in FILES)  # the scratch keeps no published file
    assert derived_meta(published.log.records()) == meta_before  # info.json and the jsonl files unchanged
    assert published.publish_meta() == []

    rerun = publisher(tmp_path, "scratch2")  # the next job reads what is done from the records alone
    rerun.recover()
    assert committed_derived(rerun) == FILES
    make(rerun.scratch, sorted(FILES)[0], FILES[sorted(FILES)[0]], 0)
    with pytest.raises(CommitConflictError, match="already committed"):
        publish_derived(rerun, "latents", [sorted(FILES)[0]])
    assert publish_derived(rerun, "latents", []) is None


def test_a_file_put_but_not_committed_is_garbage(published: DatasetPublisher, tmp_path: Path) -> None:
    rel = sorted(FILES)[0]
    key = published.log.final_key(rel)
    assert put_if_absent(published.root.fs, key, b"half a job")  # a job killed between the put and its record
    rerun = publisher(tmp_path, "scratch2")
    assert key in rerun.recover() and committed_derived(rerun) == {}
    data = make(rerun.scratch, rel, FILES[rel], 0)
    publish_derived(rerun, "latents", [rel])
    assert (tmp_path / "out/datasets/a/b" / rel).read_bytes() == data


def test_a_file_that_is_not_safetensors_is_refused(published: DatasetPublisher) -> None:
    rel = sorted(FILES)[0]
    (published.scratch / rel).parent.mkdir(parents=True)
    (published.scratch / rel).write_bytes(b"not a safetensors file")
    with pytest.raises(DerivedFileError, match=r"episode_000000\.safetensors"):
        publish_derived(published, "latents", [rel])
    assert committed_derived(published) == {}
