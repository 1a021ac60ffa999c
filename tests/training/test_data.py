"""The data side from a real manifest: the sample index and its skips, normalization statistics, samples
that match the files they come from, tasks drawn within each tier's routing row, rows aligned through a DataLoader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch.utils.data import DataLoader

from schemas.canonical import ACTION, STATE
from schemas.tiers import ALLOWED_TASKS, QualityTier
from tests.training.conftest import MODEL
from tests.training.corpus import TEXT_DIM
from training.batch import collate
from training.config import DataConfig
from training.dataset import ManifestDataset
from training.episodes import TIERS, DataError, SampleIndex, _read_latents_header, anchors, build_index
from training.normalize import compute_stats
from training.routing import TASKS_BY_ID
from training.sampler import StreamSampler


def _vectors(path: Path, key: str) -> np.ndarray:
    col = pq.read_table(path, columns=[key]).column(key).combine_chunks()
    return col.flatten().to_numpy().reshape(len(col), -1)


def test_anchors_need_a_chunk_and_a_future() -> None:
    frames = np.arange(0, 40, 2)
    anchor, future = anchors(frames, length=40, chunk=16, future_offset=16)
    assert frames[anchor].tolist() == list(range(0, 23, 2))  # t + 16 must still have a latent (<= 38)
    assert (frames[future] >= frames[anchor] + 16).all() and (frames[future] - frames[anchor] < 18).all()


def test_index_reports_its_skips(index: SampleIndex) -> None:
    r = index.report
    # high-tier episodes with actions route to policy, which anchors at every latent frame up to the end (the short
    # episode included); the others need a full chunk and a +16 future (12 anchors at length 40, 10 at 36)
    to_end = [e.tier is QualityTier.high and e.mask.any() for e in index.episodes]
    assert r.episodes == 7 and len(index) == sum(
        len(e.latent_frames) if end else 12 if e.length == 40 else 10
        for e, end in zip(index.episodes, to_end, strict=True)
    )
    assert r.skipped == {"no latents for cameras ['head', 'third_person', 'wrist_right', 'wrist_left']": 1}
    assert r.without_text == 1 and r.no_action_dims == 2 and index.text_dim == TEXT_DIM
    assert {e.uid for e in index.episodes if e.text_path is None} == {"sim/arm/arm-5"}  # NO_TEXT_TASK's episode


def test_normalization_stats_pool_the_training_episodes(index: SampleIndex) -> None:
    stats = compute_stats(index)
    for rel in index.datasets:
        eps = [e for e in index.episodes if index.datasets[e.dataset_id] == rel]
        for key in (ACTION, STATE):
            rows = np.concatenate([_vectors(e.data_path, key) for e in eps])
            f = stats.datasets[rel][key]
            np.testing.assert_allclose(f.mean, rows.mean(0), atol=1e-5)
            np.testing.assert_allclose(f.std, rows.std(0), atol=1e-5)
            assert f.count == len(rows)
            # quantiles from the data files themselves (episodes_stats.jsonl has none)
            np.testing.assert_allclose([f.q01, f.q99], np.quantile(rows, [0.01, 0.99], axis=0), atol=1e-6)


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
    actions = _vectors(ep.data_path, ACTION)

    def q99_norm(x: np.ndarray) -> np.ndarray:  # GR00T's q99 mode: 2 (x - q01) / (q99 - q01) - 1, clipped
        return np.where(ep.mask, np.clip(2 * (x - lo) / np.where(ep.mask, hi - lo, 1) - 1, -1, 1), 0.0)

    np.testing.assert_allclose(s["actions"].numpy(), q99_norm(actions[t : t + 16]), atol=1e-5)
    np.testing.assert_allclose(s["hist_actions"][1].numpy(), q99_norm(actions[frames[k - 1]]), atol=1e-5)
    assert s["text"].shape[1] == TEXT_DIM and s["action_mask"].tolist() == ep.mask.astype(float).tolist()
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
            allowed = ALLOWED_TASKS[tier if ep.mask.any() else QualityTier.actionless]
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


def test_bad_latents_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "episode_000000.safetensors"
    save_file(
        {"latents": torch.zeros(2, 196, 384), "frame_index": torch.tensor([0, 3])},
        str(path),
        metadata={"format": "something-else"},
    )
    with pytest.raises(DataError, match=r"episode_000000\.safetensors: metadata format"):
        _read_latents_header(path, MODEL)
    save_file(
        {"latents": torch.zeros(2, 100, 384), "frame_index": torch.tensor([0, 3])},
        str(path),
        metadata={"format": "eidata-latents-1"},
    )
    with pytest.raises(DataError, match=r"latents shape \(2, 100, 384\)"):
        _read_latents_header(path, MODEL)


def test_empty_split_is_an_error(manifest: Path) -> None:
    with pytest.raises(DataError, match="no entries in split"):
        build_index(manifest, "nope", MODEL, DataConfig())  # type: ignore[arg-type]
