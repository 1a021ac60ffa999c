"""`ingest.steps`: the step list written once. Each step's input type is the previous step's output type (read from
their annotations, so a step put out of order or retyped fails here), every record a step answers is frozen, the judge
answers new records and leaves canonicalization's answer as it was, and `prepare` is canonicalize then judge."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.canonical.canonicalize import canonicalize_spans
from ingest.episode import (
    CanonicalEpisode,
    Evidence,
    JudgedEpisode,
    Natives,
    QuarantinedPart,
    ResampledCamera,
    SpanRejection,
)
from ingest.lerobot.video import VideoCodec
from ingest.qa.judge import judge
from ingest.qa.phase import BehaviourRejected
from ingest.steps import JUDGED, STEPS, Step, WrittenEpisode
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import LINEAGE_KEY
from schemas.tiers import QualityTier
from tests.fixtures.offline import Offline, prepare, prepared, stage
from tests.ingest.qa.planted_raw import ArrayCamera, gr00t_raws


def _types(step: Callable[..., Any]) -> tuple[Any, Any]:
    hints = typing.get_type_hints(step)
    names = list(hints)
    return hints[names[1]], hints["return"]  # (the record it takes, the record it answers)


def chain_breaks(steps: tuple[Step, ...]) -> list[str]:
    """Where a step does not take what the one before answered (the first takes None)."""
    breaks, before = [], type(None)
    for name, step in steps:
        took, gave = _types(step)
        if took is not before:
            breaks.append(f"{name} ({step.__name__}) takes {took}, the step before answers {before}")
        before = gave
    return breaks


def test_each_step_takes_what_the_one_before_answers() -> None:
    assert not chain_breaks(STEPS)
    assert [name for name, _ in STEPS] == ["read", "canonicalize", "judge", "write", "judge"]


def test_the_chain_rule_sees_a_step_out_of_order() -> None:
    read, canonicalize, judged, *rest = STEPS
    broken = chain_breaks((read, judged, canonicalize, *rest))
    assert len(broken) == 3 and broken[0].startswith("judge (judge) takes <class 'ingest.episode.Canonicalized'>")


def _frozen(record: Any) -> bool:
    return dataclasses.is_dataclass(record) and record.__dataclass_params__.frozen  # type: ignore[union-attr]


def test_every_record_a_step_answers_is_frozen() -> None:
    answered = [_types(step)[1] for _, step in STEPS]
    carried = [
        CanonicalEpisode,
        JudgedEpisode,
        Natives,
        Evidence,
        QuarantinedPart,
        SpanRejection,
        WrittenEpisode,
        Offline,
    ]
    thawed = [r.__name__ for r in (*answered, *carried) if not _frozen(r)]
    assert not thawed, f"records the steps pass that can be changed in place: {thawed}"


def test_the_judge_answers_new_records_and_leaves_canonicalizations_as_they_were() -> None:
    raw, spec = gr00t_raws()[0], CanonicalizeSpec()
    made = canonicalize_spans(raw, spec)
    before = [ep.verdicts for ep in made.episodes]
    judged = judge(made, spec)
    assert [ep.verdicts for ep in made.episodes] == before
    assert not any(isinstance(ep, JudgedEpisode) for ep in made.episodes)
    pairs = list(zip(judged.episodes, made.episodes, strict=True))
    assert all(j is not c and j.qa is not None and j.verdicts[: len(c.verdicts)] == c.verdicts for j, c in pairs)
    with pytest.raises(dataclasses.FrozenInstanceError):
        judged.episodes[0].qa = None  # type: ignore[misc]


def test_prepare_runs_the_steps_between_reading_and_writing() -> None:
    assert [name for name, _ in JUDGED.steps] == ["read", "canonicalize", "judge"]
    raw, spec = gr00t_raws()[0], CanonicalizeSpec()
    ours, theirs = prepare(raw, spec), judge(canonicalize_spans(raw, spec), spec)
    assert [ep.uid for ep in ours.episodes] == [ep.uid for ep in theirs.episodes]
    assert [ep.verdicts for ep in ours.episodes] == [ep.verdicts for ep in theirs.episodes]
    assert [ep.behaviour.jump_sigma for ep in ours.episodes] == [ep.behaviour.jump_sigma for ep in theirs.episodes]
    filed = [ep.uid.replace("lerobot/", "gr00t/", 1) for ep in ours.episodes]
    assert [ep.uid for ep in prepared(raw, spec, source="gr00t")] == filed


def _blacked(ep: CanonicalEpisode, fraction: float) -> CanonicalEpisode:
    """`ep` with the first `fraction` of each camera's stored frames black."""
    cams = {}
    for key, cam in ep.cameras.items():
        frames = np.stack([f for _, f in cam.source.frames(None, cam.fit)])
        frames[: round(fraction * len(frames))] = 0
        cams[key] = ResampledCamera(ArrayCamera(cam.source, frames, cam.source.timestamps), cam.indices)
    return dataclasses.replace(ep, cameras=cams)


def test_the_staged_lineage_holds_the_verdicts_of_the_cameras_judged_after_the_write(tmp_path: Path) -> None:
    """A real GR00T episode judged high on its arrays, a third of its camera's frames planted black: the camera step
    after the write lowers it on the thumbnails the write took and the lineage staged with it says so; all of them
    black quarantines it, and nothing of it stays staged."""
    [ep] = prepare(gr00t_raws()[0], CanonicalizeSpec()).episodes
    assert ep.tier == QualityTier.high
    staged = stage(tmp_path / "ds", _blacked(ep, 0.3), VideoCodec(threads=1))
    lineage = staged.extra[LINEAGE_KEY]
    assert lineage["tier"] == QualityTier.low and any("qa_cam_degenerate" in r for r in lineage["tier_reasons"])
    assert 0.25 < lineage["behaviour"]["cam_dark_fraction"] < 0.35
    with pytest.raises(BehaviourRejected, match="qa_cam_degenerate"):
        stage(tmp_path / "black", _blacked(ep, 1.0), VideoCodec(threads=1))
    assert not [p for p in (tmp_path / "black").rglob("*") if p.is_file() and p.suffix in (".mp4", ".arrow")]
