"""Latents files: the exact contract on disk, checks that name the problem, and atomic writes (a writer killed just
before its rename leaves no file under the final name, and its temp file is swept)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from ingest.files.latents import (
    LatentsFile,
    LatentsFileError,
    remove_stale_temps,
    write_latents,
)
from schemas.image_latents import LatentsMeta
from tests.fixtures.readback import read_latents, read_meta

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
