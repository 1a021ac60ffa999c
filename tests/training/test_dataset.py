"""ManifestDataset (training/dataset.py) on the test corpus: a sample is what its files hold, history before the
start, tasks drawn within each tier's routing row, rows aligned through a DataLoader."""

from __future__ import annotations

import numpy as np
import torch
from safetensors import safe_open
from torch.utils.data import DataLoader

from schemas.canonical import ACTION, CANONICAL_DIM
from schemas.tiers import ALLOWED_TASKS, QualityTier
from tests.training.corpus import TEXT_DIM, column_rows
from training.batch import collate
from training.dataset import ManifestDataset
from training.episodes import TIERS, SampleIndex
from training.normalize import compute_stats
from training.routing import TASKS_BY_ID
from training.sampler import StreamSampler


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
