"""`schemas.json_document.parsed_json`: a trusted JSON document parsed, and one that is not JSON or nests past
Python's recursion refused naming where it was read."""

from __future__ import annotations

import pytest

from schemas.json_document import parsed_json


def test_a_document_is_parsed() -> None:
    assert parsed_json(b'{"a": [1, {"b": null}]}', "ok.json") == {"a": [1, {"b": None}]}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("[" * 100_000 + "]" * 100_000, "deep.json: nested too deep to read"),
        (b'{"a": ', "deep.json: not valid JSON (Expecting value"),
        (b"\xff\xfe{", "deep.json: not valid JSON ("),
    ],
    ids=["deep", "torn", "not-text"],
)
def test_a_bad_document_is_a_value_error_naming_it(text: bytes | str, why: str) -> None:
    with pytest.raises(ValueError) as e:
        parsed_json(text, "deep.json")
    assert str(e.value).startswith(why), e.value
