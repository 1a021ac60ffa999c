"""The batch format (training/batch.py): `collate` stacks row i of every key from sample i and pads text without
touching it; `random_batch` gives every key the shape and dtype the dataset gives it."""

from __future__ import annotations

import torch

from tests.fixtures.training import random_batch
from training.batch import SAMPLE_KEYS, collate
from training.config import PRESETS

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
