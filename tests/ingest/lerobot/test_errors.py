"""The writer's errors: an episode error names dataset, episode, feature and frame in that order (only those given),
keeps the bare reason, and every class is caught by what callers catch (`EpisodeError` / `DatasetError`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.lerobot.errors import (
    DatasetError,
    DtypeError,
    EmptyEpisodeError,
    EpisodeError,
    FrameSizeError,
    NonFiniteError,
    ShapeError,
    TimestampError,
    UnknownFeatureError,
    WriterLockedError,
)


def test_message_names_where_then_why() -> None:
    e = ShapeError("expected (7,), got (6,)", dataset="droid", episode="ep_3", feature="observation.state", frame=12)
    assert str(e) == "dataset droid, episode ep_3, feature 'observation.state', frame 12: expected (7,), got (6,)"
    assert (e.dataset, e.episode, e.feature, e.frame, e.reason) == (
        "droid",
        "ep_3",
        "observation.state",
        12,
        "expected (7,), got (6,)",
    )


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ({}, "no frames"),
        ({"episode": "ep_0"}, "episode ep_0: no frames"),
        ({"feature": "action", "frame": 0}, "feature 'action', frame 0: no frames"),  # frame 0 is a frame
    ],
)
def test_only_the_given_places_are_named(where: dict, text: str) -> None:
    assert str(EpisodeError("no frames", **where)) == text


@pytest.mark.parametrize(
    "cls",
    [UnknownFeatureError, ShapeError, DtypeError, NonFiniteError, TimestampError, FrameSizeError, EmptyEpisodeError],
)
def test_every_episode_error_is_a_value_error_callers_catch(cls: type[EpisodeError]) -> None:
    with pytest.raises(EpisodeError, match="episode e: bad"):
        raise cls("bad", episode="e")
    assert issubclass(cls, ValueError) and not issubclass(cls, DatasetError)


def test_a_locked_dataset_is_a_typed_dataset_error_with_its_holder() -> None:
    e = WriterLockedError(Path("/corpus/datasets/droid"), "4242")
    assert isinstance(e, DatasetError) and isinstance(e, RuntimeError) and not isinstance(e, EpisodeError)
    assert (e.root, e.holder) == (Path("/corpus/datasets/droid"), "4242")
    assert str(e) == "/corpus/datasets/droid: another writer (pid 4242) holds this dataset"
