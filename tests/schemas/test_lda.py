"""The LDA export's contract (`schemas/lda.py`)."""

from __future__ import annotations

from schemas.lda import (
    ACTION_PARTS,
    ACTION_PARTS_OF,
    HAND_WIDTH_ACTION,
    HAND_WIDTH_STATE,
    LAYOUT_TAGS,
    LAYOUTS,
    STATE_PARTS,
    column_names,
    part_offset,
)


def test_the_blocks_and_their_names() -> None:
    assert (HAND_WIDTH_STATE, HAND_WIDTH_ACTION) == (76, 79)
    for parts, width in ((STATE_PARTS, HAND_WIDTH_STATE), (ACTION_PARTS, HAND_WIDTH_ACTION)):
        names = column_names(parts)
        assert len(names) == len(set(names)) == 2 * width
        assert all(len(n) == w for _, w, n, _ in parts)
    assert part_offset(STATE_PARTS, "mano_hand") == slice(7, 70)
    assert column_names(STATE_PARTS)[7] == "left.mano_hand.wrist.x"


def test_layouts_name_ldas_keys_and_never_a_tag_that_zeroes_the_right_arm() -> None:
    assert set(LAYOUTS) == set(LAYOUT_TAGS) and not {"franka", "ur"} & set(LAYOUT_TAGS.values())
    for layout, (hands, parts) in LAYOUTS.items():
        assert hands == ("left", "right") and set(parts) <= {p for p, *_ in STATE_PARTS}
        assert set(ACTION_PARTS_OF.get(layout, parts)) <= set(parts)
