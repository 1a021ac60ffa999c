"""Normalization statistics of actions and states, per dataset, and the normalization itself.

A dataset is one (source, subset) and one embodiment, so it gets its own statistics over the episodes of the run's
training split. Values are mapped min-max by the 1st and 99th percentiles to [-1, 1] and clipped there, as GR00T's
"q99" mode does (NVIDIA/Isaac-GR00T gr00t/data/transform/state_action.py, `Normalizer.forward`:
2 * (x - q01) / (q99 - q01) - 1, clamped to [-1, 1];
https://github.com/NVIDIA/Isaac-GR00T/blob/main/gr00t/data/transform/state_action.py), so a dim that hardly moves
cannot blow a small change up to hundreds (mean/std with a 1e-6 floor did). A dim whose q01 and q99 agree is
constant in training: it normalizes to 0 (GR00T's min_max mode does the same for min == max), said in one
warning per dataset. q01/q99 are np.quantile over the frames of the dataset's training episodes' data files, as GR00T's
`calculate_dataset_statistics` (gr00t/data/dataset.py) computes them over a dataset's parquet files
(episodes_stats.jsonl may lack quantiles, and per-episode quantiles do not pool), each dim over the episodes whose
mask has it, in bounded memory (`lerobot_format.union_stats`, the same rule as a manifest export's stats); mean/std
are pooled from `meta/episodes_stats.jsonl` for the record. Dims outside the embodiment mask are set to 0 whatever
their stats say. A robot trained on its native command (`training.actions`) gets statistics of `action.native` and
`observation.state.native` over its own dataset's native episodes only (mean/std from the same pass), and its vector
is placed in the model's native block, every other dim 0 and masked. The statistics are saved with the run
(`norm_stats.json`, and in every checkpoint) so eval and a resumed run normalize exactly as training did.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from adapters.lerobot_format.union_stats import UnionStats
from adapters.storage.atomic import atomic_write
from adapters.storage.corpus_files import CorpusFiles
from schemas.actions import ActionSpace
from schemas.canonical import ACTION, CANONICAL_DIM, STATE
from schemas.lerobot import EPISODES_STATS_PATH
from training.actions import place
from training.episode_table import EpisodeRecord
from training.episodes import SampleIndex
from training.errors import DataError

log = logging.getLogger(__name__)

KEYS = (ACTION, STATE)
QUANTILES = (0.01, 0.99)
RANGE_FLOOR = 1e-6  # a q01..q99 range below this is a constant dim (a gripper that never moves): normalized to 0


class FeatureNorm(BaseModel):
    model_config = ConfigDict(frozen=True)

    mean: list[float]
    std: list[float]
    count: int
    q01: list[float] | None = None  # None only in statistics saved before quantile normalization
    q99: list[float] | None = None


class NormStats(BaseModel):
    """dataset (relative to the corpus) -> feature key -> q01/q99 and pooled mean/std."""

    model_config = ConfigDict(frozen=True)

    datasets: dict[str, dict[str, FeatureNorm]]

    def get(self, dataset: str, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(center, half-range) of the q01..q99 interval; half-range 0 marks a constant dim."""
        try:
            f = self.datasets[dataset][key]
        except KeyError:
            raise DataError(f"no normalization statistics for {key!r} of dataset {dataset!r}") from None
        if f.q01 is None or f.q99 is None:
            raise DataError(
                f"normalization statistics of {key!r} of dataset {dataset!r} have no q01/q99 (saved before quantile "
                "normalization): start a new run"
            )
        lo, hi = np.asarray(f.q01, dtype=np.float64), np.asarray(f.q99, dtype=np.float64)
        half = (hi - lo) / 2
        return ((lo + hi) / 2).astype(np.float32), np.where(hi - lo < RANGE_FLOOR, 0.0, half).astype(np.float32)

    def save(self, path: Path) -> None:
        atomic_write(path, self.model_dump_json(indent=1) + "\n")


