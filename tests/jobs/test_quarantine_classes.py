"""One raw corpus holding good episodes and one episode per corrupt-input class, ingested once on real Ray: each
class is quarantined with its own stage and reason, every good episode is written, nothing is left half-written.

The corpus and the per-class expectations (one table, so a failure names the class) are
`tests/jobs/quarantine_corpus.py`, shared with the same scenario on a bucket (tests/s3/test_quarantine_bucket.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ingest.lerobot.writer_dir import STAGING
from jobs.catalog.query import run_query
from jobs.ingest.report import IngestReport
from schemas.lerobot import EPISODES_PATH, INFO_PATH
from tests.conftest import LocalRun
from tests.jobs.quarantine_corpus import (
    CASES,
    GOOD,
    QUARANTINE_SQL,
    Case,
    check_case,
)

pytestmark = pytest.mark.shared_ray  # the module's jobs run on one Ray (tests/ray_scope.py)


@dataclass
class Ingested:
    raw: Path
    corpus: Path
    report: IngestReport
    quarantine: list[dict[str, Any]]


@pytest.fixture(scope="module")
def ingested(quarantine_local: LocalRun) -> Ingested:
    """The session's run (tests/conftest.py), which the bucket twin compares with."""
    run = quarantine_local
    return Ingested(run.raw, run.corpus, run.report, run_query(run.corpus, QUARANTINE_SQL).to_pylist())


def test_the_table_covers_every_class_once() -> None:
    uids = [u for c in CASES for u in c.uids]
    assert len(uids) == len(set(uids)), "a raw episode may carry one class only"
    assert len({c.name for c in CASES}) == len(CASES) >= 11


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_class_is_quarantined_with_its_reason(ingested: Ingested, case: Case) -> None:
    written = run_query(ingested.corpus, "SELECT episode_uid FROM episodes").column("episode_uid").to_pylist()
    check_case(case, ingested.quarantine, written, str(ingested.raw))


def test_nothing_else_is_quarantined(ingested: Ingested) -> None:
    got = [r["episode_uid"] for r in ingested.quarantine]
    assert len(got) == len(set(got)), "an episode quarantined twice"
    assert set(got) == {u for c in CASES for u in c.uids}


def test_every_good_episode_is_written(ingested: Ingested) -> None:
    rows = run_query(ingested.corpus, "SELECT source, episode_uid FROM episodes ORDER BY ALL").to_pylist()
    by_source: dict[str, set[str]] = {}
    for r in rows:
        by_source.setdefault(r["source"], set()).add(r["episode_uid"])
    assert len(rows) == sum(len(v) for v in GOOD.values())  # one canonical episode per good raw episode
    assert by_source == GOOD


def test_the_report_counts_them(ingested: Ingested) -> None:
    report = ingested.report
    assert report.quarantined == sum(len(c.uids) for c in CASES)
    for source, good in GOOD.items():
        expected = sum(len(c.uids) for c in CASES if c.source == source)
        tally = report.tallies[source]
        assert (tally.written, tally.quarantined) == (len(good), expected), source


def test_nothing_is_left_half_written(ingested: Ingested) -> None:
    corpus = ingested.corpus
    assert not list(corpus.glob(f"datasets/*/*/{STAGING}/*")), "staged episodes left behind"
    datasets = sorted(p.parent.parent for p in corpus.glob(f"datasets/*/*/{INFO_PATH}"))
    assert {d.parent.name for d in datasets} == set(GOOD)  # no dataset of quarantined episodes only
    catalog = run_query(corpus, "SELECT source, subset, count(*) AS n FROM episodes GROUP BY ALL").to_pylist()
    counts = {(r["source"], r["subset"]): r["n"] for r in catalog}
    for d in datasets:
        info = json.loads((d / INFO_PATH).read_text())
        lines = [json.loads(line) for line in (d / EPISODES_PATH).read_text().splitlines() if line.strip()]
        assert len(lines) == info["total_episodes"] == counts[(d.parent.name, d.name)], d
        assert sum(e["length"] for e in lines) == info["total_frames"], d
        for e in lines:
            chunk = e["episode_index"] // info["chunks_size"]
            data = d / info["data_path"].format(episode_chunk=chunk, episode_index=e["episode_index"])
            assert data.is_file(), data
