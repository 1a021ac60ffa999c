"""Nothing to do, known before Ray (`jobs.ingest.settled`, `jobs.ingest.job`): a finished corpus is settled with the
count discovery finds, a new raw episode is work, an unchanged rerun from the CLI starts no Ray and writes nothing,
and a run that did not end (no `job/ingest.finished`) is finished by the next one, catalog included."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from adapters.synthetic.egodex import write_egodex
from jobs.ingest.job import FINISHED, run_ingest
from jobs.ingest.settled import settled
from jobs.spec import load_spec
from schemas.corpus import EPISODES_DIR, parquet_files
from tests.fixtures.discovery import discover
from tests.jobs.demo_reference import demo_spec

REPO = Path(__file__).resolve().parents[3]
PROBE = """\
import json, sys
from jobs.cli import main
from jobs.ingest.job import _nothing_to_do
from jobs.spec import load_spec
spec = load_spec(sys.argv[2])
ahead = _nothing_to_do(spec, None)
code = main(sys.argv[1:])
print(json.dumps({"ahead": ahead, "code": code, "ray": "ray" in sys.modules}))
"""


def _copy(reference: Path, raw: dict[str, Path], tmp_path: Path, **roots: Path) -> Path:
    """The finished reference corpus copied under `tmp_path` with a spec writing to it (sources in `roots` moved)."""
    shutil.copytree(reference, tmp_path / "corpus", symlinks=True)
    return demo_spec(tmp_path, {**raw, **roots})


def _files(corpus: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(corpus)): (p.stat().st_mtime_ns, p.read_bytes())
        for sub in ("datasets", "catalog")
        for p in sorted((corpus / sub).rglob("*"))
        if p.is_file() and p.name != ".rebuild.lock"
    }


@pytest.mark.shared_ray  # tests/ray_scope.py: the reference corpus
def test_a_finished_corpus_is_settled_with_what_discovery_finds(reference: Path) -> None:
    spec = load_spec(reference.parent / "corpus.yaml")
    items, _ = discover(spec)  # every readable raw episode, in this process
    assert (reference / FINISHED).exists()  # the reference job ran to its end
    assert settled(spec) == len(items) == 15


@pytest.mark.shared_ray
def test_a_new_raw_episode_is_work(reference: Path, raw: dict[str, Path], tmp_path: Path) -> None:
    egodex = tmp_path / "egodex"
    shutil.copytree(raw["egodex"], egodex)
    spec = load_spec(_copy(reference, raw, tmp_path, egodex=egodex))
    assert settled(spec) == 15  # the same files elsewhere: their uids are relative, still done
    write_egodex(egodex, split="part9", tasks=("basic_pick_place",), episodes_per_task=1, old_episode=False)
    assert settled(spec) is None
    fresh = spec.model_copy(update={"output": tmp_path / "fresh"})
    assert settled(fresh) is None  # no record of any run: not even discovered


@pytest.mark.shared_ray
def test_an_unchanged_rerun_starts_no_ray_and_writes_nothing(
    reference: Path, raw: dict[str, Path], tmp_path: Path
) -> None:
    spec = _copy(reference, raw, tmp_path)
    corpus = tmp_path / "corpus"
    before = _files(corpus)
    run = subprocess.run(
        [sys.executable, "-c", PROBE, "ingest", str(spec)], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out == {"ahead": 15, "code": 0, "ray": False}  # Ray not even imported
    assert "15 raw episodes already done" in run.stdout  # the report a Ray run prints
    assert _files(corpus) == before  # not a file of the datasets or the catalog added, removed or rewritten


@pytest.mark.shared_ray
def test_a_run_that_did_not_end_is_finished_by_the_next(reference: Path, raw: dict[str, Path], tmp_path: Path) -> None:
    """A run killed after its last commit, before its catalog rebuild: every raw episode is done, but the catalog is
    an earlier one's. The next run (no `ingest.finished`) takes the Ray path and rebuilds the catalog."""
    spec = load_spec(_copy(reference, raw, tmp_path))
    corpus = tmp_path / "corpus"
    (corpus / FINISHED).unlink()
    [part] = parquet_files(corpus, EPISODES_DIR)
    full = pq.read_table(part)
    pq.write_table(full.slice(0, 3), part)  # an earlier run's catalog, before the last commits

    report = run_ingest(spec, progress=False)

    assert report.skipped == 15 and sum(t.written for t in report.tallies.values()) == 0
    rebuilt = pq.read_table([str(p) for p in parquet_files(corpus, EPISODES_DIR)])
    assert rebuilt.column("episode_uid").to_pylist() == full.column("episode_uid").to_pylist()
    assert (corpus / FINISHED).exists()
