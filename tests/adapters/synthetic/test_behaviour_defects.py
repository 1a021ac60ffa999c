"""The behaviour-defect planters (`adapters/synthetic/behaviour_defects.py`) on the real GR00T PickNPlace episode 0
(`tests/data/real/gr00t_robot_sim_picknplace`, NVIDIA/Isaac-GR00T @ f4e12be: 44-D float64 state and action at 20 fps,
its 256x256 ego_view frames): each planter changes only what it documents, where it documents it, and the value it
declares (`Planted.expect`) is what a direct measurement of the planted arrays gives; the input stays untouched."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest

import adapters.synthetic.behaviour_defects as plant

N = 160  # the first 8 s of the episode


@pytest.fixture(scope="module")
def real(realdata: Path) -> plant.Episode:
    root = realdata / "gr00t_robot_sim_picknplace"
    table = pq.read_table(root / "data/chunk-000/episode_000000.parquet")
    state = np.asarray(table["observation.state"].to_pylist()[:N])
    action = np.asarray(table["action"].to_pylist()[:N])
    with av.open(str(root / "videos/chunk-000/observation.images.ego_view/episode_000000.mp4")) as c:
        frames = np.stack([f.to_ndarray(format="rgb24") for _, f in zip(range(N), c.decode(video=0), strict=False)])
    return plant.Episode(state, action, frames, 20.0)


def _runs_of_equal(x: np.ndarray) -> int:
    """The longest run of rows equal to the row before them."""
    same = np.all(x[1:] == x[:-1], axis=tuple(range(1, x.ndim)))
    best = run = 0
    for s in same:
        run = run + 1 if s else 0
        best = max(best, run)
    return best


def test_the_real_episode_has_none_of_the_defects(real: plant.Episode) -> None:
    assert (
        _runs_of_equal(real.frames) < 3
        and not np.isnan(real.state).any()
        and (real.frames.max(axis=(1, 2, 3)) > 0).all()
    )


def test_camera_defects_measure_what_they_declare(real: plant.Episode) -> None:
    before = real.frames.copy()
    frozen = plant.frozen_camera(real, seconds=2.0)
    assert _runs_of_equal(frozen.episode.frames) / real.fps == frozen.expect == 2.0
    black = plant.black_frames(real, fraction=0.25)
    assert np.mean(black.episode.frames.max(axis=(1, 2, 3)) == 0) == black.expect == 0.25
    np.testing.assert_array_equal(real.frames, before)  # planters copy
    np.testing.assert_array_equal(frozen.episode.state, real.state)  # only the camera changed


def test_state_defects_measure_what_they_declare(real: plant.Episode) -> None:
    dim = int(np.argmax(np.ptp(real.state, axis=0)))  # the joint that moves most (the right arm's)
    frozen = plant.frozen_state(real, seconds=1.5)
    assert (_runs_of_equal(frozen.episode.state) + 1) / real.fps == pytest.approx(frozen.expect)
    dead = plant.dead_joint(real, dim)
    assert np.ptp(dead.episode.state[:, dim]) == 0 and np.ptp(real.state[:, dim]) > 0 and dead.expect == dim
    upper = float(real.state[:, dim].max())
    sat = plant.saturated_joint(real, dim, upper)
    assert sat.episode.state[:, dim].max() == upper and np.mean(sat.episode.state[:, dim] >= upper) == sat.expect
    assert sat.expect >= 0.95
    jump = plant.jump(real, dim, 0.5)
    diff = np.abs(np.diff(jump.episode.state[:, dim] - real.state[:, dim]))
    assert diff.max() * real.fps == pytest.approx(jump.expect) and np.count_nonzero(diff) == 2  # up, then back
    wrap = plant.wraparound(real, dim, 2 * np.pi)
    assert np.abs(wrap.episode.state[:, dim] - real.state[:, dim]).max() == pytest.approx(wrap.expect)
    nans = plant.nan_values(real, dim, count=3)
    assert np.isnan(nans.episode.state).sum() == nans.expect == 3


def test_episode_level_defects(real: plant.Episode) -> None:
    idle = plant.idle_ends(real, start_s=2.0, end_s=1.0)
    assert len(idle.episode.state) == N + 60 and (idle.episode.state[:40] == real.state[0]).all() and idle.expect == 2.0
    dup = plant.duplicate(real, trim=7)
    assert len(dup.episode.state) == N - 7 and np.abs(dup.episode.state - real.state[7:]).max() < 1e-3
    other = plant.Episode(real.action[::-1].copy(), real.action[::-1].copy(), real.frames, real.fps)
    mixed = plant.not_tracking(real, other)
    np.testing.assert_array_equal(mixed.episode.action, other.action)
    assert set(plant.PLANTERS) == {p.__name__ for p in plant.PLANTERS.values()} and len(plant.PLANTERS) == 11
