"""Normalization statistics of actions and states, per dataset, pooled from `meta/episodes_stats.jsonl`.

A dataset is one (source, subset) and one embodiment, so it gets its own mean/std, pooled exactly (parallel-variance
formula) over the episodes of the run's training split. Dims outside the embodiment mask are set to 0 whatever
their stats say. The statistics are saved with the run (`norm_stats.json`, and in every checkpoint) so eval and a
resumed run normalize exactly as training did.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from ingest.files.atomic import write_text_atomic
from schemas.canonical import ACTION, STATE
from schemas.lerobot import EPISODES_STATS_PATH, read_jsonl
from training.episodes import DataError, SampleIndex

KEYS = (ACTION, STATE)
STD_FLOOR = 1e-6  # constant dims (a gripper that never moves) normalize to 0 instead of dividing by 0


class FeatureNorm(BaseModel):
    model_config = ConfigDict(frozen=True)

    mean: list[float]
    std: list[float]
    count: int


class NormStats(BaseModel):
    """dataset (relative to the corpus) -> feature key -> pooled mean/std."""

    model_config = ConfigDict(frozen=True)

    datasets: dict[str, dict[str, FeatureNorm]]

    def get(self, dataset: str, key: str) -> tuple[np.ndarray, np.ndarray]:
        try:
            f = self.datasets[dataset][key]
        except KeyError:
            raise DataError(f"no normalization statistics for {key!r} of dataset {dataset!r}") from None
        return np.asarray(f.mean, dtype=np.float32), np.maximum(np.asarray(f.std, dtype=np.float32), STD_FLOOR)

    def save(self, path: Path) -> None:
        write_text_atomic(path, self.model_dump_json(indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> NormStats:
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))


def pool(means: np.ndarray, stds: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population std of the union of groups given each group's mean, population std and count."""
    n = counts.sum()
    mean = (counts[:, None] * means).sum(0) / n
    var = (counts[:, None] * (stds**2 + (means - mean) ** 2)).sum(0) / n
    return mean, np.sqrt(np.maximum(var, 0.0))


def compute_stats(index: SampleIndex) -> NormStats:
    wanted: dict[int, set[int]] = {}
    for ep in index.episodes:
        wanted.setdefault(ep.dataset_id, set()).add(ep.episode_index)
    out: dict[str, dict[str, FeatureNorm]] = {}
    for dataset_id, episode_indices in sorted(wanted.items()):
        rel = index.datasets[dataset_id]
        path = index.corpus_root / rel / EPISODES_STATS_PATH
        if not path.is_file():
            raise DataError(f"{path}: missing; normalization needs the per-episode stats")
        rows: dict[str, list[tuple[list[float], list[float], int]]] = {k: [] for k in KEYS}
        seen = set()
        for lineno, obj in read_jsonl(path):
            if int(obj["episode_index"]) not in episode_indices:
                continue
            seen.add(int(obj["episode_index"]))
            for key in KEYS:
                try:
                    s = obj["stats"][key]
                    rows[key].append((s["mean"], s["std"], int(s["count"][0])))
                except (KeyError, IndexError, TypeError) as e:
                    raise DataError(f"{path}:{lineno}: no usable stats for {key!r} ({e})") from e
        missing = sorted(episode_indices - seen)
        if missing:
            raise DataError(f"{path}: no stats for episodes {missing[:5]}")
        out[rel] = {}
        for key in KEYS:
            means, stds, counts = (np.asarray(v, dtype=np.float64) for v in zip(*rows[key], strict=True))
            mean, std = pool(means, stds, counts)
            out[rel][key] = FeatureNorm(mean=mean.tolist(), std=std.tolist(), count=int(counts.sum()))
    return NormStats(datasets=out)


def normalize(x: np.ndarray, mean: np.ndarray, std: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(x - mean) / std on the embodiment's real dims, 0 elsewhere."""
    return np.where(mask, (x - mean) / std, 0.0).astype(np.float32)


def merged(primary: NormStats, extra: NormStats) -> NormStats:
    """`primary` plus the datasets only `extra` knows (eval on datasets the training split never saw)."""
    return NormStats(datasets={**extra.datasets, **primary.datasets})
