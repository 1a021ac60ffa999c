"""`adapters.lerobot.quirks.noted`: a later read step's quirks are appended to the reader's, never replace them."""

from __future__ import annotations

from dataclasses import replace

from adapters.base import EpisodeRef, RawEpisode
from adapters.lerobot.quirks import noted
from schemas.quirks import quirk
from schemas.tiers import QualityTier


def _raw() -> RawEpisode:
    ref = EpisodeRef(adapter="lerobot", source="lerobot", subset="s", raw_id="episode_000000", paths=())
    first = quirk("task_index_unknown", "warning", "from the reader").model_dump()
    return RawEpisode(ref, None, "unknown", QualityTier.high, 10.0, metadata={"episode_quirks": [first]})


def test_quirks_are_appended_after_the_readers() -> None:
    raw = _raw()
    out = noted(raw, [quirk("pose_layout_names", "warning", "later")])
    assert [q["code"] for q in out.metadata["episode_quirks"]] == ["task_index_unknown", "pose_layout_names"]
    assert [q["code"] for q in raw.metadata["episode_quirks"]] == ["task_index_unknown"]  # the input is not changed


def test_no_quirk_leaves_the_episode_as_it_is() -> None:
    raw = _raw()
    assert noted(raw, []) is raw
    bare = replace(raw, metadata={})
    assert noted(bare, [quirk("x", "info", "m")]).metadata["episode_quirks"][0]["code"] == "x"
