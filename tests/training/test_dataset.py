"""ManifestDataset (training/dataset.py) on the test corpus: a sample is what its files hold, history before the
start, tasks drawn within each tier's routing row, rows aligned through a DataLoader.

The batch format (training/dataset.py): `collate` stacks row i of every key from sample i and pads text without
touching it; `random_batch` gives every key the shape and dtype the dataset gives it.

The weighted stream sampler: determinism, resumption, rank sharding, weights.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from safetensors import safe_open
from torch.utils.data import DataLoader

from schemas.canonical import ACTION, CANONICAL_DIM
from schemas.tiers import ALLOWED_TASKS, QualityTier
from tests.fixtures.training import random_batch
from tests.training.corpus import TEXT_DIM, column_rows
from training.config import PRESETS
from training.dataset import SAMPLE_KEYS, ManifestDataset, StreamSampler, collate
from training.episodes import TIERS, SampleIndex
from training.normalize import compute_stats
from training.routing import TASKS_BY_ID


def test_a_sample_is_what_its_files_hold(index: SampleIndex, dataset: ManifestDataset) -> None:
    i = int(np.flatnonzero(index.sample_anchor == 3)[0])  # a sample with a full history
    s = dataset[(i, 123)]
    ep = index.episodes[int(s["episode"])]
    t = int(s["frame"])
    frames = ep.latent_frames
    k = int(np.flatnonzero(frames == t)[0])
    with safe_open(str(ep.latents_path), framework="pt") as f:
        lat = f.get_tensor("latents")
    torch.testing.assert_close(s["cur_latents"], lat[k])
    torch.testing.assert_close(s["hist_latents"], lat[k - 2 : k])
    fut = int(np.flatnonzero(frames >= t + 16)[0])
    torch.testing.assert_close(s["fut_latents"], lat[fut])
    rel = index.datasets[ep.dataset_id]
    f = compute_stats(index).datasets[rel][ACTION]
    lo, hi = np.asarray(f.q01), np.asarray(f.q99)
    actions = column_rows(ep.data_path, ACTION)
    mask = ep.action.canonical  # the embodiment's real canonical dims

    def q99_norm(x: np.ndarray) -> np.ndarray:  # GR00T's q99 mode: 2 (x - q01) / (q99 - q01) - 1, clipped
        return np.where(mask, np.clip(2 * (x - lo) / np.where(mask, hi - lo, 1) - 1, -1, 1), 0.0)

    canonical = s["actions"][:, :CANONICAL_DIM].numpy()
    np.testing.assert_allclose(canonical, q99_norm(actions[t : t + 16]), atol=1e-5)
    np.testing.assert_allclose(
        s["hist_actions"][1, :CANONICAL_DIM].numpy(), q99_norm(actions[frames[k - 1]]), atol=1e-5
    )
    assert s["text"].shape[1] == TEXT_DIM and s["action_mask"][:CANONICAL_DIM].tolist() == mask.astype(float).tolist()
    # a canonical episode leaves the native block empty and masked: no value, no mask, in action or state
    for key in ("actions", "hist_actions", "state", "action_mask", "state_mask"):
        assert torch.count_nonzero(s[key][..., CANONICAL_DIM:]) == 0, key
    assert rel == "datasets/sim/arm" or s["action_mask"].sum() == 0


def test_history_before_the_start_and_absent_text(index: SampleIndex, dataset: ManifestDataset) -> None:
    no_text = next(j for j, e in enumerate(index.episodes) if e.text_path is None)
    i = int(np.flatnonzero((index.sample_episode == no_text) & (index.sample_anchor == 0))[0])
    s = dataset[(i, 0)]
    assert s["text"].shape == (0, TEXT_DIM)
    torch.testing.assert_close(s["hist_latents"][0], s["cur_latents"])  # repeats the first frame
    assert torch.count_nonzero(s["hist_actions"]) == 0


def test_tasks_stay_within_their_tier_and_rows_stay_aligned(index: SampleIndex, dataset: ManifestDataset) -> None:
    sampler = StreamSampler(index.sample_weights(), seed=5)
    loader = DataLoader(dataset, batch_size=16, sampler=sampler, collate_fn=collate)
    seen = set()
    for n, batch in enumerate(loader):
        for row in range(16):
            ep = index.episodes[int(batch["episode"][row])]
            tier = TIERS[int(batch["tier"][row])]
            assert tier is ep.tier
            allowed = ALLOWED_TASKS[ep.routed]
            assert TASKS_BY_ID[int(batch["task"][row])] in allowed
            seen.add((tier, int(batch["task"][row])))
            # the row's tensors all belong to its own (episode, frame)
            own = np.flatnonzero(index.sample_episode == int(batch["episode"][row]))
            i = int(own[ep.latent_frames[index.sample_anchor[own]] == int(batch["frame"][row])][0])
            alone = dataset[(i, 0)]
            for key in ("cur_latents", "fut_latents", "actions", "state", "hist_actions", "action_mask"):
                torch.testing.assert_close(batch[key][row], alone[key])
            assert batch["text_mask"][row].sum() == alone["text"].shape[0]
        if n == 3:
            break
    assert {t for t, _ in seen} == {QualityTier.high, QualityTier.low, QualityTier.actionless}


MODEL = PRESETS["tiny"].model
TEXT_KEYS = ("text", "text_mask")  # [L, Dt] per sample, padded to [B, Lmax, Dt] + [B, Lmax] bool by `collate`


def _sample(i: int, text_len: int) -> dict[str, torch.Tensor]:
    """A sample of random_batch's shapes, its every value tagged with its own row number."""
    one = random_batch(MODEL, 1, text_tokens=max(text_len, 1), generator=torch.Generator().manual_seed(i))
    sample = {k: torch.full_like(v[0], i) for k, v in one.items() if k not in TEXT_KEYS}
    sample["text"] = torch.full((text_len, MODEL.text_dim), float(i + 1))
    return sample


