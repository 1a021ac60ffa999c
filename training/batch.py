"""The batch format shared by the dataset, the objective, eval and the benchmark: one dict of tensors per batch.

Every key is stacked from the samples in the same order, so row i of every tensor is sample i; `task` travels in
the batch with the sample it was drawn for.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn.utils.rnn import pad_sequence

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
