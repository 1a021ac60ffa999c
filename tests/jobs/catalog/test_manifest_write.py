"""A manifest is replaced in one step (issue 67 item 7): a writer killed (SIGKILL) at each rename of a replacement, and
after its commit, leaves a folder every reader (the entries file, `--manifest` selection, `export --dry-run`) reads as
the old manifest or the new one whole; the rerun leaves the manifest and its entries file, nothing else."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import jobs.cli
from adapters.storage.corpus import Corpus
from jobs.catalog.curate import curate
from jobs.catalog.manifest_read import entries_file, load_manifest
from jobs.catalog.manifest_write import write_manifest
from jobs.catalog.selection import manifest_episodes
from schemas.manifest import MANIFEST_JSON, entries_name

REPO = Path(__file__).resolve().parents[3]
RENAMES = 2  # two puts (entries, manifest.json), each a temp file renamed once (`Root.put`: `atomic_write`)

# the writer of the new manifest, killed at its k-th os.replace, or (k = RENAMES + 1) as its last sweep begins
CHILD = f"""
import os, signal, sys
from pathlib import Path
import jobs.catalog.manifest_write as mw
from adapters.storage.corpus import Corpus
from jobs.catalog.manifest_read import load_manifest
root, new, k = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
calls, real_replace, real_sweep = [0], os.replace, mw._sweep
def replace(a, b):
    calls[0] += 1
    if calls[0] == k:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(a, b)
sweeps = [0]
def sweep(folder):
    sweeps[0] += 1
    if sweeps[0] == 2 and k > {RENAMES}:
        os.kill(os.getpid(), signal.SIGKILL)
    real_sweep(folder)
os.replace, mw._sweep = replace, sweep
manifest = load_manifest(new).model_copy(update={{"name": "m"}})
mw.write_manifest(Corpus(root), manifest, (new / manifest.entries).read_bytes(), overwrite=True)
"""


def _seen(root: Path) -> tuple[str, int, int]:
    """What a reader takes the manifest `m` for: (its where, its json's count, the rows of the entries it reads)."""
    folder = root / "manifests/m"
    m = load_manifest(folder)
    rows = pq.read_table(entries_file(folder)).num_rows
    assert sum(map(len, manifest_episodes(root, "m").values())) == rows  # `--manifest m` of latents, verdicts
    return m.where, m.num_entries, rows


def _exported(root: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    argv = ["export", str(root), "--format", "lerobot-v3", "--out", str(out), "--manifest", "m", "--dry-run"]
    assert jobs.cli.main(argv) == 0
    return re.search(r" (\d+) episodes", capsys.readouterr().out.splitlines()[0]).group(1)  # "m  to write  N episodes"


def test_a_replacement_killed_anywhere_leaves_the_old_or_the_new_manifest_whole(
    corpus_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    curate(corpus_copy, "m", "source = 'egodex'")
    new = Path(curate(corpus_copy, "new", "true"))
    old = _seen(corpus_copy)
    want = (load_manifest(new).where, load_manifest(new).num_entries, pq.read_table(entries_file(new)).num_rows)
    assert old[1] == old[2] == 2 and want[1] == want[2] > 2
    folder = corpus_copy / "manifests/m"
    kept = (folder / MANIFEST_JSON).read_bytes(), {p.name: p.read_bytes() for p in folder.iterdir()}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    seen = []
    for k in range(1, RENAMES + 2):
        for p in folder.iterdir():  # the old manifest again, as the kill found it
            p.unlink()
        for name, data in kept[1].items():
            (folder / name).write_bytes(data)
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(corpus_copy), str(new), str(k)], env=env, capture_output=True, text=True
        )
        assert child.returncode == -signal.SIGKILL, child.stderr
        got = _seen(corpus_copy)
        assert got in (old, want), (k, got)
        assert int(_exported(corpus_copy, tmp_path / f"x{k}", capsys)) == got[2]
        seen.append(got == want)
        # the rerun: the new manifest, its entries file and nothing else (no temp file, no old entries)
        write_manifest(
            Corpus(corpus_copy),
            load_manifest(new).model_copy(update={"name": "m"}),
            entries_file(new).read_bytes(),
            overwrite=True,
        )
        assert _seen(corpus_copy) == want
        assert sorted(p.name for p in folder.iterdir()) == sorted([MANIFEST_JSON, entries_file(new).name]), k
    assert seen == [False] * RENAMES + [True]  # killed before its commit: the old; after: the new


def test_the_entries_file_is_named_by_its_bytes_and_a_create_does_not_clobber(corpus_copy: Path) -> None:
    folder = Path(curate(corpus_copy, "m", "true"))
    data = entries_file(folder).read_bytes()
    assert entries_file(folder).name == entries_name(data) == load_manifest(folder).entries
    with pytest.raises(FileExistsError, match="already exists"):
        write_manifest(Corpus(corpus_copy), load_manifest(folder), b"other bytes")
    assert sorted(p.name for p in folder.iterdir()) == sorted([MANIFEST_JSON, entries_name(data)])  # its own swept


def test_a_manifest_naming_a_file_outside_its_entries_is_refused(corpus_copy: Path) -> None:
    folder = Path(curate(corpus_copy, "m", "true"))
    body = (folder / MANIFEST_JSON).read_text().replace(load_manifest(folder).entries, "../../catalog/x.parquet")
    (folder / MANIFEST_JSON).write_text(body)
    with pytest.raises(ValueError, match="not an entries file name"):
        entries_file(folder)