def test_row_i_of_every_key_is_sample_i_and_text_is_padded() -> None:
    lengths = [3, 0, 5]
    batch = collate([_sample(i, n) for i, n in enumerate(lengths)])
    assert set(batch) == set(SAMPLE_KEYS) | set(TEXT_KEYS)
    for key in SAMPLE_KEYS:
        for i in range(3):
            assert (batch[key][i] == i).all(), key
    assert batch["text"].shape == (3, 5, MODEL.text_dim) and batch["text_mask"].dtype == torch.bool
    assert batch["text_mask"].sum(1).tolist() == lengths
    for i, n in enumerate(lengths):
        assert (batch["text"][i, :n] == i + 1).all() and (batch["text"][i, n:] == 0).all()


def test_random_batch_has_the_datasets_shapes_and_dtypes() -> None:
    b, m = 4, MODEL
    batch = random_batch(m, b, text_tokens=7)
    p, c, a = m.latent_grid**2, m.latent_dim, m.action_dim
    shapes = {
        "hist_latents": (b, m.history, p, c),
        "cur_latents": (b, p, c),
        "fut_latents": (b, p, c),
        "hist_actions": (b, m.history, a),
        "hist_mask": (b, m.history),
        "state": (b, a),
        "actions": (b, m.chunk, a),
        "chunk_mask": (b, m.chunk),
        "future_mask": (b,),
        "action_mask": (b, a),
        "text": (b, 7, m.text_dim),
        "text_mask": (b, 7),
    }
    for key, shape in shapes.items():
        assert tuple(batch[key].shape) == shape, key
    assert {k for k, v in batch.items() if v.dtype == torch.bfloat16} == {
        "hist_latents",
        "cur_latents",
        "fut_latents",
        "text",
    }
    for key in ("task", "tier", "dataset", "episode", "frame"):
        assert batch[key].dtype == torch.long and batch[key].shape == (b,)
    assert set(batch["task"].tolist()) == {0, 1, 2, 3}  # every task id appears in a batch of four
    again = random_batch(m, b, text_tokens=7, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(batch[k], again[k]) for k in batch)  # the default generator is seeded


def _take(sampler: StreamSampler, n: int) -> list[tuple[int, int]]:
    return list(itertools.islice(iter(sampler), n))


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    w = np.ones(50)
    a, b = _take(StreamSampler(w, seed=1, block=16), 40), _take(StreamSampler(w, seed=1, block=16), 40)
    assert a == b
    assert [i for i, _ in a] != [i for i, _ in _take(StreamSampler(w, seed=2, block=16), 40)]


def test_resume_at_a_position_continues_the_stream() -> None:
    w = np.arange(1, 31, dtype=float)
    full = _take(StreamSampler(w, seed=3, block=8), 50)
    assert _take(StreamSampler(w, seed=3, block=8, start=37), 13) == full[37:]


def test_ranks_split_one_stream_disjointly() -> None:
    w = np.ones(20)
    single = _take(StreamSampler(w, seed=0, block=8), 60)
    r0 = _take(StreamSampler(w, seed=0, rank=0, world_size=2, block=8), 30)
    r1 = _take(StreamSampler(w, seed=0, rank=1, world_size=2, block=8), 30)
    assert r0 == single[0::2] and r1 == single[1::2]
    assert not {g for _, g in r0} & {g for _, g in r1}  # draw numbers (the per-sample seeds) never repeat


def test_blocks_and_epochs_get_new_draws() -> None:
    w = np.ones(8)
    s = _take(StreamSampler(w, seed=0, block=8), 32)
    blocks = [[i for i, _ in s[k : k + 8]] for k in range(0, 32, 8)]
    assert len({tuple(b) for b in blocks}) == 4
    assert StreamSampler(w, seed=0).epoch(16) == 2.0


def test_weights_set_frequencies_and_zero_is_never_drawn() -> None:
    w = np.array([0.0, 1.0, 3.0, 0.0])
    idx = np.array([i for i, _ in _take(StreamSampler(w, seed=0), 20_000)])
    assert set(np.unique(idx)) == {1, 2}
    assert abs((idx == 2).mean() - 0.75) < 0.02


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="weights"):
        StreamSampler(np.zeros(3), seed=0)
    with pytest.raises(ValueError, match="rank"):
        StreamSampler(np.ones(3), seed=0, rank=2, world_size=2)
