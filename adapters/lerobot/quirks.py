"""An episode's own quirks (`metadata["episode_quirks"]`, as `adapters.lerobot.episode` first writes them), added by
the steps that run after the reader: recorded poses, RoboCOIN's and BEHAVIOR-1K's annotations. One place so the key
and its form (dumped `Quirk`s, appended, never replaced) are written once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from adapters.base import RawEpisode
from schemas.quirks import Quirk


def noted(raw: RawEpisode, quirks: Iterable[Quirk]) -> RawEpisode:
    """`raw` with `quirks` appended to its episode quirks (`raw` itself when there is none)."""
    found = [q.model_dump() for q in quirks]
    if not found:
        return raw
    return replace(raw, metadata={**raw.metadata, "episode_quirks": [*raw.metadata.get("episode_quirks", []), *found]})
