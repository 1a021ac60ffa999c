"""`eidata verdicts` (`jobs.verdicts.step`) on a corpus of the five real GR00T PickNPlace episodes (five recordings
of one task by one robot) written by ingest's path, plus two planted episodes: a copy of episode 0 (trimmed by 7 raw
frames, float32, 1e-4 noise) and a dead right elbow. The copy is rejected naming episode 0; the repetitions of the
task are not copies; the tier is the same in the lineage and the catalog; a rerun writes nothing, and a rerun with
other thresholds gives the ingest tier back (reversible without re-ingesting)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adapters.lerobot_format.files import read_jsonl
from adapters.lerobot_format.layout import find_datasets
from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.query import run_query
from jobs.cli import main
from jobs.verdicts.step import run_verdicts
from schemas.behaviour import BehaviourConfig
from schemas.corpus import EpisodeLineage
from schemas.lerobot import EPISODES_PATH
from tests.fixtures.corpus import tier_now
from tests.ingest.qa import gr00t_sample as g

COPY, EARLIER, DEAD = "planted_zz_copy_of_0", "episode_000000", "planted_dead_elbow"


@pytest.fixture(scope="module")
def corpus(planted_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus") / "corpus"  # a copy of the session's (tests/jobs/conftest.py)
    shutil.copytree(planted_corpus, root, copy_function=shutil.copy2)
    rebuild_catalog(Corpus(root))
    return root


def catalog(root: Path) -> dict[str, dict]:
    sql = "SELECT episode_uid, tier, tier_reasons, qa_duplicate_of, qa_duplicate_residual FROM episodes"
    return {r["episode_uid"].rsplit("/", 1)[1]: r for r in run_query(root, sql).to_pylist()}


def lineages(root: Path) -> dict[str, EpisodeLineage]:
    out = {}
    for ds in find_datasets(root):
        for _, line in read_jsonl(ds / EPISODES_PATH):
            lin = EpisodeLineage.of(line)
            out[(lin.episode_uid or "").rsplit("/", 1)[1]] = lin
    return out


def meta_bytes(root: Path) -> dict[str, bytes]:
    return {str(ds): (ds / EPISODES_PATH).read_bytes() for ds in find_datasets(root)}


def test_ingest_alone_judges_no_copy_and_the_catalog_rewrites_no_tier(corpus: Path) -> None:
    rows = catalog(corpus)
    assert rows[COPY]["tier"] == "high" and rows[COPY]["qa_duplicate_of"] is None
    lin = lineages(corpus)
    assert {k: r["tier"] for k, r in rows.items()} == {k: v.tier.value for k, v in lin.items()}
    assert all(v.behaviour_config == BehaviourConfig() for v in lin.values())  # the thresholds ride with the episode
    for ds in find_datasets(corpus):  # every one written, defaults included: a later version may change a default
        for _, line in read_jsonl(ds / EPISODES_PATH):
            assert set(line["eidata"]["behaviour_config"]) == set(BehaviourConfig.model_fields)


def test_copy_rejected_repetitions_kept_one_tier_everywhere(corpus: Path) -> None:
    s = run_verdicts(corpus, BehaviourConfig())
    rows, lin = catalog(corpus), lineages(corpus)
    assert rows[COPY]["tier"] == "rejected" and rows[COPY]["qa_duplicate_of"].endswith(f"/{EARLIER}")
    assert rows[COPY]["qa_duplicate_residual"] <= BehaviourConfig().copy_tolerance
    assert (
        rows[COPY]["tier_reasons"][-1].startswith("qa_duplicate: copy of lerobot/")
        and "residual" in (rows[COPY]["tier_reasons"][-1])
    )
    assert rows[DEAD]["tier"] == "low" and rows[DEAD]["tier_reasons"][-1].startswith("qa_native_dead_dims:")
    clean = [f"episode_{i:06d}" for i in range(g.EPISODES)]
    assert all(rows[k]["tier"] == "high" and rows[k]["qa_duplicate_of"] is None for k in clean), rows
    assert s.copies == 1 and s.judged == {"qa_duplicate": 1, "qa_native_dead_dims": 1}
    assert {k: r["tier"] for k, r in rows.items()} == {k: v.tier.value for k, v in lin.items()}
    v = lin[COPY].verdicts
    assert v is not None and v.thresholds["copy_tolerance"] == 0.1
    # issue 69: the step's finding is kept as a verdict beside ingest's, the stored tier computed from them
    default, kept = lin[COPY].kept_verdicts()
    assert [(k.code, k.tier.value) for k in kept if k.step == "verdicts"] == [("qa_duplicate", "rejected")]
    assert tier_now(lin[COPY]) == lin[COPY].tier and tier_now(lin[COPY], ["qa_duplicate"]) == default
    # the verdicts view: finding, value, threshold and the episode compared with
    sql = "SELECT * FROM verdicts WHERE stage = 'verdicts' ORDER BY code"
    found = run_query(corpus, sql).to_pylist()
    assert [(f["code"], f["tier"]) for f in found] == [("qa_duplicate", "rejected"), ("qa_native_dead_dims", "low")]
    assert found[0]["compared_with"].endswith(f"/{EARLIER}") and found[0]["value"] <= found[0]["threshold"]


def test_rerun_writes_nothing_and_other_thresholds_reverse_the_verdict(corpus: Path) -> None:
    run_verdicts(corpus, BehaviourConfig())
    before = meta_bytes(corpus)
    assert run_verdicts(corpus, BehaviourConfig()).changed == 0 and meta_bytes(corpus) == before
    strict = BehaviourConfig(copy_tolerance=1e-6, dead_dims_share=1.0)
    run_verdicts(corpus, strict)
    rows, lin = catalog(corpus), lineages(corpus)
    assert rows[COPY]["tier"] == "high" and lin[COPY].verdicts is None and rows[COPY]["qa_duplicate_of"] is None
    assert not any(r.startswith("qa_duplicate") for r in rows[COPY]["tier_reasons"])
    run_verdicts(corpus, BehaviourConfig())
    assert meta_bytes(corpus) == before  # back to the same bytes


@pytest.mark.scenario
def test_verification_as_ray_tasks_gives_the_driver_verdicts(corpus: Path) -> None:
    # a low candidate bar: the repetitions become candidates too, so blocks of 2 episodes make many Ray tasks
    cfg = BehaviourConfig(duplicate_candidate_similarity=0.05)
    here = run_verdicts(corpus, cfg, dry_run=True)  # one block: verified in this process
    on_ray = run_verdicts(corpus, cfg, dry_run=True, held=2)  # a task per pair
    assert on_ray.candidates == here.candidates >= 3 and on_ray.copies == here.copies == 1
    assert on_ray.lines == here.lines and on_ray.judged == here.judged


def test_cli_dry_run_prints_and_writes_nothing(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = meta_bytes(corpus)
    assert main(["verdicts", str(corpus), "--copy-tolerance", "0.000001", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would rewrite" in out and meta_bytes(corpus) == before
    assert main(["verdicts", str(corpus / "nothing")]) == 2


def test_one_verdict_of_several_episodes_is_said_once() -> None:
    """Issue 50 item 5: `eidata verdicts` printed the same sentence once per episode (8 times on the real Bridge)."""
    from jobs.verdicts.step import _said

    words = "low: qa_native_dead_dims: native state columns gripper.gripper_open [7] motionless"
    assert _said(["a/s/1"], words) == f"a/s/1 -> {words}"
    line = _said([f"a/s/{i}" for i in range(8)], words)
    assert line == f"8 episodes -> {words}: a/s/0, a/s/1, a/s/2 and 5 more" and line.count("motionless") == 1


def test_the_step_keeps_ingests_notes_apart_and_gives_them_back() -> None:
    """A verdict lowers the tier and adds its reason (said first: it set the tier, issue 68); ingest's notes stay
    notes, a note of the step (tier high) joins them; with no finding left the lineage is ingest's again, notes
    included (issue 59). Issue 69: the step appends its verdicts to ingest's and a rerun replaces them (no tier
    rewritten by hand, no `tier_before`); a lineage of before issue 69 is read through its sentences."""
    from jobs.verdicts.step import _edited
    from schemas.corpus import tier_fields
    from schemas.qa import Finding
    from schemas.tiers import QualityTier, TierVerdict

    unit = "joint units: rad (evidence); share of joint values (40 frames) inside the limits: rad 100%"
    ingest = EpisodeLineage(episode_uid="a/s/0", **tier_fields(QualityTier.high, [TierVerdict.note(unit, "units")]))
    dead = Finding(code="qa_native_dead_dims", tier=QualityTier.low, value=1.0, threshold=0.5, message="j1 dead")
    unjudged = Finding(code="qa_duplicate_unjudged", tier=QualityTier.high, value=70, threshold=64, message="70 alike")
    edited = EpisodeLineage.model_validate(_edited(ingest, [dead, unjudged], BehaviourConfig()))
    assert edited.tier == QualityTier.low and edited.tier_reasons == [dead.reason(), unit, unjudged.reason()]
    assert edited.tier_notes == [unit, unjudged.reason()] and edited.verdicts is not None
    assert [(v.code, v.step) for v in edited.tier_verdicts or []] == [
        ("qa_native_dead_dims", "verdicts"),
        ("units", "ingest"),
        ("qa_duplicate_unjudged", "verdicts"),
    ]
    assert (edited.tier_verdicts or [])[0].figures == {"value": 1.0, "threshold": 0.5}
    again = EpisodeLineage.model_validate(_edited(edited, [unjudged], BehaviourConfig()))  # replaced, not added
    assert again.tier == QualityTier.high and again.tier_reasons == [unit, unjudged.reason()]
    back = EpisodeLineage.model_validate(_edited(edited, [], BehaviourConfig()))
    assert back.to_json() == ingest.to_json()
    old = EpisodeLineage(episode_uid="a/s/0", tier="high", tier_reasons=[unit], tier_notes=[unit])
    migrated = EpisodeLineage.model_validate(_edited(old, [dead], BehaviourConfig()))
    assert migrated.tier == QualityTier.low and migrated.tier_reasons == [dead.reason(), unit]
