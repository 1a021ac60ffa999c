"""OakInk2's program: each hand's part of each primitive from the pair-of-intervals keys, the two hands' parts
allowed to overlap, one hand's not; keys that are no such pair named."""

from __future__ import annotations

import pytest

from adapters.oakink2.program import primitives


def _fail(message: str, field: str) -> ValueError:
    return ValueError(f"{field}: {message}")


def test_each_hands_part_of_each_primitive() -> None:
    info = {
        "((0, 50), None)": {"primitive": "hold", "interaction_mode": "lh_main", "primitive_lh": "hold"},
        "(None, (10, 80))": {"primitive": "pour", "interaction_mode": "rh_main"},
        "((50, 90), (80, 90))": {"primitive": "place", "interaction_mode": "bh_main", "primitive_rh": "put"},
    }
    desc = {k: {"seg_desc": f" text {i} "} for i, k in enumerate(info)}
    got = [(p.hand, p.start, p.end, p.text, p.primitive) for p in primitives(info, desc, _fail)]
    assert got == [
        ("left", 0, 50, "text 0", "hold"),
        ("right", 10, 80, "text 1", "pour"),
        ("left", 50, 90, "text 2", "place"),
        ("right", 80, 90, "text 2", "put"),
    ]


def test_one_hands_overlap_or_a_bad_key_is_named() -> None:
    info = {"((0, 50), None)": {}, "((40, 60), None)": {}}
    desc = {k: {"seg_desc": "x"} for k in info}
    with pytest.raises(ValueError, match=r"left hand's primitives overlap: \[0, 50\) and \[40, 60\)"):
        primitives(info, desc, _fail)
    for key in ("(None, None)", "((5, 1), None)", "__import__('os')", "(0, 50)"):
        with pytest.raises(ValueError, match="program_info: key"):
            primitives({key: {}}, {key: {"seg_desc": "x"}}, _fail)
    with pytest.raises(ValueError, match="desc_info"):
        primitives({"((0, 5), None)": {}}, {}, _fail)
