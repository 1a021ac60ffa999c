"""Safetensors files we write are byte-identical across processes (reruns and cluster runs compare bytes), and their
headers are read into a model with errors naming the file."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from pydantic import BaseModel
from safetensors import safe_open
from safetensors.torch import load_file

from ingest.files.safetensors_file import save_atomic
from tests.fixtures.readback import read_header

REPO = Path(__file__).resolve().parents[3]
METADATA = {f"key_{c}": f"value {c} é" for c in "abcdefgh"}  # 8 keys: 8! orders, non-ASCII values

WRITE = """
import sys, torch
from ingest.files.safetensors_file import save_atomic
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
