"""The revision loop on the demo corpus (issue 98, the README's "Revising a corpus"): a manifest curated, one
source's spec changed (EgoDex given a default tier of low), the run stopped before any work naming it,
the dry run saying the same, `--reread` replacing that source's episodes alone, the old manifest refused where it is
used, a new one curated and used."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import jobs.cli
from jobs.catalog.query import run_query
from tests.jobs.demo_reference import hashes

pytestmark = pytest.mark.shared_ray  # tests/ray_scope.py


def test_the_demo_corpus_runs_the_revision_loop(
    reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(reference, corpus)
    spec = yaml.safe_load((reference.parent / "corpus.yaml").read_text())
    spec["output"] = str(corpus)
    (source,) = [s for s in spec["sources"] if s["name"] == "egodex"]
    source["tier"] = "low"
    path = tmp_path / "corpus.yaml"
    path.write_text(yaml.safe_dump(spec))
    before = hashes(corpus)
    readings = "SELECT source, any_value(reading) r, count(*) n FROM episodes GROUP BY 1 ORDER BY 1"
    old = {row["source"]: row for row in run_query(corpus, readings).to_pylist()}
    assert jobs.cli.main(["curate", str(corpus), "--name", "before", "--where", "tier <> 'actionless'"]) == 0
    capsys.readouterr()

    assert jobs.cli.main(["ingest", str(path)]) == 2
    assert "egodex:" in (err := capsys.readouterr().err) and "tier: None -> 'low'" in err, err
    assert jobs.cli.main(["ingest", str(path), "--dry-run", "--no-sample"]) == 2
    assert "a run stops here, exit 2" in capsys.readouterr().out
    assert hashes(corpus) == before  # nothing read or replaced

    assert jobs.cli.main(["ingest", str(path), "--reread", "egodex"]) == 0
    after = hashes(corpus)
    assert {k: v for k, v in after.items() if not k.startswith("egodex/")} == {
        k: v for k, v in before.items() if not k.startswith("egodex/")
    }  # every other source's files as they were
    assert {k for k in after if k.startswith("egodex/")} and after != before
    new = {row["source"]: row for row in run_query(corpus, readings).to_pylist()}
    assert new["egodex"]["r"] != old["egodex"]["r"] and new["egodex"]["n"] == old["egodex"]["n"]
    tiers = run_query(corpus, "SELECT DISTINCT tier FROM episodes WHERE source = 'egodex'").to_pylist()
    assert tiers == [{"tier": "low"}], tiers
    assert {s: r["r"] for s, r in new.items() if s != "egodex"} == {s: r["r"] for s, r in old.items() if s != "egodex"}

    export = ["export", str(corpus), "--format", "gr00t", "--out", str(tmp_path / "gr00t"), "--dry-run", "--manifest"]
    capsys.readouterr()
    assert jobs.cli.main([*export, "before"]) == 1  # made before the re-read: said where it is used
    assert "eidata curate" in capsys.readouterr().err
    assert jobs.cli.main(["curate", str(corpus), "--name", "after", "--where", "tier <> 'actionless'"]) == 0
    assert jobs.cli.main([*export, "after"]) == 0
