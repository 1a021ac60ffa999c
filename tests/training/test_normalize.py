"""Bounded normalization (issue 15 item 5, audit S4): q01/q99 min-max to [-1, 1] with a clip, as GR00T's q99 mode;
constant dims warn and map to 0; the statistics travel with the run."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from schemas.canonical import ACTION, CANONICAL_DIM, STATE
from tests.training.corpus import TEXT_DIM, column_rows
from training.config import PRESETS, DataConfig
from training.episodes import SampleIndex, build_index
from training.errors import DataError
from training.normalize import FeatureNorm, NormStats, compute_stats, constant_dims, normalize, spans

MODEL = PRESETS["tiny"].model.model_copy(update={"text_dim": TEXT_DIM})


def _stats(rows: np.ndarray) -> NormStats:
    """Statistics of one dataset whose training frames are `rows` [T, D], as compute_stats stores them."""
    q = np.quantile(rows, [0.01, 0.99], axis=0)
    f = FeatureNorm(
        mean=rows.mean(0).tolist(), std=rows.std(0).tolist(), count=len(rows), q01=q[0].tolist(), q99=q[1].tolist()
    )
    return NormStats(datasets={"d": {ACTION: f}})


def test_a_near_constant_dim_stays_bounded() -> None:
    rng = np.random.default_rng(0)
    rows = np.stack([rng.normal(size=1000), 0.5 + 1e-5 * rng.normal(size=1000)], axis=1)  # a gripper that hardly moves
    center, half = _stats(rows).get("d", ACTION)
    frame = np.array([[0.0, 0.52]])  # the gripper moves by 0.02 in eval
    out = normalize(frame, center, half, np.ones(2, bool))
    assert np.abs(out).max() <= 1.0  # mean/std with a 1e-6 floor gave ~2000
    inside = normalize(rows, center, half, np.ones(2, bool))
    assert np.abs(inside).max() <= 1.0 and np.mean(np.abs(inside[:, 0]) < 1) > 0.97  # the bulk is not clipped


def test_a_constant_dim_maps_to_0_and_is_said_once_per_dataset(
    manifest: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index = build_index(manifest, "train", MODEL, DataConfig(num_workers=0))
    with caplog.at_level(logging.WARNING, logger="training.normalize"):
        stats = compute_stats(index)
    constant = [r.getMessage() for r in caplog.records if "constant in training" in r.getMessage()]
    # the corpus' franka state fills dims 0..11 (x and x**2); the other masked state dims are constant 0
    arm = next(e for e in index.episodes if index.datasets[e.dataset_id] == "datasets/sim/arm")
    expected = [int(d) for d in np.flatnonzero(arm.action.canonical) if d >= 12]
    said = [m for m in constant if m.startswith("datasets/sim/arm: ")]
    assert expected and len(said) == 1, constant  # one line for the dataset, not one per dim
    assert f"{len(expected)} dims constant" in said[0] and f"{STATE} {len(expected)} dims ({spans(expected)}" in said[0]
    assert f"{ACTION} " not in said[0]  # every real action dim moves
    assert len(constant) == len({m.split(": ", 1)[0] for m in constant})  # at most one line per dataset
    center, half = stats.get("datasets/sim/arm", STATE)
    assert (half[expected] == 0).all()
    x = np.full((1, CANONICAL_DIM), 3.0, np.float32)
    assert (normalize(x, center, half, arm.action.canonical)[0, expected] == 0).all()


def test_constant_dims_are_those_used_and_still() -> None:
    f = FeatureNorm(mean=[0.0] * 5, std=[0.0] * 5, count=9, q01=[0, 1, 2, 0.5, 7], q99=[0, 1.5, 2, 0.5, 7])
    assert constant_dims({ACTION: f}, {ACTION: np.array([1, 1, 1, 1, 0], bool)}) == {ACTION: [0, 2, 3]}
    assert constant_dims({"action.native": f}, {}) == {"action.native": [0, 2, 3, 4]}  # no mask: every dim
    assert spans([0, 2, 3, 4, 9]) == "0, 2-4, 9" and spans([]) == ""


def test_statistics_without_quantiles_are_refused() -> None:
    old = NormStats(datasets={"d": {ACTION: FeatureNorm(mean=[0.0], std=[1.0], count=3)}})  # a pre-q99 run
    with pytest.raises(DataError, match=r"no q01/q99.*start a new run"):
        old.get("d", ACTION)


def test_normalization_stats_pool_the_training_episodes(index: SampleIndex) -> None:
    stats = compute_stats(index)
    for rel in index.datasets:
        eps = [e for e in index.episodes if index.datasets[e.dataset_id] == rel]
        for key in (ACTION, STATE):
            rows = np.concatenate([column_rows(e.data_path, key) for e in eps])
            f = stats.datasets[rel][key]
            np.testing.assert_allclose(f.mean, rows.mean(0), atol=1e-5)
            np.testing.assert_allclose(f.std, rows.std(0), atol=1e-5)
            assert f.count == len(rows)
            # quantiles from the data files themselves (episodes_stats.jsonl has none)
            np.testing.assert_allclose([f.q01, f.q99], np.quantile(rows, [0.01, 0.99], axis=0), atol=1e-6)
