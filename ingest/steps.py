"""Ingest's pure steps, in the order one raw episode passes them: canonicalize (`ingest.canonical`: onto the 10 Hz
grid, cut at gaps, validity and idle ends, measured), then judge (`ingest.qa.judge`: verdicts, the tier they give,
the parts a finding quarantines). The ingest worker runs them between reading (the adapter) and staging (the writer,
with the camera judge's tap); `prepare` runs both for a caller that wants episodes as ingest would write them."""

from __future__ import annotations

from adapters.base import RawEpisode
from ingest.canonical.canonicalize import canonicalize_spans
from ingest.episode import CanonicalEpisode, Canonicalized
from ingest.qa.judge import judge
from schemas.canonicalize import CanonicalizeSpec
from schemas.robots.registry import EmbodimentRegistry


def prepare(
    raw: RawEpisode,
    spec: CanonicalizeSpec | None = None,
    registry: EmbodimentRegistry | None = None,
    *,
    source: str | None = None,
) -> Canonicalized:
    """`raw` canonicalized and judged: its kept episodes, each with its verdicts, and what was rejected, why."""
    spec = spec or CanonicalizeSpec()
    return judge(canonicalize_spans(raw, spec, registry, source=source), spec)


def prepared(
    raw: RawEpisode,
    spec: CanonicalizeSpec | None = None,
    registry: EmbodimentRegistry | None = None,
    *,
    source: str | None = None,
) -> list[CanonicalEpisode]:
    """The kept episodes of `prepare` (an empty list when nothing valid remains)."""
    return prepare(raw, spec, registry, source=source).episodes
