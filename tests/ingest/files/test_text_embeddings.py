"""Text embedding files: the contract's tensors and metadata round-trip, bad files are refused with their path, writes
leave no temp file (what a rerun counts as done is the text-embed stage's: tests/jobs/stages/test_text_embed.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from adapters.storage.atomic import temp_path
from ingest.files.text_embeddings import (
    TextEmbeddingError,
    remove_stale_temps,
    text_embedding_path,
    write_text_embedding,
)
from schemas.captions import TextEmbeddingMeta
from tests.fixtures.readback import load_text_embedding, read_text_meta


def _meta(**kw: object) -> TextEmbeddingMeta:
    return TextEmbeddingMeta(**{"model": "tiny", "layer": -1, "text": "pick up the cup", "dtype": "bfloat16", **kw})


def test_round_trip_follows_the_contract(tmp_path: Path) -> None:
    hidden = torch.randn(5, 64)
    path = write_text_embedding(text_embedding_path(tmp_path, 7), np.arange(5), hidden, _meta())
    assert path == tmp_path / "latents/text/task_000007.safetensors"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    with safe_open(str(path), framework="pt") as sf:
        assert sorted(sf.keys()) == ["hidden_states", "input_ids"]
        assert sf.metadata() == {
            "format": "eidata-text-1",
            "model": "tiny",
            "layer": "-1",
            "text": "pick up the cup",
            "dtype": "bfloat16",
        }
    e = load_text_embedding(tmp_path, 7)
    assert e.hidden_states.dtype == torch.bfloat16 and e.input_ids.dtype == torch.int64
    assert e.input_ids.tolist() == [0, 1, 2, 3, 4]
    torch.testing.assert_close(e.hidden_states.float(), hidden, rtol=1e-2, atol=1e-2)  # bf16 rounding
    assert e.meta == _meta()


def test_float16(tmp_path: Path) -> None:
    path = text_embedding_path(tmp_path, 0)
    write_text_embedding(path, np.arange(3), torch.randn(3, 8), _meta(dtype="float16", layer=2))
    assert load_text_embedding(tmp_path, 0).hidden_states.dtype == torch.float16
    assert read_text_meta(path).layer == 2


def test_contract_violations_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TextEmbeddingError, match="input_ids must be int64"):
        write_text_embedding(tmp_path / "a.safetensors", np.zeros(0), torch.randn(0, 8), _meta())
    with pytest.raises(TextEmbeddingError, match=r"hidden_states must be bfloat16 \[3, D\]"):
        write_text_embedding(tmp_path / "a.safetensors", np.arange(3), torch.randn(4, 8), _meta())
    with pytest.raises(TextEmbeddingError, match="non-finite"):
        write_text_embedding(tmp_path / "a.safetensors", np.arange(2), torch.full((2, 8), float("nan")), _meta())
    assert not list(tmp_path.iterdir())
    bad = text_embedding_path(tmp_path, 1)
    bad.parent.mkdir(parents=True)
    save_file({"hidden_states": torch.zeros(2, 4, dtype=torch.bfloat16)}, str(bad), metadata=_meta().to_metadata())
    with pytest.raises(TextEmbeddingError, match=r"task_000001.safetensors: tensors \['hidden_states'\]"):
        load_text_embedding(tmp_path, 1)
    save_file({"x": torch.zeros(1)}, str(bad), metadata={"format": "eidata-text-1", "model": "m"})
    with pytest.raises(TextEmbeddingError, match="bad text embedding metadata"):
        read_text_meta(bad)


def test_stale_temps_are_removed(tmp_path: Path) -> None:
    write_text_embedding(text_embedding_path(tmp_path, 0), np.arange(2), torch.randn(2, 4), _meta())
    stale = temp_path(text_embedding_path(tmp_path, 1))  # what a writer killed mid-write left
    stale.write_bytes(b"half")
    assert remove_stale_temps(tmp_path) == 1
    assert [p.name for p in (tmp_path / "latents/text").iterdir()] == ["task_000000.safetensors"]
