"""A dataset's quirks (`schemas/quirks.py`): every episode kept as text, the message's list cut with a count."""

from __future__ import annotations

from schemas.quirks import Quirk, listing, quirk


def test_a_quirk_keeps_every_episode_it_concerns_as_text() -> None:
    q = quirk("timestamp_offset", "error", "timestamps do not start at 0", "data/chunk-000", range(12))
    assert isinstance(q, Quirk) and q.episodes == [str(i) for i in range(12)] and q.path == "data/chunk-000"


def test_a_listing_names_the_first_five_then_how_many_more() -> None:
    assert listing(range(3)) == "0, 1, 2"
    assert listing(range(8)) == "0, 1, 2, 3, 4 and 3 more"
    assert listing([], limit=2) == ""
