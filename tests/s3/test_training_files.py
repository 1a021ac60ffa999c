"""adapters/storage/corpus_files.py against the SeaweedFS server, at its edges: a safetensors header longer than the
first ranged GET and a `frame_index` past it read as safe_open reads them; an object rewritten in the bucket is a new
cache entry, never the stale copy; the index costs a fixed number of requests per dataset plus one per latents and text
file (no HEAD per file)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from adapters.storage.corpus_files import HEADER_READ, CorpusFiles
from adapters.storage.object_cache import Cache
from adapters.storage.urls import filesystem
from tests.fixtures.readback import fetched_bytes
from tests.s3.server import S3Server


def _files(s3: S3Server, prefix: str, tmp_path: Path, folder: str = "d") -> tuple[CorpusFiles, str]:
    url = f"s3://raw/{prefix}/corpus"
    return CorpusFiles(url, s3.options(), Cache(tmp_path / "cache", 1 << 30)), f"{url}/{folder}"


def _put(s3: S3Server, url: str, data: bytes) -> None:
    fs, key = filesystem(url, s3.options())
    fs.pipe_file(key, data)


@pytest.mark.parametrize(("frames", "meta_bytes"), [(10, 100), (4000, 100), (10, 2 * HEADER_READ)])
def test_safetensors_header_and_frame_index_by_ranged_reads(
    s3: S3Server, prefix: str, tmp_path: Path, frames: int, meta_bytes: int
) -> None:
    local = tmp_path / "e.safetensors"
    index = torch.arange(0, 3 * frames, 3, dtype=torch.int64)
    save_file(
        {"latents": torch.zeros(frames, 16, 64, dtype=torch.bfloat16), "frame_index": index},
        str(local),
        metadata={"format": "eidata-latents-1", "pad": "x" * meta_bytes},
    )
    files, root = _files(s3, prefix, tmp_path)
    url = f"{root}/latents/e.safetensors"
    _put(s3, url, local.read_bytes())
    header, values = files.safetensors_meta(url, "frame_index")
    with safe_open(str(local), framework="pt") as f:
        assert header["__metadata__"] == f.metadata()
        assert tuple(header["latents"]["shape"]) == tuple(f.get_slice("latents").get_shape())
        assert np.array_equal(values, f.get_tensor("frame_index").numpy())
    # what it fetched: the first block, then only the header's rest and the frame_index range it lacked
    raw = local.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    first = min(HEADER_READ, len(raw))
    rest = max(0, 8 + n - first)
    start, end = (8 + n + o for o in header["frame_index"]["data_offsets"])
    tail = end - start if end > first + rest else 0
    assert (files.meter.fetched, files.meter.requests) == (first + rest + tail, 1 + (rest > 0) + (tail > 0))
    assert files.meter.fetched < len(raw)  # never the latents


def test_a_rewritten_object_is_a_new_entry(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    files, root = _files(s3, prefix, tmp_path)
    url = f"{root}/latents/text/task_000000.safetensors"
    _put(s3, url, b"first version")
    files.list_dataset(root)
    assert files.use(url, lambda p: Path(p).read_bytes()) == b"first version"
    assert files.use(url, lambda p: Path(p).read_bytes()) == b"first version"
    assert files.cache is not None and fetched_bytes(files.cache) == len(b"first version")  # the second: cached
    _put(s3, url, b"second, longer version")
    again, _ = _files(s3, prefix, tmp_path)  # a new run lists again: the ETag differs
    again.list_dataset(root)
    assert again.use(url, lambda p: Path(p).read_bytes()) == b"second, longer version"


def test_a_missing_object_under_a_listed_folder_costs_no_request(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    files, root = _files(s3, prefix, tmp_path)
    _put(s3, f"{root}/data/chunk-000/episode_000000.parquet", b"x")
    files.list_dataset(root)
    before = files.meter.requests
    assert files.is_file(f"{root}/data/chunk-000/episode_000000.parquet")
    assert not files.is_file(f"{root}/latents/chunk-000/head/episode_000000.safetensors")
    assert files.meter.requests == before
