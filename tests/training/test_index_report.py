"""The index report (training/index_report.py): what a split used and left out, the action kinds, and the episodes
trained on their native command per width, in the summary, `index.json` and `eidata train`'s closing line."""

from __future__ import annotations

from jobs.train import used_and_left_out
from training.index_report import IndexReport


def test_the_report_names_native_widths_kinds_and_skips() -> None:
    r = IndexReport(episodes=6, samples=40)
    r.kinds.update({"native": 4, "canonical": 1, "none": 1})
    r.native_widths.update({34: 1, 7: 3})
    r.demoted = 1
    r.skip("native command 80 wide and state 80 wide: raise model.native_dim", "x/y/z")
    assert r.native_trained == 4 and r.widths() == "34 dims: 1 episodes, 7 dims: 3 episodes"
    summary = r.summary()
    assert "action kinds canonical 1, native 4, none 1" in summary
    assert "4 trained on native actions (34 dims: 1 episodes, 7 dims: 3 episodes)" in summary
    assert "1 without an action but tiered above actionless (routed as actionless)" in summary
    assert "skipped 1: native command 80 wide" in summary and "(e.g. x/y/z)" in summary
    j = r.to_json()
    assert j["native_widths"] == {"7": 3, "34": 1} and j["action_kinds"]["native"] == 4
    assert j["demoted_to_actionless"] == 1 and j["left_out"] == 1
    line = used_and_left_out(r)
    assert line.startswith("train split: 6 episodes used (40 samples), 4 on native actions (34 dims: 1 episodes")
    assert line.endswith("1 left out: 1 native command 80 wide and state 80 wide: raise model.native_dim")


def test_a_run_without_native_actions_says_nothing_of_them() -> None:
    r = IndexReport(episodes=2, samples=5)
    r.kinds["canonical"] = 2
    assert (
        "native" not in r.summary()
        and used_and_left_out(r) == "train split: 2 episodes used (5 samples), none left out"
    )
