"""Bad input: each error class names the dataset, episode, feature and frame, and leaves nothing of the episode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.lerobot.errors import (
    DtypeError,
    EmptyEpisodeError,
    EpisodeError,
    FrameSizeError,
    NonFiniteError,
    ShapeError,
    TimestampError,
    UnknownFeatureError,
)
from ingest.lerobot.writer import LeRobotWriter
from ingest.lerobot.writer_dir import STAGING
from schemas.canonical import ACTION, STATE
from tests.fixtures.episodes import canonical_frames, canonical_test_features

HEAD = "observation.images.head"


@pytest.fixture
def writer(tmp_path: Path):
    with LeRobotWriter.create(tmp_path / "ds", fps=10, features=canonical_test_features(), robot_type="franka") as w:
        with w.episode(task="a good episode") as ep:  # one committed episode that must survive every failure
            for f in canonical_frames(5):
                ep.add_frame(f)
        yield w


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != "writer.lock"}


def _assert_untouched(w: LeRobotWriter, before: set[str]) -> None:
    assert _files(w.root) == before, "the failed episode left files behind"
    assert not any((w.root / STAGING).iterdir())
    assert w.info.total_episodes == 1 and w.info.total_frames == 5
    assert len((w.root / "meta/episodes.jsonl").read_text().splitlines()) == 1


def _fail_at(w: LeRobotWriter, bad_frame: int, mutate, **add_kw) -> EpisodeError:
    """Feed good frames, then a bad one at `bad_frame`; return the error raised."""
    ep = w.stage("bad episode", label="raw/ep_42")
    frames = list(canonical_frames(bad_frame + 1, seed=3))
    for f in frames[:bad_frame]:
        ep.add_frame(f)
    bad = dict(frames[bad_frame])
    mutate(bad)
    with pytest.raises(EpisodeError) as exc:
        ep.add_frame(bad, **add_kw)
    return exc.value


@pytest.mark.parametrize(
    ("mutate", "cls", "feature"),
    [
        (lambda f: f.__setitem__(STATE, np.zeros(49, np.float32)), ShapeError, STATE),
        (lambda f: f.__setitem__(STATE, np.zeros((50, 1), np.float32)), ShapeError, STATE),
        (lambda f: f.__setitem__(ACTION, np.zeros(50, np.float64)), DtypeError, ACTION),
        (lambda f: f.__setitem__(ACTION, np.zeros(50, np.int64)), DtypeError, ACTION),
        (lambda f: f[STATE].__setitem__(7, np.nan), NonFiniteError, STATE),
        (lambda f: f[ACTION].__setitem__(3, np.inf), NonFiniteError, ACTION),
        (lambda f: f.__setitem__(HEAD, np.zeros((96, 120, 3), np.uint8)), FrameSizeError, HEAD),
        (lambda f: f.__setitem__(HEAD, np.zeros((96, 128, 3), np.float32)), DtypeError, HEAD),
        (lambda f: f.__setitem__(HEAD, np.zeros((96, 128), np.uint8)), ShapeError, HEAD),
        (
            lambda f: f.__setitem__("observation.images.top", np.zeros((8, 8, 3), np.uint8)),
            UnknownFeatureError,
            "observation.images.top",
        ),
        (lambda f: f.pop(ACTION), UnknownFeatureError, ACTION),
    ],
)
def test_bad_value_names_episode_feature_frame(writer: LeRobotWriter, mutate, cls, feature) -> None:
    before = _files(writer.root)
    err = _fail_at(writer, 3, mutate)
    assert type(err) is cls
    assert (err.dataset, err.episode, err.feature, err.frame) == ("ds", "raw/ep_42", feature, 3)
    assert "raw/ep_42" in str(err) and feature in str(err) and "frame 3" in str(err)
    _assert_untouched(writer, before)


@pytest.mark.parametrize(
    ("timestamps", "bad_at", "needle"),
    [
        ([0.0, 0.1, 0.2, 0.2], 3, "non-monotonic"),
        ([0.0, 0.1, 0.2, 0.15], 3, "non-monotonic"),
        ([0.0, 0.1, float("nan")], 2, "not finite"),
        ([0.05, 0.15], 0, "off frame_index/fps"),  # GR00T's one-frame offset
        ([0.0, 0.1, 0.2, 0.31], 3, "off frame_index/fps"),
    ],
)
def test_bad_timestamps(writer: LeRobotWriter, timestamps, bad_at, needle) -> None:
    before = _files(writer.root)
    ep = writer.stage("ts episode", label="raw/ts")
    frames = canonical_frames(len(timestamps))
    with pytest.raises(TimestampError, match=needle) as exc:
        for ts, f in zip(timestamps, frames, strict=True):
            ep.add_frame(f, timestamp=ts)
    assert exc.value.frame == bad_at and exc.value.feature == "timestamp"
    _assert_untouched(writer, before)


def test_timestamps_on_grid_are_accepted(writer: LeRobotWriter) -> None:
    with writer.episode(task="explicit timestamps") as ep:
        for i, f in enumerate(canonical_frames(4)):
            ep.add_frame(f, timestamp=i / 10 + 3e-5)
    assert writer.info.total_episodes == 2


def test_empty_episode_rejected(writer: LeRobotWriter) -> None:
    before = _files(writer.root)
    ep = writer.stage("nothing", label="raw/empty")
    with pytest.raises(EmptyEpisodeError):
        ep.finish()
    _assert_untouched(writer, before)


def test_missing_task_rejected(writer: LeRobotWriter) -> None:
    before = _files(writer.root)
    ep = writer.stage(None, label="raw/notask")
    with pytest.raises(EpisodeError, match="no task"):
        ep.add_frame(next(canonical_frames(1)))
    _assert_untouched(writer, before)


def test_exception_inside_context_discards_episode(writer: LeRobotWriter) -> None:
    before = _files(writer.root)
    with pytest.raises(RuntimeError, match="source broke"), writer.episode(task="interrupted") as ep:
        for i, f in enumerate(canonical_frames(6)):
            if i == 4:
                raise RuntimeError("source broke")
            ep.add_frame(f)
    _assert_untouched(writer, before)


def test_the_writer_goes_on_after_a_bad_episode(writer: LeRobotWriter) -> None:
    _fail_at(writer, 2, lambda f: f[STATE].__setitem__(0, np.nan))
    with writer.episode(task="after the failure") as ep:
        for f in canonical_frames(3):
            ep.add_frame(f)
    assert writer.info.total_episodes == 2 and writer.info.total_frames == 8
