"""Ego4D narrations (`adapters/ego4d/narration.py`): the `#C`/`#O`/`#unsure` text conventions, one window around each
narration clipped to its video, overlapping windows merged into one episode, unsure narrations dropped on request."""

from __future__ import annotations

import pytest

from adapters.ego4d import Ego4DAdapter
from adapters.registry import get_adapter
from adapters.synthetic.ego4d import PASSES, Ego4DFixture
from schemas.narration import parse_narration
from tests.adapters.ego4d.conftest import BOTH, narration_of


@pytest.mark.parametrize(
    ("text", "subject", "unsure", "clean"),
    [
        ("#C C picks up the cup", "C", False, "C picks up the cup"),
        ("#O man X hands a knife to C", "O", False, "man X hands a knife to C"),
        ("#C C places the #unsure on the shelf", "C", True, "C places the on the shelf"),
        ("#c C turns on the tap #Unsure", "C", True, "C turns on the tap"),
        ("C looks around", None, False, "C looks around"),
    ],
)
def test_parse_narration(text: str, subject: str | None, unsure: bool, clean: str) -> None:
    assert parse_narration(text) == {"subject": subject, "unsure": unsure, "clean": clean}


def test_windows_are_clipped_around_each_narration(corpus: Ego4DFixture) -> None:
    for ref in get_adapter("ego4d", BOTH).discover(corpus.root):
        video = corpus.video(ref.locator["video_uid"])
        t = narration_of(video, ref)["timestamp_sec"]
        lo, hi = (0.0, video.duration_s)
        if video.clip_uid:
            lo, hi = video.clip_start_frame / video.fps, (video.clip_start_frame + video.clip_frames) / video.fps
        assert ref.locator["window_sec"] == pytest.approx([max(t - 1.0, lo), min(t + 2.0, hi)])


def test_merge_overlapping_makes_one_episode_per_run(corpus: Ego4DFixture) -> None:
    video = corpus.videos[0]
    merged = [r for r in Ego4DAdapter({"merge_overlapping": True}).discover(corpus.root) if video.uid in r.raw_id]
    assert [r.raw_id for r in merged] == [f"{video.uid}/narration_pass_1/00000-00003"]  # windows of 3 s, 1 s apart
    raw = Ego4DAdapter({"merge_overlapping": True}).read(merged[0])
    texts = [lang.text for lang in raw.language if lang.kind == "narration"]
    assert texts == [n["narration_text"] for n in video.narrations["narration_pass_1"]]
    assert raw.metadata["window_sec"] == pytest.approx([0.0, video.duration_s])
    narrow = Ego4DAdapter({"merge_overlapping": True, "window_s": (-0.2, 0.3)}).discover(corpus.root)
    assert len([r for r in narrow if video.uid in r.raw_id]) == 4


def test_drop_unsure_keeps_the_other_ids(corpus: Ego4DFixture) -> None:
    every = {r.raw_id for r in Ego4DAdapter(BOTH).discover(corpus.root)}
    kept = {r.raw_id for r in Ego4DAdapter({**BOTH, "drop_unsure": True}).discover(corpus.root)}
    unsure = {
        f"{v.uid}/{p}/{i:05d}"
        for v in corpus.videos
        for p in PASSES
        for i, n in enumerate(v.narrations[p])
        if "#unsure" in n["narration_text"]
    }
    assert unsure and kept == every - unsure
