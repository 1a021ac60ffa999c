"""A full disk under a real ingest job loses no valid episode (issue 38 item 1; the review's 2a lost 2 to 4 of 21
episodes to "No space left on device" quarantine rows and swapped two datasets' order). Three demo sources (those
with two episodes in a dataset and a bad one beside them) are written to a small tmpfs that a ballast file leaves half
the room they need: `eidata ingest` ends with one line naming ENOSPC and exit 75, quarantines nothing for it (every
quarantine row is one the uninterrupted run has too), and once the ballast is gone the rerun gives the uninterrupted
run's dataset files byte for byte, its catalog rows and its quarantine rows."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

import jobs.cli
from jobs.catalog.parts import parquet_files
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.runtime.retry import EXIT_ENVIRONMENT
from jobs.spec import load_spec
from schemas.corpus import QUARANTINE_DIR
from tests.fixtures.tmpfs import fill, small_tmpfs
from tests.jobs.demo_reference import demo_spec, hashes

PAGE = 4096
SOURCES = ("bridge", "agibot", "lerobot")
ONLY = f"source IN {SOURCES}"
CATALOG_SQL = f"SELECT * EXCLUDE (ingested_at) FROM episodes WHERE {ONLY} ORDER BY episode_uid"
QUARANTINE_SQL = (
    f"SELECT source, raw_path, stage, error_class, message, fault FROM quarantine WHERE {ONLY} ORDER BY ALL"
)
ROW = ("source", "raw_path", "stage", "error_class", "message")


def _room(corpus: Path) -> int:
    """What a corpus takes on a tmpfs: its files in whole pages."""
    return sum(math.ceil(p.stat().st_size / PAGE) * PAGE for p in corpus.rglob("*") if p.is_file())


@pytest.mark.shared_ray  # tests/ray_scope.py
def test_a_full_disk_ends_the_job_and_the_rerun_gives_the_uninterrupted_run(
    reference: Path, raw: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with small_tmpfs(tmp_path / "disk", 8 * 1024) as disk:
        path = demo_spec(disk, raw)
        doc = yaml.safe_load(path.read_text())
        doc["sources"] = [s for s in doc["sources"] if s["name"] in SOURCES]
        doc["parallelism"]["environment"] = {"retries": 1, "backoff_s": 0.2}
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        spec = load_spec(path)
        ballast = fill(disk, sum(_room(reference / "datasets" / s) for s in SOURCES) // 2)

        assert jobs.cli.main(["ingest", str(path)]) == EXIT_ENVIRONMENT == 75
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and re.fullmatch(r"error: .*\[Errno 28\] .*No space left on device.*", err[0]), err
        assert "nothing was quarantined for it" in err[0] and "rerun the same command" in err[0]
        subset = {k: v for k, v in hashes(reference).items() if k.startswith(SOURCES)}
        assert hashes(spec.output) != subset  # stopped part way
        expected = {tuple(r[k] for k in ROW) for r in run_query(reference, QUARANTINE_SQL).to_pylist()}
        for part in parquet_files(spec.output, QUARANTINE_DIR):
            for row in pq.read_table(part).to_pylist():
                assert tuple(row[k] for k in ROW) in expected and row["fault"] == "data", row

        ballast.unlink()
        run_ingest(spec, progress=False)
        assert hashes(spec.output) == subset
        assert run_query(spec.output, CATALOG_SQL) == run_query(reference, CATALOG_SQL)
        assert run_query(spec.output, QUARANTINE_SQL) == run_query(reference, QUARANTINE_SQL)
