"""`ingest.steps.prepare`: canonicalize then judge, as the ingest worker runs them, for a caller that wants episodes
as ingest would write them."""

from __future__ import annotations

from ingest.canonical.canonicalize import canonicalize_spans
from ingest.qa.judge import judge
from ingest.steps import prepare, prepared
from schemas.canonicalize import CanonicalizeSpec
from tests.ingest.qa.planted_raw import gr00t_raws


def test_prepare_is_canonicalize_then_judge() -> None:
    raw, spec = gr00t_raws()[0], CanonicalizeSpec()
    ours, theirs = prepare(raw, spec), judge(canonicalize_spans(raw, spec), spec)
    assert [ep.uid for ep in ours.episodes] == [ep.uid for ep in theirs.episodes]
    assert [ep.verdicts for ep in ours.episodes] == [ep.verdicts for ep in theirs.episodes]
    assert [ep.behaviour.jump_sigma for ep in ours.episodes] == [ep.behaviour.jump_sigma for ep in theirs.episodes]
    filed = [ep.uid.replace("lerobot/", "gr00t/", 1) for ep in ours.episodes]
    assert [ep.uid for ep in prepared(raw, spec, source="gr00t")] == filed
