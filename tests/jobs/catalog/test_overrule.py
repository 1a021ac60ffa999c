"""`eidata curate --include-verdict CODE` overrules any verdict by its code, an ingest one included (issue 69: curate
refused every code but the verdict step's), the tier computed again from the episode's other verdicts; a catalog built
before verdicts were kept says to rebuild it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.curate import cli_curate, curate
from jobs.catalog.manifest_read import entries_file
from jobs.catalog.overrule import VerdictChoice
from jobs.catalog.query import run_query
from schemas.corpus import tier_fields
from schemas.qa import Finding
from schemas.tiers import QualityTier, TierVerdict
from tests.fixtures.corpus import episode, write_dataset

TRACKING = Finding(code="qa_tracking_corr", tier=QualityTier.low, value=0.2, threshold=0.3, message="corr 0.20 < 0.30")
SIM = TierVerdict(tier=QualityTier.low, reason="a simulation", code="source_simulation")
FAILED = TierVerdict(tier=QualityTier.low, reason="failed episode (success=False)", code="quality_failed")
UNITS = TierVerdict.note("joint units: rad", "units")


def _kept(uid: str, *verdicts: TierVerdict) -> dict:
    return episode(12, "pick", uid, "franka", **tier_fields(QualityTier.high, [UNITS, *verdicts]))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("overrule")
    eps = [
        _kept("rig/arm/clean"),
        _kept("rig/arm/tracking", TRACKING.verdict()),  # ingest's judging lowered it
        _kept("rig/arm/twice", TRACKING.verdict(), FAILED),  # two reasons: one overruled leaves the other
        _kept("rig/arm/sim", SIM),  # its adapter's verdict
    ]
    write_dataset(root / "datasets/rig/arm", "franka", eps)
    rebuild_catalog(Corpus(root))
    return root


def _tiers(root: Path, name: str) -> dict[str, str]:
    entries = pq.read_table(entries_file(root / "manifests" / name)).to_pylist()
    return {e["episode_uid"].rsplit("/", 1)[1]: e["tier"] for e in entries}


def test_an_ingest_verdict_is_overruled_by_eidata_curate_by_its_code(corpus: Path) -> None:
    rows = run_query(corpus, "SELECT episode_uid, tier, tier_codes, tier_levels, default_tier FROM episodes")
    by_uid = {r["episode_uid"].rsplit("/", 1)[1]: r for r in rows.to_pylist()}
    assert by_uid["tracking"]["tier"] == "low" and by_uid["tracking"]["default_tier"] == "high"
    assert by_uid["tracking"]["tier_codes"] == ["qa_tracking_corr", "units"]  # the reason that set the tier first
    assert by_uid["tracking"]["tier_levels"] == ["low", "high"]
    base = {"root": str(corpus), "where": "true", "balance": "none", "val_fraction": 0.0}
    assert cli_curate(argparse.Namespace(**base, name="as_judged")) == 0
    assert _tiers(corpus, "as_judged") == {"clean": "high", "tracking": "low", "twice": "low", "sim": "low"}
    args = argparse.Namespace(**base, name="overruled", include_verdict=["qa_tracking_corr"], exclude_verdict=[])
    assert cli_curate(args) == 0
    assert _tiers(corpus, "overruled") == {"clean": "high", "tracking": "high", "twice": "low", "sim": "low"}
    both = VerdictChoice(include=("qa_tracking_corr", "quality_failed", "source_simulation"))
    assert set(_tiers(Path(curate(corpus, "all", "true", verdicts=both)).parents[1], "all").values()) == {"high"}


def test_an_excluded_code_of_an_adapter_leaves_its_episodes_out(corpus: Path) -> None:
    out = curate(corpus, "no_sim", "true", verdicts=VerdictChoice(exclude=("source_simulation",)))
    assert sorted(_tiers(Path(out).parents[1], "no_sim")) == ["clean", "tracking", "twice"]


def test_a_catalog_built_before_verdicts_were_kept_says_to_rebuild(corpus: Path, tmp_path: Path) -> None:
    import shutil

    old = tmp_path / "old"
    shutil.copytree(corpus, old)
    for part in (old / "catalog/episodes").glob("*.parquet"):
        t = pq.read_table(part)
        pq.write_table(t.drop_columns(["default_tier", "tier_codes", "tier_levels"]), part)
    with pytest.raises(ValueError, match=r"predates kept verdicts.*eidata catalog"):
        curate(old, "stale", "true", verdicts=VerdictChoice(include=("qa_tracking_corr",)))
    assert curate(old, "plain", "true")  # without an overrule, the tier the catalog gives


def test_a_code_is_refused_unless_it_is_a_code() -> None:
    with pytest.raises(ValueError, match="not a verdict code"):
        VerdictChoice(exclude=("x') OR true --",))


def test_an_overrule_applies_before_the_filter_and_says_what_it_brought_back(
    corpus: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 79 (review 8, 3c): `--include-verdict` was applied after `--where`, so with `tier = 'high'` the overruled
    episode stayed out, silently. The filter now sees the tier the overrule gives; the count it brought back is said."""
    import logging

    caplog.set_level(logging.INFO, logger="jobs.catalog.curate")
    choice = VerdictChoice(include=("qa_tracking_corr",))
    out = curate(corpus, "high_overruled", "tier = 'high'", verdicts=choice, val_fraction=0.0)
    assert _tiers(Path(out).parents[1], "high_overruled") == {"clean": "high", "tracking": "high"}
    assert "--include-verdict qa_tracking_corr brought back 1 episode(s)" in caplog.text
    out = curate(corpus, "low_overruled", "tier = 'low'", verdicts=choice, val_fraction=0.0)  # no longer low
    assert _tiers(Path(out).parents[1], "low_overruled") == {"twice": "low", "sim": "low"}
