"""Relative signals (deltas) are accumulated over each 0.1 s, never sampled (issue 55 item 4).

The physical invariant: what a delta stream moves over an episode (the sum of its increments) is what its 10 Hz
accumulation moves, at 15, 20, 30 and 50 Hz, below 10 Hz, on irregular timestamps, and on a cut part of the grid; the
old sampling kept one row in two at 20 Hz (Isaac Lab IK-Rel: 0.44 where the file has 0.86). Through canonicalization
the declared components are accumulated, the others of the same stream (a gripper) sampled as before, and the
lineage names the accumulated columns with why.
"""

from __future__ import annotations

import numpy as np
import pytest

from adapters.base import EpisodeRef, RawEpisode, Relative, Stream
from ingest.canonical import resample as rs
from ingest.canonical.store import lineage
from schemas.tiers import QualityTier
from tests.fixtures.offline import prepared

RNG = np.random.default_rng(55)


@pytest.mark.parametrize("hz", [15, 20, 30, 50, 5, 10])
def test_the_sum_over_an_episode_is_kept_at_any_rate(hz: int) -> None:
    t = np.arange(int(8.7 * hz)) / hz
    deltas = RNG.normal(0.01, 0.02, (len(t), 6))
    grid = rs.make_grid(0.0, t[-1])
    acc = rs.accumulate(t, deltas, grid)
    assert acc.shape == (len(grid), 6)
    np.testing.assert_allclose(acc.sum(0), deltas.sum(0), rtol=0, atol=1e-12)
    if hz > 10:  # sampling (what resampling did to deltas before) loses the rows between the grid times
        sampled = rs.resample_linear(t, deltas, grid).sum(0)
        assert np.abs(sampled - deltas.sum(0)).max() > 0.05


def test_aligned_rates_sum_whole_samples_and_a_15_hz_stream_is_spread_evenly() -> None:
    t20 = np.arange(40) / 20
    acc = rs.accumulate(t20, np.arange(40.0), rs.make_grid(0, t20[-1]))
    np.testing.assert_allclose(acc, np.arange(40.0).reshape(20, 2).sum(1))  # frame k: rows 2k and 2k + 1
    t15 = np.arange(30) / 15
    acc = rs.accumulate(t15, np.ones(30), rs.make_grid(0, t15[-1]))
    np.testing.assert_allclose(acc[:-1], 1.5)  # never 2, 1, 2, 1: each frame moves 0.1 s worth
    assert acc.sum() == pytest.approx(30)
    t5 = np.arange(10) / 5
    acc = rs.accumulate(t5, np.ones(10), rs.make_grid(0, t5[-1]))
    np.testing.assert_allclose(acc[:-1], 0.5)  # each 0.2 s increment split over the two frames it spans, not 1, 0, 1
    assert acc[-1] == 1.0  # the last frame takes the whole of the last sample, which starts in it: the sum is kept


def test_irregular_timestamps_and_parts_of_the_grid_keep_their_sums() -> None:
    t = np.sort(np.concatenate([[0.0], RNG.uniform(0, 6.0, 300)]))
    t[100:104] = t[100]  # a duplicated time: the last sample there wins, as everywhere in resample
    d = RNG.normal(size=(len(t), 3))
    kept = np.append(t[1:] != t[:-1], True)
    grid = rs.make_grid(0.0, t[-1])
    acc = rs.accumulate(t, d, grid)
    np.testing.assert_allclose(acc.sum(0), d[kept].sum(0), atol=1e-9)
    a, b = 11, 37  # frames [a, b): what the stream moves over [grid[a], grid[b]), whole samples at the ends split
    inside = d[kept][(t[kept] >= grid[a]) & (t[kept] < grid[b])].sum(0)
    step = np.median(np.diff(t[kept]))
    assert np.abs(acc[a:b].sum(0) - inside).max() < 2 * np.abs(d).max() * (1 + 0.1 / step)


def test_a_nan_increment_spoils_only_the_frames_its_step_overlaps() -> None:
    t = np.arange(60) / 20
    d = np.ones(60)
    d[23] = np.nan  # 1.15 .. 1.2 s: frame 11 only
    acc = rs.accumulate(t, d, rs.make_grid(0, t[-1]))
    assert np.flatnonzero(np.isnan(acc)).tolist() == [11]
    assert np.nansum(acc) == 58  # the frame holding the NaN holds its neighbour too: both unknown


def _raw(hz: float) -> RawEpisode:
    t = np.arange(int(6 * hz)) / hz
    moves = np.column_stack([0.01 * np.sin(t), 0.02 * np.cos(t), np.full(len(t), 0.003)])
    gripper = np.where(t < 3, -1.0, 1.0)[:, None]
    why = "planted: components 0-2 are end-effector deltas"
    action = Stream(t, np.hstack([moves, gripper]), relative=Relative((0, 1, 2), why))
    ref = EpisodeRef(adapter="arrays", source="arrays", subset="planted", raw_id=f"demo_{hz:g}", paths=("x.hdf5",))
    return RawEpisode(
        ref=ref,
        robot_type=None,
        embodiment="unknown",
        tier=QualityTier.high,
        native_fps=hz,
        states={"joints": Stream(t, np.column_stack([np.sin(t), np.cos(2 * t)]))},
        actions={"actions": action},
    )


@pytest.mark.parametrize("hz", [15, 20, 30, 50])
def test_through_canonicalization_deltas_are_summed_and_the_gripper_sampled(hz: float) -> None:
    raw = _raw(hz)
    [ep] = prepared(raw)
    a = raw.actions["actions"].values
    names = ep.natives.action_names
    cols = [names.index(f"actions.{i}") for i in range(4)]
    np.testing.assert_allclose(ep.natives.action[:, cols[:3]].sum(0), a[:, :3].sum(0), rtol=1e-5)
    grip = ep.natives.action[:, cols[3]]
    assert set(np.unique(grip)) == {-1.0, 1.0}  # held, never summed nor blended
    kept = lineage(ep).native_accumulated
    assert kept == {f"actions.{i}": "planted: components 0-2 are end-effector deltas" for i in range(3)}
    assert "actions.3" in ep.natives.discrete and not set(kept) & set(ep.natives.discrete)


def test_relative_components_must_lie_in_the_stream() -> None:
    with pytest.raises(ValueError, match=r"relative components \(7,\) outside the stream's 7"):
        Stream(np.arange(3.0), np.zeros((3, 7)), relative=Relative((7,), "x"))
