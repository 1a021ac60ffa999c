"""What the catalog build indexes about behaviour QA (`jobs.catalog.behaviour`), on a corpus of the real GR00T
PickNPlace episodes written by ingest's path (`tests/ingest/qa/planted_raw.ingest`) plus two planted ones (a
dead right elbow, a copy of episode 0). The build judges nothing: before `eidata verdicts` every episode keeps its
ingest tier, and a rebuild never changes a tier; the `verdicts` view lists the findings behind each tier; the policy
window the episodes were ingested with (stored in their lineage, not read from a spec) names the short episodes in
the `findings` view. The verdict step itself: tests/jobs/verdicts."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.curate import curate
from jobs.catalog.manifest_read import entries_file, load_manifest
from jobs.catalog.overrule import VerdictChoice
from jobs.catalog.query import run_query
from jobs.verdicts.step import run_verdicts
from schemas.behaviour import BehaviourConfig
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import JOB_DIR
from tests.ingest.qa.planted_raw import write_planted_corpus

WINDOW = 200  # frames: two clean episodes (164 and 206 frames at 10 Hz: 4 is shorter) fall short of it


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    write_planted_corpus(root, CanonicalizeSpec(behaviour=BehaviourConfig(policy_window_frames=WINDOW)))
    (root / JOB_DIR).mkdir()  # a spec saying otherwise is not read: the thresholds ride with the episodes
    (root / JOB_DIR / "spec.yaml").write_text("canonicalize:\n  behaviour:\n    policy_window_frames: 1\n")
    rebuild_catalog(Corpus(root))
    return root


def tiers(corpus: Path) -> dict[str, str]:
    return {
        r["episode_uid"]: r["tier"] for r in run_query(corpus, "SELECT episode_uid, tier FROM episodes").to_pylist()
    }


def test_the_build_judges_nothing_and_a_rebuild_keeps_every_tier(corpus: Path) -> None:
    before = tiers(corpus)
    copy = next(u for u in before if u.endswith("/planted_zz_copy_of_0"))
    assert before[copy] == "high"  # a copy waits for the verdict step: the build does not judge it
    run_verdicts(corpus, BehaviourConfig())
    after = tiers(corpus)
    assert after[copy] == "rejected" and {u: t for u, t in after.items() if u != copy} == {
        u: t for u, t in before.items() if u != copy
    } | {u: t for u, t in after.items() if u.endswith("/planted_dead_elbow")}
    rebuild_catalog(Corpus(corpus), rehash=True)
    assert tiers(corpus) == after


def test_verdicts_view_names_value_threshold_and_the_episode_compared_with(corpus: Path) -> None:
    run_verdicts(corpus, BehaviourConfig())
    rows = run_query(corpus, "SELECT * FROM verdicts WHERE tier = 'rejected'").to_pylist()
    (dup,) = rows
    assert dup["code"] == "qa_duplicate" and dup["stage"] == "verdicts"
    assert dup["episode_uid"].endswith("/planted_zz_copy_of_0") and dup["compared_with"].endswith("/episode_000000")
    assert 0 <= dup["value"] <= dup["threshold"] == BehaviourConfig().copy_tolerance
    sql = """SELECT e.episode_uid, e.tier_reasons, list(v.code) AS codes FROM episodes e JOIN verdicts v USING
             (episode_uid) WHERE e.tier <> 'high' GROUP BY ALL"""
    low = run_query(corpus, sql).to_pylist()
    assert len(low) == 2
    for r in low:  # every finding behind a demoted episode's tier is a row of the view
        assert {x.split(":", 1)[0] for x in r["tier_reasons"] if x.startswith("qa_") and ": " in x} <= set(r["codes"])


def test_short_episodes_for_the_policy_window_are_a_dataset_finding(corpus: Path) -> None:
    found = run_query(corpus, "SELECT * FROM findings").to_pylist()
    (short,) = [f for f in found if f["code"] == "qa_short_episodes"]
    lengths = {r["episode_uid"]: r["num_frames"] for r in run_query(corpus, "SELECT * FROM episodes").to_pylist()}
    assert short["threshold"] == 0 and f"policy window of {WINDOW} frames" in short["message"]
    assert sorted(short["episodes"]) == sorted(k for k, n in lengths.items() if n < WINDOW)


def test_curate_follows_overrules_or_adds_to_the_verdicts(corpus: Path) -> None:
    run_verdicts(corpus, BehaviourConfig())

    def selected(name: str, **kw: object) -> dict[str, str]:
        out = curate(corpus, name, "true", overwrite=True, **kw)
        entries = pq.read_table(entries_file(out)).to_pylist()
        return {e["episode_uid"].rsplit("/", 1)[1]: e["tier"] for e in entries}

    default = selected("default")
    assert "planted_zz_copy_of_0" not in default and default["planted_dead_elbow"] == "low" and len(default) == 6
    kept = selected("with_copies", verdicts=VerdictChoice(include=("qa_duplicate", "qa_native_dead_dims")))
    # the copy is back at its ingest tier; the elbow keeps the low its ingest findings gave it (a plateau)
    assert kept["planted_zz_copy_of_0"] == "high" and kept["planted_dead_elbow"] == "low" and len(kept) == 7
    m = load_manifest(corpus / "manifests" / "with_copies")
    assert m.include_verdicts == ["qa_duplicate", "qa_native_dead_dims"]
    dropped = selected("no_dead", verdicts=VerdictChoice(exclude=("qa_native_dead_dims",)))
    assert "planted_dead_elbow" not in dropped and len(dropped) == 5
    with pytest.raises(ValueError, match="not a verdict code"):
        VerdictChoice(exclude=("x') OR true --",))
