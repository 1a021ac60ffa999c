"""`eidata remove CORPUS SOURCE...` (issue 98 item 4; `jobs.ingest.remove`): one command takes a source out of the
corpus, its datasets, catalog and quarantine rows and findings, names the manifests that select its episodes, and
ends its readings' history, so the same source ingested again is a first reading; killed in its catalog's rebuild,
the same command finishes it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import jobs.cli
from jobs.catalog.query import run_query
from tests.fixtures.revisions import NOTTS, episodes, history, spec_of
from tests.processes import run_group

pytestmark = pytest.mark.shared_ray  # tests/ray_scope.py
REPO = Path(__file__).resolve().parents[3]


def test_a_source_removed_leaves_nothing_of_it_and_names_its_manifests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    spec = spec_of(tmp_path, {"columns": NOTTS, "robot": "ur5e"}, broken=True)
    assert jobs.cli.main(["ingest", str(spec)]) == 0
    assert jobs.cli.main(["curate", str(corpus), "--name", "all", "--where", "true"]) == 0
    capsys.readouterr()
    assert jobs.cli.main(["remove", str(corpus), "nope"]) == 2
    assert "the corpus holds no source nope; it holds ['ur5e_logs']" in capsys.readouterr().err
    killed = [sys.executable, "-m", "tests.jobs.ingest.crash_reread", "mid-catalog", "remove", str(corpus), "ur5e_logs"]
    crashed = run_group(killed, timeout=300, cwd=REPO, capture_output=True)  # the history says removed already
    assert crashed.returncode == -9, (crashed.returncode, crashed.stderr[-2000:])
    assert jobs.cli.main(["remove", str(corpus), "ur5e_logs"]) == 0  # finished, not refused as no source held
    out = capsys.readouterr().out
    assert "manifest all selected 1 of their episodes: remake it with `eidata curate`" in out, out
    assert run_query(corpus, "SELECT count(*) n FROM episodes").to_pylist() == [{"n": 0}]
    assert run_query(corpus, "SELECT count(*) n FROM quarantine").to_pylist() == [{"n": 0}]
    assert not list((corpus / "datasets").iterdir()) and not list((corpus / "job").glob("re*.json"))
    assert history(corpus)[-1] == {"source": "ur5e_logs", "removed": True}
    spec = spec_of(tmp_path, {"columns": NOTTS, "robot": "ur3e"})  # read again another way: a first reading
    assert jobs.cli.main(["ingest", str(spec)]) == 0
    assert [e["embodiment"] for e in episodes(corpus)] == ["ur3e"]
