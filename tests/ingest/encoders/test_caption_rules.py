"""The rule-based instruction normalizer on the texts our adapters write (Ego4D narrations, EgoDex and AgiBot
instructions, OXE/LeRobot tasks) and on what a VLM answers."""

from __future__ import annotations

import pytest

from ingest.encoders.caption_rules import VERBS, base_form, gerund, gerund_base, normalize_instruction

CASES = [
    # Ego4D narrations (schemas/narration.py): "#C C" the camera wearer, "#O" another person, #unsure, #summary
    ("#C C picks up the cup from the table", "pick up the cup from the table"),
    ("#C C opens the drawer with his left hand", "open the drawer with his left hand"),
    ("#O man X hands a knife to C", "hand a knife to the camera wearer"),
    ("#O woman Y talks to C", "talk to the camera wearer"),
    ("#O A man walks to the door", "walk to the door"),
    ("#c C carries the box", "carry the box"),
    ("#C C washes the plate and puts it in the rack.", "wash the plate and put it in the rack"),
    ("#C C is cutting onions", "cut onions"),
    ("#C C picks the cup #unsure", "pick the cup"),
    ("#C  C   looks around ", "look around"),
    ("#C C sautes onions", "saute onions"),  # an unlisted verb after a removed subject: the -s rule alone
    ("#summary C was cooking in the kitchen", "cook in the kitchen"),
    ("#C C", None),
    ("#O man X", None),
    # instructions as the other adapters write them (demo corpus meta/tasks.jsonl)
    ("Put the lid on the jar.", "put the lid on the jar"),
    ("Pick up the red cup and place it on the plate.", "pick up the red cup and place it on the plate"),
    ("Clear the dining table", "clear the dining table"),
    ("put carrot on plate", "put carrot on plate"),
    ("turn lever vertical to front", "turn lever vertical to front"),
    ("push the red cube to the left", "push the red cube to the left"),
    # third person with a generic subject, plural subjects, coordination
    ("The robot picks up the apple", "pick up the apple"),
    ("A person is folding a towel", "fold a towel"),
    ("hands fold a towel", "fold a towel"),
    ("Both hands are folding a towel", "fold a towel"),
    ("open the drawer then pours water", "open the drawer then pour water"),
    ("hands the cup to the man", "hand the cup to the man"),
    ("press the buttons", "press the buttons"),  # a plural noun is not a verb to convert
    # what a VLM answers: labels, quotes, extra lines, control characters
    ('Instruction: "Pick up the cup."\nThe robot then waits.', "pick up the cup"),
    ("  'Wipe the table!'  ", "wipe the table"),
    ("\x14pick up\ufffd the cup\x00", "pick up the cup"),
    ("TV remote: press the button!", "TV remote: press the button"),
    # EPIC-KITCHENS-100 narrations (real rows of EPIC_100_train.csv): already imperative, or ongoing, or cut off
    ("open door", "open door"),
    ("turn kettle on", "turn kettle on"),
    ("put down cutting board and knife", "put down cutting board and knife"),
    ("still washing courgette", "wash courgette"),
    ("dicing courgette", "dice courgette"),
    ("still stirring vegetables", "stir vegetables"),
    ("take carrots and", "take carrots"),
    ("Picking up the cup.", "pick up the cup"),
    ("cutting board on the table", "cutting board on the table"),  # a thing, not an action
    # missing text
    (None, None),
    ("", None),
    ("   \n ", None),
    ("unspecified", None),
    ("N/A", None),
    ("...", None),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_normalize(text: str | None, expected: str | None) -> None:
    assert normalize_instruction(text) == expected


@pytest.mark.parametrize("text", [t for t, _ in CASES])
def test_normalizing_twice_changes_nothing(text: str | None) -> None:
    once = normalize_instruction(text)
    assert normalize_instruction(once) == once


@pytest.mark.parametrize(
    ("word", "base"),
    [
        ("picks", "pick"),
        ("carries", "carry"),
        ("washes", "wash"),
        ("touches", "touch"),
        ("fixes", "fix"),
        ("goes", "go"),
        ("does", "do"),
        ("has", "have"),
        ("places", "place"),
        ("Opens", "Open"),
    ],
)
def test_base_form_of_third_person(word: str, base: str) -> None:
    assert base_form(word) == base


def test_base_form_rejects_what_is_not_a_third_person_verb() -> None:
    assert [base_form(w) for w in ("pick", "glass", "is", "bus", "cups", "s")] == [None] * 6
    assert base_form("sautes", known_only=False) == "saute" and base_form("sautes") is None


def test_every_listed_verb_round_trips_through_its_gerund() -> None:
    assert {v: gerund_base(gerund(v)) for v in VERBS} == {v: v for v in VERBS}
    assert [gerund(v) for v in ("cut", "place", "tie", "open", "stir")] == [
        "cutting",
        "placing",
        "tying",
        "opening",
        "stirring",
    ]
