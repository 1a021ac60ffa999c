"""The files handle training reads a manifest's corpus through (adapters/storage/corpus_files.py), on a folder: the
corpus is the manifest's grandparent, files are named by path and read in place, and a safetensors header and
`frame_index` read by ranges are what safe_open reads (a bucket's: tests/s3/test_training_files.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from adapters.storage.corpus_files import HEADER_READ, CorpusFiles


def test_a_folder_manifest_s_corpus_is_read_in_place(tmp_path: Path) -> None:
    manifest = tmp_path / "corpus/manifests/m"
    manifest.mkdir(parents=True)
    files, where = CorpusFiles.of_manifest(manifest, cache_bytes=1)
    assert type(files) is CorpusFiles and files.cache is None and where == manifest
    assert files.root == tmp_path / "corpus" and files.join("datasets/a", "meta/info.json") == tmp_path.joinpath(
        "corpus/datasets/a/meta/info.json"
    )
    (meta := files.join("datasets/a/meta")).mkdir(parents=True)
    (meta / "episodes.jsonl").write_text('{"episode_index": 0}\n\n{"episode_index": \n')
    with pytest.raises(ValueError, match=r"episodes\.jsonl:3: not valid JSON"):
        files.jsonl(meta / "episodes.jsonl")
    assert files.use(meta / "episodes.jsonl", lambda p: p) == str(meta / "episodes.jsonl")


@pytest.mark.parametrize("pad", [10, 2 * HEADER_READ])
def test_a_safetensors_header_and_frame_index_read_as_safe_open_reads_them(tmp_path: Path, pad: int) -> None:
    path = tmp_path / "e.safetensors"
    save_file(
        {"latents": torch.zeros(7, 4, 8, dtype=torch.bfloat16), "frame_index": torch.arange(0, 21, 3)},
        str(path),
        metadata={"format": "eidata-latents-1", "pad": "x" * pad},
    )
    header, values = CorpusFiles(tmp_path).safetensors_meta(path, "frame_index")
    with safe_open(str(path), framework="pt") as f:
        assert header["__metadata__"] == f.metadata()
        assert tuple(header["latents"]["shape"]) == tuple(f.get_slice("latents").get_shape())
        assert np.array_equal(values, f.get_tensor("frame_index").numpy())
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(ValueError, match="past the end"):
        CorpusFiles(tmp_path).safetensors_meta(path, "frame_index")
