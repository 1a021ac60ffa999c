"""Latents files: the exact contract on disk, checks that name the problem, and atomic writes (a writer killed just
before its rename leaves no file under the final name, and its temp file is swept).

Safetensors files we write are byte-identical across processes (reruns and cluster runs compare bytes), and their
headers are read into a model with errors naming the file.

Text embedding files: the contract's tensors and metadata round-trip, bad files are refused with their path, writes
leave no temp file (what a rerun counts as done is the text-embed stage's: tests/jobs/stages/test_text_embed.py).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import BaseModel
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from adapters.storage.atomic import temp_path
from ingest.files.latents import (
    LatentsFile,
    LatentsFileError,
    TextEmbeddingError,
    remove_stale_temps,
    remove_stale_text_temps,
    save_atomic,
    text_embedding_path,
    write_latents,
    write_text_embedding,
)
from schemas.captions import TextEmbeddingMeta
from schemas.image_latents import LatentsMeta
from tests.fixtures.readback import load_text_embedding, read_header, read_latents, read_meta, read_text_meta

REPO = Path(__file__).resolve().parents[3]


def _file(n: int = 4, dtype: torch.dtype = torch.bfloat16, **meta: object) -> LatentsFile:
    g = torch.Generator().manual_seed(n)
    m = LatentsMeta(
        model="random-init:test",
        rate_hz=3.0,
        dtype="bfloat16" if dtype == torch.bfloat16 else "float16",
        video_key="observation.images.head",
        episode_index=7,
        **meta,
    )
    return LatentsFile(
        torch.randn(n, 196, 384, generator=g).to(dtype),
        torch.randn(n, 5, 384, generator=g).to(dtype),
        torch.arange(n, dtype=torch.int64) * 3,
        m,
    )


def test_round_trip_with_the_exact_keys_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "latents/chunk-000/observation.images.head/episode_000007.safetensors"
    f = _file()
    write_latents(path, f)
    with safe_open(str(path), framework="pt") as sf:
        assert sorted(sf.keys()) == ["cls_registers", "frame_index", "latents"]
        assert sf.metadata() == {
            "format": "eidata-latents-1",
            "model": "random-init:test",
            "image_size": "224",
            "rate_hz": "3.0",
            "dtype": "bfloat16",
            "video_key": "observation.images.head",
            "episode_index": "7",
            "patch_size": "16",
            "num_register_tokens": "4",
        }
    back = read_latents(path)
    assert torch.equal(back.latents, f.latents) and torch.equal(back.cls_registers, f.cls_registers)
    assert torch.equal(back.frame_index, f.frame_index) and back.meta == f.meta
    assert read_meta(path) == f.meta
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp left behind


def test_float16_files_are_accepted(tmp_path: Path) -> None:
    f = _file(dtype=torch.float16)
    assert read_latents(write_latents(tmp_path / "e.safetensors", f)).latents.dtype == torch.float16


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda f: setattr(f, "latents", f.latents.float()), "latents must be bfloat16"),
        (lambda f: setattr(f, "latents", f.latents[:, :100]), r"latents must be bfloat16 \[4, 196"),
        (lambda f: setattr(f, "cls_registers", f.cls_registers[:, :1]), r"cls_registers must be bfloat16 \[4, 5"),
        (lambda f: setattr(f, "frame_index", f.frame_index.int()), "frame_index must be int64"),
        (lambda f: setattr(f, "frame_index", f.frame_index.flip(0)), "not strictly increasing"),
        (lambda f: setattr(f, "frame_index", f.frame_index[:3]), r"latents must be bfloat16 \[3,"),
    ],
)
def test_contract_violations_are_refused_and_nothing_is_written(tmp_path: Path, change: object, match: str) -> None:
    f = _file()
    change(f)  # type: ignore[operator]
    with pytest.raises(LatentsFileError, match=match):
        write_latents(tmp_path / "e.safetensors", f)
    assert not list(tmp_path.iterdir())


def test_unreadable_or_foreign_files_are_named(tmp_path: Path) -> None:
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(LatentsFileError, match=r"junk\.safetensors: not a readable safetensors file"):
        read_meta(junk)
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"latents": torch.zeros(1, 196, 384)}, str(other), metadata={"format": "something-else"})
    with pytest.raises(LatentsFileError, match="bad latents metadata"):
        read_latents(other)


KILL_BEFORE_RENAME = """
import os, signal, sys, torch
import ingest.files.latents as store
from schemas.image_latents import LatentsMeta
os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # dies with the file written, not renamed
m = LatentsMeta(model="m", rate_hz=3.0, dtype="bfloat16", video_key="k", episode_index=0)
f = store.LatentsFile(torch.zeros(50, 196, 384, dtype=torch.bfloat16), torch.zeros(50, 5, 384, dtype=torch.bfloat16),
                      torch.arange(50), m)
