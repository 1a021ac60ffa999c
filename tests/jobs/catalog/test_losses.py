"""What a corpus lost, and counts that agree with themselves (issue 59): on a small corpus, every count `eidata
catalog`, the report and `eidata validate` print is compared with a DuckDB query over the catalog; the episodes that
lost their actions are in the reasons table; reasons and notes group (no per-episode figure in their words).

The corpus: a robot dataset (two high episodes whose only tier line is a joint-units note with their frame count, one
demoted to low whose lineage also holds two dead-dim verdicts of one code), a robot eidata has no description of (two
episodes without any action), an EgoDex-like human episode without a tracked hand, an Ego4D clip (video only: no loss),
three quarantined raw episodes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.losses import loss_summary, loss_totals, losses_by_reason
from jobs.catalog.parts import write_quarantine_part
from jobs.catalog.query import run_query
from jobs.report import curation
from jobs.report.page import report_html
from jobs.validate import validate_dataset
from schemas.behaviour_record import BehaviourRecord
from schemas.qa import Finding
from schemas.tiers import QualityTier
from schemas.verdicts import CorpusVerdicts
from tests.fixtures.corpus import episode, quarantine_row, write_dataset


def _units(frames: int) -> str:
    return (
        f"joint units: rad (evidence); share of joint values ({frames} frames) inside the limits: rad 100%, deg 100%, "
        f"range_m100_100 100%, ticks {frames % 3}%"
    )


TRACKING = "qa_tracking_corr: state follows the action with correlation 0.14 < 0.80"
NO_ACTION = (
    "missing actions (has_action=False): no canonical dims (68 native dims and 1 camera(s) kept): no kinematic "
    "description for robot_type 'lingzu_highcam_pi05': natives only"
)


def _dead(column: str) -> Finding:
    return Finding(code="qa_native_dead_dims", tier=QualityTier.low, value=1.0, threshold=0.5, message=f"{column} dead")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("losses")
    rec = BehaviourRecord().model_dump()
    found = [_dead("joint_1"), _dead("joint_2")]
    before = [_units(40), TRACKING]  # a lineage of before issue 69: what ingest said, kept by the verdict step
    dead = CorpusVerdicts(thresholds={}, tier_before=QualityTier.low, reasons_before=before, found=found)
    arm = [
        episode(n, "pick", f"rig/arm/e{k}", "franka", tier_reasons=[_units(n)], tier_notes=[_units(n)], behaviour=rec)
        for k, n in enumerate((36, 45))
    ]
    arm.append(
        episode(
            40,
            "pick",
            "rig/arm/e2",
            "franka",
            tier="low",
            tier_reasons=[*before, *(f.reason() for f in found)],
            tier_notes=[_units(40)],
            behaviour=rec,
            verdicts=dead.model_dump(mode="json"),
        )
    )
    write_dataset(root / "datasets/rig/arm", "franka", arm)
    nothing = [0] * 50
    rig = [
        episode(8, "fold", f"lingzu/rig/e{k}", "franka", mask=nothing, tier="actionless", tier_reasons=[NO_ACTION])
        for k in range(2)
    ]
    write_dataset(root / "datasets/lingzu/rig", "franka", rig, mask=nothing)
    hands = [  # a tracked wrist without fingers is a hand (Aria MPS wrist-and-palm poses); no wrist at all is none
        episode(8, "wipe", "egodex/basic/e0", "human"),
        episode(8, "wipe", "egodex/basic/e1", "human", mask=nothing, tier="actionless"),
    ]
    write_dataset(root / "datasets/egodex/basic", "human", hands)
    clip = episode(10, "cook", "ego4d/clips/v0", "human_video", mask=nothing, tier="actionless")
    write_dataset(root / "datasets/ego4d/clips", "human_video", [clip], mask=nothing)
    bad = [quarantine_row(episode_uid=f"lingzu/rig/q{k}", source="lingzu", subset="rig") for k in range(2)]
    write_quarantine_part(root, [*bad, quarantine_row()], "job-0")
    rebuild_catalog(Corpus(root))
    return root


def _one(root: Path, sql: str) -> int:
    return int(run_query(root, sql).to_pylist()[0]["n"])


QUERIES = {  # each loss, counted straight from the catalog's views
    "quarantined": "SELECT count(*) AS n FROM quarantine",
    "demoted": "SELECT count(*) AS n FROM episodes WHERE tier IN ('low', 'rejected')",
    "without action": "SELECT count(*) AS n FROM episodes WHERE action_kind = 'none'"
    " AND embodiment NOT IN ('human_video', 'human')",
    "without hands": "SELECT count(*) AS n FROM episodes WHERE embodiment = 'human' AND NOT has_hands"
    " AND action_kind = 'none'",
}


def test_losses_lead_biggest_first_and_agree_with_the_catalog(corpus: Path) -> None:
    totals = {t["loss"]: t["episodes"] for t in loss_totals(corpus)}
    assert totals == {"quarantined": 3, "without action": 2, "demoted": 1, "without hands": 1}
    assert totals == {loss: _one(corpus, sql) for loss, sql in QUERIES.items()}
    assert [t["loss"] for t in loss_totals(corpus)][:2] == ["quarantined", "without action"]  # biggest first
    rows = losses_by_reason(corpus)
    lost = [r for r in rows if r["outcome"] == "without action"]  # the episodes that lost their actions are there
    assert [(r["source"], r["episodes"]) for r in lost] == [("lingzu", 2)]
    assert lost[0]["reason"].startswith("missing actions (has_action=False): no canonical dims (# native dims")
    demoted = [r for r in rows if r["outcome"].startswith("demoted")]
    grouped = TRACKING.replace("0.14", "#").replace("0.80", "#")
    dead = [_dead("joint_1").reason(), _dead("joint_2").reason()]
    assert sorted((r["outcome"], r["reason"]) for r in demoted) == [("demoted to low", x) for x in [*dead, grouped]]
    # people read the example's own figures, never # (issue 68); the reason column keeps # so that episodes group
    assert sorted(r["said"] for r in demoted) == [*dead, TRACKING] and "#" not in loss_summary(corpus)
    said = [line.split() for line in loss_summary(corpus).splitlines() if not line.startswith("        ")]
    assert said[1:] == [
        ["3", "quarantined:", "lingzu", "2,", "oxe", "1"],
        ["2", "without", "action:", "lingzu", "2"],
        ["1", "demoted:", "rig", "1"],
        ["1", "without", "hands:", "egodex", "1"],
    ]


def test_report_counts_agree_with_the_catalog_and_with_each_other(corpus: Path) -> None:
    rows = curation.counts_by_dataset(corpus)
    total = {k: sum(r[k] for r in rows) for k in curation.COUNTED}
    assert total["written"] == _one(corpus, "SELECT count(*) AS n FROM episodes")
    for tier in ("high", "low", "actionless", "rejected"):
        assert total[tier] == _one(corpus, f"SELECT count(*) AS n FROM episodes WHERE tier = '{tier}'")
    assert total["quarantined"] == _one(corpus, QUERIES["quarantined"])
    assert total["without_action"] == _one(corpus, QUERIES["without action"]) == 2
    assert total["without_hands"] == _one(corpus, QUERIES["without hands"]) == 1
    flagged = [r for r in curation.episode_rows(corpus) if r["flagged"]]  # the "flagged ones first" list
    assert len(flagged) == total["low"] + total["rejected"] == 1  # the demoted count is the flagged list's
    html = report_html(corpus)
    assert "lost: 3 quarantined, 2 without action, 1 demoted, 1 without hands; 4 datasets, 8 episodes written" in html
    table = re.search(r'<section id="counts".*?<table>(.*?)</table>', html, flags=re.S).group(1)
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table)][1:]
    for k, name in enumerate(curation.COUNTED):
        assert sum(int(c[2 + k]) for c in cells) == total[name], name
    episodes = re.search(r'<section id="episodes".*?</section>', html, flags=re.S).group(0)
    assert "(45 frames)" in episodes  # one episode's row: its own figures (tier_details), not the grouped words


def test_validate_counts_episodes_not_findings(corpus: Path) -> None:
    """Two dead-dim verdicts of one episode: "1 of 3 episodes", not "2 of 3" (it said "126 of 43 episodes")."""
    n = _one(corpus, "SELECT count(DISTINCT episode_uid) AS n FROM verdicts WHERE code = 'qa_native_dead_dims'")
    m = _one(corpus, "SELECT count(*) AS n FROM episodes WHERE dataset = 'datasets/rig/arm'")
    assert (n, m) == (1, 3)
    (dead,) = [q for q in validate_dataset(corpus / "datasets/rig/arm").quirks if q.code == "qa_native_dead_dims"]
    assert dead.message.startswith(f"{n} of {m} episodes -> low: rig/arm/e2: ")


def test_reasons_and_notes_apart_and_free_of_figures(corpus: Path) -> None:
    """Grouping by the first reason or note gives one group per cause, whatever each episode's frame count; the
    figures are kept in tier_details."""
    arm = "FROM episodes WHERE dataset = 'datasets/rig/arm'"
    assert _one(corpus, f"SELECT count(DISTINCT tier_notes[1]) AS n {arm}") == 1  # was 3: one per frame count
    assert _one(corpus, f"SELECT count(*) AS n {arm} AND tier = 'high' AND len(tier_reasons) = 0") == 2  # no reason
    groups = _one(corpus, "SELECT count(DISTINCT coalesce(tier_reasons[1], tier_notes[1], '')) AS n FROM episodes")
    assert groups == 4 < _one(corpus, "SELECT count(*) AS n FROM episodes")  # units, tracking, no action, none
    rows = run_query(corpus, "SELECT tier_reasons, tier_notes, tier_details FROM episodes").to_pylist()
    words = [t for r in rows for t in (*r["tier_reasons"], *r["tier_notes"])]
    assert words and not [t for t in words if re.search(r"(?<![\w-])\d", t)]  # no figure stands alone
    assert sum(1 for r in rows for d in r["tier_details"] if "(45 frames)" in d) == 1  # the figures: in the details


def test_catalog_leads_with_the_losses(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jobs.cli import main

    assert main(["catalog", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert out.index("3 quarantined: lingzu 2, oxe 1") < out.index("without_action")  # the losses first
    (lingzu,) = [line.split() for line in out.splitlines() if line.startswith("lingzu ")]
    assert lingzu[:3] == ["lingzu", "actionless", "2"] and lingzu[4] == "2"  # its 2 episodes without action
