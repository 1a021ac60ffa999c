"""The Ego4D narration grammar (schemas/narration.py): `#C` the camera wearer, `#O` another person,
`#unsure` a narrator's doubt, wherever it stands. Clean text keeps every other word, in order."""

from __future__ import annotations

import pytest

from schemas.narration import parse_narration


@pytest.mark.parametrize(
    ("text", "subject", "unsure", "clean"),
    [
        ("#C C picks up the cup from the table", "C", False, "C picks up the cup from the table"),
        ("#O man X hands a knife to C", "O", False, "man X hands a knife to C"),
        ("#c C opens the drawer", "C", False, "C opens the drawer"),  # the tag's case does not matter
        ("#C C cuts the #unsure", "C", True, "C cuts the"),
        ("#C C holds #Unsure  the  bowl ", "C", True, "C holds the bowl"),
        ("#unsure", None, True, ""),
        ("put the lid on the jar", None, False, "put the lid on the jar"),  # no tag: not a narration
        ("#Summary C cooks a meal", None, False, "#Summary C cooks a meal"),  # a word, not a one-letter tag
        ("#C C looks #unsurely at it", "C", False, "C looks #unsurely at it"),  # only the whole word is the flag
    ],
)
def test_tags_flags_and_clean_text(text: str, subject: str | None, unsure: bool, clean: str) -> None:
    parsed = parse_narration(text)
    assert parsed == {"subject": subject, "unsure": unsure, "clean": clean}


@pytest.mark.parametrize("text", ["#C C picks the #unsure cup", "  #O  woman Y talks to C  ", "wipes the table"])
def test_clean_text_keeps_every_other_word_in_order(text: str) -> None:
    words = [w for w in text.split() if w.lower() != "#unsure"]
    if parse_narration(text)["subject"] is not None:
        words = words[1:]  # the tag alone is dropped
    assert parse_narration(text)["clean"].split() == words
