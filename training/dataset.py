"""Samples of a manifest split as tensors: history, current and future DINO latents, the action chunk with its
embodiment mask, the state, the text embedding, and the task drawn from the episode tier's routing row.

An item is addressed by `(sample index, global draw number)` (`StreamSampler` below); the task draw is seeded by
(run seed, draw number) alone, so it is the same whichever worker or rank reads the sample, and resuming at a draw
number replays the same tasks. History steps before the episode start repeat the first latent frame, carry zero
actions and have `hist_mask` 0 (padding, not data). An anchor without a future latent (`sample_future` -1) draws only
the tasks that never see it (renormalized within its tier's row); its `fut_latents` repeat the current frame with
`future_mask` 0. Chunk steps past the episode's end repeat the last action (GR00T's edge padding) with `chunk_mask` 0,
so they give no loss. Latents are read as memory-mapped safetensors slices (only the rows needed), a per-worker cache
keeps recent episodes' action/state arrays, and a bucket's files are fetched once into the bounded local cache
(`index.files`, `adapters.storage.corpus_files`).

The batch format (`SAMPLE_KEYS`, `collate`), shared by the dataset, the objective, eval and the benchmark: one dict of
tensors per batch. Every key is stacked from the samples in the same order, so row i of every tensor is sample i; `task`
travels in the batch with the sample it was drawn for.

The sampler (`StreamSampler`): a weighted, infinite, resumable sample stream for one rank. Draw number g (global across
ranks) = position * world_size + rank, so ranks read disjoint draws and together see one stream. Draws come in blocks:
block b is `block` samples drawn with replacement by the sample weights from a generator seeded (seed, b), so every
block (and thus every epoch, rank and position) has its own seed, and the sample at any position is recomputed from
(seed, position) alone. Resuming = starting at the number of samples consumed; nothing else about the sampler needs
saving. Items are `(sample index, g)`: the dataset seeds its per-sample task draw with g.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from safetensors import safe_open
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Sampler

from schemas.tiers import RoutingTable
from training.config import ModelConfig
from training.episode_table import TIER_CODES, EpisodeRecord
from training.episodes import TIERS, SampleIndex
from training.errors import DataError
from training.normalize import NormStats, normalized_episode
from training.routing import NO_FUTURE, draw_task, routing_arrays

TABLE_CACHE = 32  # episodes per worker


class ManifestDataset(torch.utils.data.Dataset):
    def __init__(
        self, index: SampleIndex, stats: NormStats, model: ModelConfig, routing: RoutingTable, *, seed: int = 0
    ) -> None:
        self.index, self.cfg, self.seed = index, model, seed
        self.text_dim = index.text_dim or model.text_dim
        if self.text_dim != model.text_dim:
            raise DataError(f"text embeddings are {self.text_dim} wide, the model expects {model.text_dim}")
        self.probs = routing_arrays(routing)
        table = index.episodes
        missing = {TIER_CODES[int(c)].value for c in np.unique(table.routed)} - set(self.probs)
        if missing:
            raise DataError(f"the manifest's routing table has no row for tier(s) {sorted(missing)}")
        self.stats = stats
        # every statistic a sample will need, now: a missing one names dataset and column (each pair of dataset and
        # action once, in the order of their first episode)
        pairs, first = np.unique(np.stack([table.dataset_id, table.action_id], axis=1), axis=0, return_index=True)
        for dataset_id, action_id in pairs[np.argsort(first)].tolist():
            for key, width in table.actions[action_id].columns():
                if width:
                    stats.get(index.datasets[dataset_id], key)
        self._tables: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def __len__(self) -> int:
        return len(self.index)

    def _table(self, episode_id: int, ep: EpisodeRecord) -> tuple[np.ndarray, np.ndarray]:
        """Normalized, masked (actions, states) [T, A] of one episode, in the model's layout (`training.actions`)."""
        hit = self._tables.get(episode_id)
        if hit is not None:
            self._tables.move_to_end(episode_id)
            return hit
        rel = self.index.datasets[ep.dataset_id]
        out = normalized_episode(self.index.files, ep, self.stats, rel, self.cfg.native_dim)
        self._tables[episode_id] = out
        if len(self._tables) > TABLE_CACHE:
            self._tables.popitem(last=False)
        return out

    def _latents(self, ep: EpisodeRecord, rows: list[int]) -> torch.Tensor:
        def read(path: str) -> torch.Tensor:
            with safe_open(path, framework="pt") as f:
                sl = f.get_slice("latents")
                return torch.cat([sl[r : r + 1] for r in rows])

        return self.index.files.use(ep.latents_path, read)

    def _text(self, ep: EpisodeRecord) -> torch.Tensor:
        if ep.text_path is None:
            return torch.zeros(0, self.text_dim, dtype=torch.bfloat16)

        def read(path: str) -> torch.Tensor:
            with safe_open(path, framework="pt") as f:
                return f.get_tensor("hidden_states")

        return self.index.files.use(ep.text_path, read)

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, torch.Tensor]:
        i, draw = key if isinstance(key, tuple) else (int(key), int(key))
        episode_id = int(self.index.sample_episode[i])
        ep = self.index.episodes[episode_id]
        k, j = int(self.index.sample_anchor[i]), int(self.index.sample_future[i])
        h, chunk = self.cfg.history, self.cfg.chunk
        frames, t = ep.latent_frames, int(ep.latent_frames[k])
        past = [k - s for s in range(h, 0, -1)]  # oldest first
        latents = self._latents(ep, [max(r, 0) for r in past] + [k, j if j >= 0 else k])
        actions, states = self._table(episode_id, ep)
        hist_actions = np.zeros((h, self.cfg.action_dim), np.float32)
        hist_mask = np.array([r >= 0 for r in past], np.float32)
        for s, r in enumerate(past):
            if r >= 0:
                hist_actions[s] = actions[frames[r]]
        steps = np.arange(t, t + chunk)  # rows t .. t+K-1: what was commanded at each (`Timing.commanded`)
        action_mask, state_mask = ep.action.masks(self.cfg.native_dim)
        probs = self.probs[ep.routed.value]
        task = draw_task(probs if j >= 0 else probs * NO_FUTURE, np.random.default_rng([self.seed, draw]))
        return {
            "hist_latents": latents[:h],
            "cur_latents": latents[h],
            "fut_latents": latents[h + 1],
            "hist_actions": torch.from_numpy(hist_actions),
            "hist_mask": torch.from_numpy(hist_mask),
            "state": torch.from_numpy(states[t]),
            "actions": torch.from_numpy(actions[np.minimum(steps, ep.length - 1)]),
            "chunk_mask": torch.from_numpy((steps < ep.length).astype(np.float32)),
            "future_mask": torch.tensor(float(j >= 0)),
            "action_mask": torch.from_numpy(action_mask.astype(np.float32)),
            "state_mask": torch.from_numpy(state_mask.astype(np.float32)),
            "task": torch.tensor(task),
            "tier": torch.tensor(TIERS.index(ep.tier)),
            "dataset": torch.tensor(ep.dataset_id),
            "episode": torch.tensor(episode_id),
            "frame": torch.tensor(t),
            "text": self._text(ep),
        }