def pool(means: np.ndarray, stds: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population std of the union of groups given each group's mean, population std and count."""
    n = counts.sum()
    mean = (counts[:, None] * means).sum(0) / n
    var = (counts[:, None] * (stds**2 + (means - mean) ** 2)).sum(0) / n
    return mean, np.sqrt(np.maximum(var, 0.0))


def read_vectors(table: object, key: str, path: Path | str, width: int = CANONICAL_DIM) -> np.ndarray:
    """[T, width] float32 of one vector column of an episode's data table."""
    try:
        col = table.column(key).combine_chunks()  # type: ignore[attr-defined]
        values = col.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
        return values.reshape(len(col), width)
    except (KeyError, ValueError) as e:
        raise DataError(f"{path}: column {key!r} is not a {width}-dim vector column ({e})") from e


def read_episode(files: CorpusFiles, ep: EpisodeRecord) -> list[np.ndarray]:
    """[actions, states] of one episode's data file in the space it trains in (`EpisodeAction.columns`), each
    [length, width] float32 (width 0 where its robot records no state)."""
    cols = ep.action.columns()
    keys = [key for key, width in cols if width]
    try:
        table = files.columns(ep.data_path, keys)
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"{ep.data_path}: cannot read {'/'.join(keys)} (episode {ep.uid}): {e}") from e
    if table.num_rows != ep.length:
        raise DataError(f"{ep.data_path}: {table.num_rows} rows, episodes.jsonl says {ep.length} ({ep.uid})")
    return [
        read_vectors(table, key, ep.data_path, width) if width else np.zeros((ep.length, 0), np.float32)
        for key, width in cols
    ]


def _quantiles(files: CorpusFiles, episodes: list[EpisodeRecord]) -> dict[str, dict[str, np.ndarray]]:
    """column -> its statistics (q01, q99, mean, std, count) over the frames of `episodes` (one dataset's, of one
    space), each dim over the episodes that use it (every frame where none does), exact (`np.quantile`'s linear
    method) in bounded memory (`lerobot_format.union_stats`: one read of the episodes' two columns)."""
    cols = episodes[0].action.columns()
    anyone = [np.logical_or.reduce([ep.action.used()[i] for ep in episodes]) for i in range(2)]
    stats = [UnionStats(width, QUANTILES) for _, width in cols]
    for ep in episodes:
        for s, vectors, used, union in zip(stats, read_episode(files, ep), ep.action.used(), anyone, strict=True):
            s.add(vectors, used | ~union)
    return {key: s.result() for (key, width), s in zip(cols, stats, strict=True) if width}


def _native_stats(files: CorpusFiles, rel: str, episodes: list[EpisodeRecord]) -> dict[str, FeatureNorm]:
    """The statistics of the native command and state of one robot's episodes that train on them."""
    widths = {ep.action.columns() for ep in episodes}
    if len(widths) > 1:
        raise DataError(f"{rel}: native commands of different widths {sorted(widths)} in one dataset")
    out = {}
    for key, s in _quantiles(files, episodes).items():
        out[key] = FeatureNorm(
            mean=s["mean"].tolist(),
            std=s["std"].tolist(),
            count=int(np.max(s["count"])),
            q01=s["q01"].tolist(),
            q99=s["q99"].tolist(),
        )
    return out


def constant_dims(stats: dict[str, FeatureNorm], masks: dict[str, np.ndarray]) -> dict[str, list[int]]:
    """feature key -> its dims whose q01..q99 range is under `RANGE_FLOOR` among those `masks[key]` marks used (every
    dim of a key `masks` lacks): the dims normalized to 0, whose changes training never sees."""
    out = {}
    for key, f in stats.items():
        q01, q99 = np.asarray(f.q01, np.float64), np.asarray(f.q99, np.float64)
        mask = masks.get(key, np.ones(len(q01), dtype=bool))
        if dims := np.flatnonzero(mask & (q99 - q01 < RANGE_FLOOR)).tolist():
            out[key] = dims
    return out


def spans(dims: list[int]) -> str:
    """Sorted dims as runs: [0, 1, 2, 5] -> "0-2, 5"."""
    runs: list[list[int]] = []
    for d in dims:
        if runs and d == runs[-1][1] + 1:
            runs[-1][1] = d
        else:
            runs.append([d, d])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def warn_constant(rel: str, stats: dict[str, FeatureNorm], found: dict[str, list[int]]) -> None:
    """One warning for a dataset's constant dims (`constant_dims`), naming how many per key, which, and their
    values: a dataset's own fact (a gripper that never moves, a state its robot does not record), said once per
    dataset rather than once per dim (the demo's 20-step run printed 81 lines)."""
    if not found:
        return
    parts = []
    for key, dims in found.items():
        values = np.unique(np.asarray(stats[key].q01, np.float64)[dims])
        held = f"all at {values[0]:g}" if len(values) == 1 else f"values {values.min():g}..{values.max():g}"
        parts.append(f"{key} {len(dims)} dims ({spans(dims)}; {held})")
    total = sum(len(d) for d in found.values())
    log.warning(
        "%s: %d dims constant in training, normalized to 0 so any change there is unseen: %s",
        rel,
        total,
        "; ".join(parts),
    )


