"""The data pass of a LeRobot dataset's check (`adapters/lerobot_format/rows.py`): the findings of each episode's
columns, folded into one quirk per code naming every episode; timestamps judged as lerobot judges them (1e-4 s)."""

from __future__ import annotations

import numpy as np

from adapters.lerobot_format.rows import EpisodeFindings, float64_quirk


def _frames(found: EpisodeFindings, ep: int, ts: np.ndarray, tasks: list[int], known: set[int] | None = None) -> set:
    cols = {"timestamp": ts, "frame_index": np.arange(len(ts)), "task_index": np.asarray(tasks)}
    return found.frames(ep, f"data/episode_{ep:06d}.parquet", cols, len(ts), 10.0, known)


def test_clean_rows_give_no_quirk_and_their_tasks() -> None:
    found = EpisodeFindings()
    assert _frames(found, 0, np.arange(5) / 10.0, [0, 0, 1, 1, 1], {0, 1}) == {0, 1}
    assert found.quirks(has_video=True) == []


def test_an_offset_a_jump_and_an_unknown_task_are_each_one_quirk_naming_the_episodes() -> None:
    found = EpisodeFindings()
    _frames(found, 3, np.arange(5) / 10.0 + 0.5, [0] * 5, {0})  # starts at 0.5 s
    _frames(found, 4, np.asarray([0.0, 0.1, 0.25, 0.35, 0.45]), [0] * 5, {0})  # one step of 0.15 s
    _frames(found, 5, np.arange(5) / 10.0, [0, 0, 9, 9, 9], {0})
    _frames(found, 6, np.arange(5) / 10.0 + 0.5, [0] * 5, {0})
    by_code = {q.code: q for q in found.quirks(has_video=True)}
    assert set(by_code) == {"timestamp_offset", "timestamp_sync_violation", "task_index_unknown"}
    assert by_code["timestamp_offset"].episodes == ["3", "6"] and by_code["timestamp_offset"].severity == "error"
    assert by_code["task_index_unknown"].episodes == ["5"] and "[9]" in by_code["task_index_unknown"].message


def test_without_videos_an_offset_is_a_warning() -> None:
    """Nothing is looked up by timestamp in a dataset without videos."""
    found = EpisodeFindings()
    _frames(found, 0, np.arange(3) / 10.0 + 1.0, [0] * 3)
    [q] = found.quirks(has_video=False)
    assert (q.code, q.severity) == ("timestamp_offset", "warning")


def test_float64_features_are_one_warning_and_none_without_them() -> None:
    [q] = float64_quirk({"observation.state", "action"})
    assert q.code == "float64_features" and "action, observation.state" in q.message
    assert float64_quirk(set()) == []