# key -> what one sample holds (P = latent_grid^2 raw patches, C = latent width, A = action dims: the 50 canonical,
# then the native block, `training.actions`)
SAMPLE_KEYS = {
    "hist_latents": "[H, P, C] DINO latents of the history frames (bf16/fp16 as stored)",
    "cur_latents": "[P, C] latents at the sample's frame t",
    "fut_latents": "[P, C] latents of the future frame (target)",
    "hist_actions": "[H, A] normalized actions at the history frames (0 before the episode start)",
    "hist_mask": "[H] float 1 for a history step inside the episode, 0 for padding before its start",
    "state": "[A] normalized observation.state at t",
    "actions": "[K, A] normalized action chunk t .. t+K-1 (the last action repeated past the episode's end)",
    "chunk_mask": "[K] float 1 for a chunk step inside the episode, 0 past its end (no loss there)",
    "future_mask": "[] float 1 where fut_latents is a real future frame, 0 for a policy-only anchor at the end",
    "action_mask": "[A] float 1/0: the real dims of the episode's action ([canonical 50 | native block])",
    "state_mask": "[A] float 1/0: the real dims of its state (its native state's width where it trains natively)",
    "task": "[] long task id (schemas.tiers.TASK_IDS), drawn from the tier's routing row",
    "tier": "[] long index into TIERS",
    "dataset": "[] long index into the sample index's dataset list",
    "episode": "[] long index into the sample index's episode list",
    "frame": "[] long frame t in the 10 Hz episode",
}


def collate(samples: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    batch = {k: torch.stack([s[k] for s in samples]) for k in SAMPLE_KEYS}
    batch["text"] = pad_sequence([s["text"] for s in samples], batch_first=True)
    batch["text_mask"] = pad_sequence([torch.ones(len(s["text"]), dtype=torch.bool) for s in samples], batch_first=True)
    return batch


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


BLOCK = 1 << 16


class StreamSampler(Sampler[tuple[int, int]]):
    def __init__(
        self, weights: np.ndarray, *, seed: int, rank: int = 0, world_size: int = 1, start: int = 0, block: int = BLOCK
    ) -> None:
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or not len(w) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("sample weights must be a non-empty 1-D array of non-negative numbers with a positive sum")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.cdf = np.cumsum(w) / w.sum()
        self.last = int(np.flatnonzero(w)[-1])
        self.seed, self.rank, self.world_size, self.start, self.block = seed, rank, world_size, start, block
        self._cached: tuple[int, np.ndarray] | None = None

    def _block(self, b: int) -> np.ndarray:
        if self._cached is None or self._cached[0] != b:
            u = np.random.default_rng([self.seed, b]).random(self.block)
            self._cached = (b, np.minimum(np.searchsorted(self.cdf, u, side="right"), self.last))
        return self._cached[1]

    def draw(self, position: int) -> tuple[int, int]:
        """(sample index, draw number) at this rank's `position` in the stream."""
        g = position * self.world_size + self.rank
        b, offset = divmod(g, self.block)
        return int(self._block(b)[offset]), g

    def epoch(self, position: int) -> float:
        """Passes over the index (all ranks together) made when this rank reaches `position`."""
        return position * self.world_size / len(self.cdf)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        position = self.start
        while True:
            yield self.draw(position)
            position += 1
