"""Model-level helpers for the training tests (no corpus needed)."""

from __future__ import annotations

import torch

from schemas.tiers import TASK_IDS, Task
from tests.fixtures.training import random_batch
from training.config import LaraConfig, ModelConfig, TrainConfig, config_from_preset
from training.objective import LDAObjective, Noise, draw_noise

TASKS = list(Task)


def objective(
    lara: str = "joint", seed: int = 0, randomize: bool = True, model: ModelConfig | None = None
) -> tuple[LDAObjective, TrainConfig]:
    """A tiny objective (or one of `model`'s shape); `randomize` replaces the zero-initialised (AdaLN-Zero) weights
    by small random ones so that every path carries signal, as after some training."""
    lara_cfg = LaraConfig(mode=lara, weights="x" if lara == "frozen" else None)
    cfg = config_from_preset("tiny", "unused", lara=lara_cfg, **({"model": model} if model else {}))
    torch.manual_seed(seed)
    obj = LDAObjective(cfg)
    if randomize:
        g = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for p in obj.parameters():
                p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return obj, cfg


def batch_with_tasks(cfg: TrainConfig, tasks: list[Task], seed: int = 0) -> tuple[dict[str, torch.Tensor], Noise]:
    g = torch.Generator().manual_seed(seed)
    batch = random_batch(cfg.model, len(tasks), text_tokens=5, generator=g)
    batch["task"] = torch.tensor([TASK_IDS[t] for t in tasks])
    batch["text_mask"][0, 3:] = False  # ragged text
    batch["action_mask"][1, :25] = 0.0  # a one-handed embodiment
    noise = draw_noise(len(tasks), cfg.model, cfg.flow, torch.Generator().manual_seed(seed + 1))
    return batch, noise