def compute_stats(index: SampleIndex) -> NormStats:
    out: dict[str, dict[str, FeatureNorm]] = {}
    for dataset_id, rel in enumerate(index.datasets):  # each has an episode in the index
        of_dataset = index.episodes.of_dataset(dataset_id)
        native = [ep for ep in of_dataset if ep.action.space is ActionSpace.native]
        episodes = [ep for ep in of_dataset if ep.action.space is not ActionSpace.native]
        out[rel] = _native_stats(index.files, rel, native) if native else {}
        masks: dict[str, np.ndarray] = {}
        if episodes:
            masks = dict.fromkeys(KEYS, np.logical_or.reduce([ep.action.canonical for ep in episodes]))
            out[rel] |= _canonical_stats(index, rel, episodes)
        warn_constant(rel, out[rel], constant_dims(out[rel], masks))
    return NormStats(datasets=out)


def _canonical_stats(index: SampleIndex, rel: str, episodes: list[EpisodeRecord]) -> dict[str, FeatureNorm]:
    """The statistics of the canonical action and state of one dataset's `episodes`."""
    out: dict[str, FeatureNorm] = {}
    episode_indices = {ep.episode_index for ep in episodes}
    path = index.files.join(rel, EPISODES_STATS_PATH)
    if not index.files.is_file(path):
        raise DataError(f"{path}: missing; normalization needs the per-episode stats")
    rows: dict[str, list[tuple[list[float], list[float], int]]] = {k: [] for k in KEYS}
    seen = set()
    for lineno, obj in index.files.jsonl(path):
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
    quantiles = _quantiles(index.files, episodes)
    for key in KEYS:
        means, stds, counts = (np.asarray(v, dtype=np.float64) for v in zip(*rows[key], strict=True))
        mean, std = pool(means, stds, counts)
        q = np.stack([quantiles[key]["q01"], quantiles[key]["q99"]])
        out[key] = FeatureNorm(
            mean=mean.tolist(), std=std.tolist(), count=int(counts.sum()), q01=q[0].tolist(), q99=q[1].tolist()
        )
    return out


def normalize(x: np.ndarray, center: np.ndarray, half: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(x - center) / half clipped to [-1, 1] on the embodiment's real dims; 0 on constant dims (half 0) and
    elsewhere."""
    live = mask & (half > 0)
    return np.where(live, np.clip((x - center) / np.where(live, half, 1.0), -1.0, 1.0), 0.0).astype(np.float32)


def normalized_episode(
    files: CorpusFiles, ep: EpisodeRecord, stats: NormStats, rel: str, native_dim: int
) -> tuple[np.ndarray, np.ndarray]:
    """(actions, states) [T, CANONICAL_DIM + native_dim] of one episode, normalized by its dataset's statistics of
    the space it trains in and placed where that space sits in the model's vector (0 elsewhere)."""
    out = []
    for (key, width), values, used in zip(ep.action.columns(), read_episode(files, ep), ep.action.used(), strict=True):
        center, half = stats.get(rel, key) if width else (np.zeros(0, np.float32), np.zeros(0, np.float32))
        out.append(place(normalize(values, center, half, used), ep.action.offset, native_dim))
    return out[0], out[1]


def half_ranges(stats: NormStats, rel: str, ep: EpisodeRecord, native_dim: int) -> np.ndarray:
    """[CANONICAL_DIM + native_dim] the half q01..q99 range of each dim of an episode's action (0 where unused): a
    normalized error times it is in the recorded unit."""
    (key, width), _ = ep.action.columns()
    half = stats.get(rel, key)[1] if width else np.zeros(0, np.float32)
    return place(half, ep.action.offset, native_dim)
