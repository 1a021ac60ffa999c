"""A manifest's normalization statistics (`jobs/export/lerobot_v3/masked_stats.py`) on the tiny corpus (conftest.py:
a Franka dataset and a human one, whose frames hold random values in every dim, the dims outside an embodiment's mask
included): `stats.json` of the masked features equals numpy's statistics of exactly the values whose episode uses the
dim (all frames for a dim no episode uses), count stays the frame count, and the sidecar gives the same per
embodiment with per-dim counts; the episode columns keep lerobot's own per-episode stats; a dim an episode does not
use (but another does) holds the masked median, real values untouched."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.lerobot_format.stats import QUANTILE_KEYS, QUANTILES
from adapters.storage.corpus import Corpus
from jobs.export.lerobot_v3.masked_stats import STATS_BY_EMBODIMENT_PATH, masked_stats
from jobs.export.lerobot_v3.plan import manifest_plan
from jobs.export.lerobot_v3.write import V30Writer
from schemas.canonical import ACTION, HAND_KEYPOINTS, STATE
from schemas.export_layout import ACTION_MASK_COLUMN
from schemas.lerobot_v3 import STATS_PATH_V30


@pytest.fixture(scope="module")
def written(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("masked") / "all"
    plan = manifest_plan(Corpus(tiny_corpus), "all", None)
    assert plan.masked_stats
    writer = V30Writer(out, plan, masked=masked_stats(plan))
    for ref in plan.episodes:
        writer.add(ref)
    writer.finish(plan.splits)
    return out


def _frames(root: Path) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
    data = pq.read_table(sorted((root / "data").rglob("*.parquet")))
    eps = pq.read_table(root / "meta" / "episodes").to_pylist()
    episode = data["episode_index"].to_numpy()
    cols = {k: np.stack(data[k].to_numpy(zero_copy_only=False)) for k in (ACTION, STATE, HAND_KEYPOINTS)}
    mask = np.array([eps[i][ACTION_MASK_COLUMN] for i in episode], dtype=bool)
    return cols, mask, [eps[i]["embodiment"] for i in episode]


def _numpy(values: np.ndarray, used: np.ndarray) -> dict[str, np.ndarray]:
    out: dict[str, list[float]] = {k: [] for k in ("min", "max", "mean", "std", *QUANTILE_KEYS)}
    for d in range(values.shape[1]):
        v = values[used[:, d] if used[:, d].any() else slice(None), d].astype(np.float64)
        for k, x in zip(QUANTILE_KEYS, np.quantile(v, QUANTILES), strict=True):
            out[k].append(float(x))
        out["min"].append(v.min())
        out["max"].append(v.max())
        out["mean"].append(v.mean())
        out["std"].append(v.std())
    return {k: np.array(v) for k, v in out.items()}


def test_stats_json_is_exact_over_the_frames_that_use_each_dim(written: Path) -> None:
    cols, mask, _ = _frames(written)
    assert (~mask).any() and mask.any() and (~mask.any(axis=0)).any()  # padded dims, and dims no episode uses
    stats = json.loads((written / STATS_PATH_V30).read_text())
    for key in (ACTION, STATE):
        want = _numpy(cols[key], mask)
        for stat in (*QUANTILE_KEYS, "min", "max"):
            assert stats[key][stat] == want[stat].tolist(), (key, stat)
        assert np.allclose(stats[key]["mean"], want["mean"], rtol=1e-12) and np.allclose(stats[key]["std"], want["std"])
        assert stats[key]["count"] == [len(mask)]
    # keypoints: the human dataset's slots are real, the Franka's (no hands) are not: only human frames count
    assert stats[HAND_KEYPOINTS]["count"] == [len(mask)] and len(stats[HAND_KEYPOINTS]["q01"]) == 126


def test_the_sidecar_has_each_embodiment_with_counts(written: Path) -> None:
    cols, mask, emb = _frames(written)
    side = json.loads((written / STATS_BY_EMBODIMENT_PATH).read_text())
    assert side["frames"] == len(mask) and set(side["embodiments"]) == {"franka", "human"}
    assert side["all"][ACTION]["count"] == np.where(mask.any(axis=0), mask.sum(axis=0), len(mask)).tolist()
    human = np.array([e == "human" for e in emb])
    got = side["embodiments"]["human"][ACTION]
    want = _numpy(cols[ACTION][human], mask[human])
    used = mask[human].any(axis=0) | ~mask.any(axis=0)
    assert [x for x, u in zip(got["q99"], used, strict=True) if u] == want["q99"][used].tolist()
    assert all(x is None for x, u in zip(got["q99"], used, strict=True) if not u)  # the franka's dims: not human


def test_episode_columns_keep_lerobots_per_episode_stats(written: Path) -> None:
    rows = pq.read_table(written / "meta" / "episodes").to_pylist()
    data = pq.read_table(sorted((written / "data").rglob("*.parquet")))
    action = np.stack(data[ACTION].to_numpy(zero_copy_only=False))
    lo, hi = rows[0]["dataset_from_index"], rows[0]["dataset_to_index"]
    assert rows[0][f"stats/{ACTION}/max"] == action[lo:hi].max(axis=0).tolist()  # every dim, mask or not


def test_a_dim_an_episode_does_not_use_holds_the_masked_median(written: Path, tiny_corpus: Path) -> None:
    """lerobot normalizes every dim of every frame: the padding of one embodiment must not land far outside the
    statistics of another's real values (`masked_stats.py`). Real values are the source's, untouched."""
    cols, mask, _ = _frames(written)
    stats = json.loads((written / STATS_PATH_V30).read_text())
    plan = manifest_plan(Corpus(tiny_corpus), "all", None)
    source = np.concatenate(
        [np.stack(pq.read_table(r.source.data_file(r.episode_index))[ACTION].to_numpy()) for r in plan.episodes]
    )
    somebody = mask.any(axis=0)
    q50, q01, q99 = (np.array(stats[ACTION][k]) for k in ("q50", "q01", "q99"))
    padded = ~mask & somebody
    assert padded.any()
    assert np.array_equal(cols[ACTION][mask], source[mask])  # real values untouched
    assert np.array_equal(cols[ACTION][padded], np.broadcast_to(q50.astype(np.float32), mask.shape)[padded])
    assert np.array_equal(cols[ACTION][:, ~somebody], source[:, ~somebody])  # nobody's dims: as they were
    z = 2 * (cols[ACTION].astype(np.float64) - q01) / np.where(q99 > q01, q99 - q01, 1e-8) - 1
    assert (np.abs(z[padded]) <= 1).all()  # the median lies within [q01, q99]