store.write_latents(store.Path(sys.argv[1]), f)
"""


def test_a_writer_killed_before_its_rename_leaves_no_file(tmp_path: Path) -> None:
    final = tmp_path / "latents/chunk-000/observation.images.head/episode_000000.safetensors"
    proc = subprocess.run(
        [sys.executable, "-c", KILL_BEFORE_RENAME, str(final)], cwd=REPO, capture_output=True, timeout=120, check=False
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert not final.exists()
    temps = list(final.parent.iterdir())
    assert len(temps) == 1 and temps[0].name.startswith(".episode_000000.safetensors.tmp-")
    assert temps[0].stat().st_size > 50 * 196 * 384 * 2  # the whole payload was there, still it never counts
    assert remove_stale_temps(tmp_path) == 1 and not list(final.parent.iterdir())


METADATA = {f"key_{c}": f"value {c} é" for c in "abcdefgh"}  # 8 keys: 8! orders, non-ASCII values

WRITE = """
import sys, torch
from ingest.files.latents import save_atomic
meta = {f"key_{c}": f"value {c} \\u00e9" for c in "abcdefgh"}
t = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4).to(torch.bfloat16)
save_atomic(sys.argv[1], {"latents": t, "frame_index": torch.arange(2)}, meta)
"""


def test_two_processes_write_identical_bytes(tmp_path: Path) -> None:
    digests = set()
    for i in range(3):  # safetensors seeds its metadata map per process: the old writer's orders differ
        out = tmp_path / f"f{i}.safetensors"
        subprocess.run([sys.executable, "-c", WRITE, str(out)], check=True, cwd=REPO)
        digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_sorted_header_file_reads_back(tmp_path: Path) -> None:
    t = torch.randn(3, 5).to(torch.bfloat16)
    idx = torch.arange(3)
    path = save_atomic(tmp_path / "a.safetensors", {"latents": t, "frame_index": idx}, METADATA)
    back = load_file(str(path))
    assert torch.equal(back["latents"], t) and torch.equal(back["frame_index"], idx)
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata() == METADATA
    assert (int.from_bytes(path.read_bytes()[:8], "little")) % 8 == 0  # the format's alignment


class _Meta(BaseModel):
    key_a: str
    key_b: str


class _HeaderError(Exception):
    pass


def test_read_header_validates_the_metadata_and_names_the_file(tmp_path: Path) -> None:
    path = save_atomic(tmp_path / "a.safetensors", {"x": torch.zeros(2)}, METADATA)
    assert read_header(path, _Meta, _HeaderError, "latent") == _Meta(key_a="value a é", key_b="value b é")
    partial = save_atomic(tmp_path / "b.safetensors", {"x": torch.zeros(2)}, {"key_a": "1"})
    with pytest.raises(_HeaderError, match=r"(?s)b\.safetensors: bad latent metadata .*key_b"):
        read_header(partial, _Meta, _HeaderError, "latent")
    (tmp_path / "c.safetensors").write_bytes(b"\x08" + b"\x00" * 7 + b"not json")
    with pytest.raises(_HeaderError, match=r"c\.safetensors: not a readable safetensors file"):
        read_header(tmp_path / "c.safetensors", _Meta, _HeaderError, "latent")


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
    assert remove_stale_text_temps(tmp_path) == 1
    assert [p.name for p in (tmp_path / "latents/text").iterdir()] == ["task_000000.safetensors"]
