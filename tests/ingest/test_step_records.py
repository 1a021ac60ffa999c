"""A record per step (issue 77 item 3): each step's episode record holds only what its step and the ones before made,
so a field the judging sets is no optional field of canonicalization's record, and what is optional is what a source
may not have. The bar: at most `MAX_OPTIONAL` optional fields (`X | None`) on each step's record, counted over every
field it holds (a judged episode carries the canonical one's), where `CanonicalEpisode` held 19 before."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from ingest.episode import CanonicalEpisode, Canonicalized, Judged, JudgedEpisode, Natives
from ingest.steps import CHAIN, EncodedEpisode, WrittenEpisode

MAX_OPTIONAL = 8
STEP_RECORDS = (CanonicalEpisode, JudgedEpisode, EncodedEpisode, WrittenEpisode)


def optional_fields(record: type) -> list[str]:
    """The fields of dataclass `record` (its bases' included) whose type admits None."""
    hints = typing.get_type_hints(record)
    out = []
    for f in dataclasses.fields(record):
        hint = hints[f.name]
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        if hint is type(None) or (union and type(None) in typing.get_args(hint)):
            out.append(f.name)
    return out


def test_each_step_record_has_few_optional_fields() -> None:
    counts = {r.__name__: optional_fields(r) for r in STEP_RECORDS}
    over = {name: fields for name, fields in counts.items() if len(fields) > MAX_OPTIONAL}
    assert not over, f"step records past {MAX_OPTIONAL} optional fields: {over}"


def test_the_count_sees_an_optional_field() -> None:
    @dataclasses.dataclass
    class Planted:
        a: int | None
        b: typing.Optional[str]  # noqa: UP045 (the old spelling counts too)
        c: list[int | None]  # a list that holds None is no optional field
        d: Any = None

    assert optional_fields(Planted) == ["a", "b"]


def test_what_the_judging_sets_is_no_field_of_canonicalizations_record() -> None:
    canonical = {f.name for f in dataclasses.fields(CanonicalEpisode)}
    judged = {f.name for f in dataclasses.fields(JudgedEpisode)} - canonical
    assert judged == {"qa", "qa_config", "behaviour", "camera_checks", "quarantined_parts"}
    assert not optional_fields(JudgedEpisode) or set(optional_fields(JudgedEpisode)) <= canonical
    assert "natives" in canonical and not {"state_native", "action_native_valid"} & canonical  # one record
    assert dataclasses.is_dataclass(Natives)


def test_each_steps_answer_holds_its_own_episode_record() -> None:
    kept = {r: typing.get_args(r.__orig_bases__[0]) for r in (Canonicalized, Judged)}  # `Kept[E]`: its episodes'
    assert kept == {Canonicalized: (CanonicalEpisode,), Judged: (JudgedEpisode,)}
    assert typing.get_type_hints(WrittenEpisode)["episode"] is JudgedEpisode
    assert [name for name, _ in CHAIN.steps] == ["read", "canonicalize", "judge", "write", "judge"]
