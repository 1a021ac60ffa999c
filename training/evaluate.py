"""`eidata eval`: open-loop evaluation of a checkpoint on a manifest split.

For evenly spaced samples of the split:
- actions: the policy task samples the action chunk from noise (Euler, the run's inference steps) given the
  observation; L1 and MSE against the recorded chunk over the embodiment's real dims, in normalized units (comparable
  across dims and datasets: LDA's scaling proxy) and L1 in the data's own units. Samples without actions are left out.
- future latents: forward dynamics (the recorded actions given) where the episode has actions, visual forecasting
  where it has none; cosine similarity of the predicted and the recorded future DINO tokens (after the model's latent
  normalization), beside the copy-the-current-frame baseline's, which a useful model must beat.
Reported per (dataset, tier), per tier and overall, printed as a table and written as JSON, with the statistics each
dataset was normalized with (`normalization`: the run's training statistics, or its own split's for a dataset the
training split never saw).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from schemas.canonical import CANONICAL_DIM
from schemas.storage import StorageOptions
from schemas.tiers import TASK_IDS, Task
from training.checkpoint import checkpoint_config, load_checkpoint
from training.dataset import ManifestDataset, collate, to_device
from training.episodes import TIERS, SampleIndex, build_index
from training.normalize import NormStats, compute_stats, half_ranges
from training.objective import LDAObjective, Prepared, dit_inputs, euler, prepare

log = logging.getLogger(__name__)

METRICS = ("l1", "mse", "l1_raw", "latent_cos", "latent_cos_copy")


TRAIN_STATS, OWN_SPLIT_STATS = "train", "own split (unseen in training)"


def _stats_for(index: SampleIndex, stats: NormStats) -> tuple[NormStats, dict[str, str]]:
    """The run's training statistics (saved with the checkpoint, as in the run's norm_stats.json) and, per dataset of
    the split, which statistics normalize it. A dataset the training split never saw has none: it is normalized with
    its own split's statistics, which leak the evaluated data into its inputs (audit S11), so the report says so per
    dataset and a warning names them."""
    source = {d: TRAIN_STATS if d in stats.datasets else OWN_SPLIT_STATS for d in index.datasets}
    unknown = [d for d, s in source.items() if s == OWN_SPLIT_STATS]
    if not unknown:
        return stats, source
    log.warning(
        "datasets unseen in training, normalized with their own %s split's statistics (their metrics are not "
        "comparable with trained datasets'): %s",
        index.split,
        unknown,
    )
    return NormStats(datasets={**compute_stats(index).datasets, **stats.datasets}), source


def _predict(
    objective: LDAObjective, batch: dict[str, torch.Tensor], lat: Prepared, steps: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    dit, b = objective.dit, batch["task"].shape[0]
    dev = batch["task"].device
    yes, no = torch.ones(b, dtype=torch.bool, device=dev), torch.zeros(b, dtype=torch.bool, device=dev)
    has_action = batch["action_mask"].bool().any(dim=1)

    def policy(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        task = torch.full((b,), TASK_IDS[Task.policy], device=dev)
        inp = dit_inputs(
            batch, lat, act_in=x, act_absent=no, fut_in=torch.zeros_like(lat.fut), fut_absent=yes, t=t, task=task
        )
        return dit(inp).action

    task = torch.where(has_action, TASK_IDS[Task.forward_dynamics], TASK_IDS[Task.visual_forecasting])
    given = torch.where(has_action[:, None, None], batch["actions"], torch.zeros_like(batch["actions"]))

    def forecast(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        inp = dit_inputs(batch, lat, act_in=given, act_absent=~has_action, fut_in=x, fut_absent=no, t=t, task=task)
        return dit(inp).latent

    act_noise = torch.randn(batch["actions"].shape, generator=gen, device=dev)
    lat_noise = torch.randn(lat.fut.shape, generator=gen, device=dev)
    return euler(policy, act_noise, steps), euler(forecast, lat_noise, steps)


def _rows(
    index: SampleIndex,
    stats: NormStats,
    batch: dict[str, torch.Tensor],
    lat: Prepared,
    actions: torch.Tensor,
    latents: torch.Tensor,
) -> list[dict[str, Any]]:
    mask = batch["action_mask"].unsqueeze(1) * batch["chunk_mask"].unsqueeze(-1)  # steps past the end: no error
    count = mask.sum(dim=(1, 2)).clamp_min(1)
    err = (actions.float() - batch["actions"].float()) * mask
    width = batch["actions"].shape[-1] - CANONICAL_DIM  # the native block
    std = torch.stack(
        [
            torch.from_numpy(half_ranges(stats, index.datasets[int(d)], index.episodes[int(e)], width))
            for d, e in zip(batch["dataset"], batch["episode"], strict=True)
        ]
    )
    raw = err.abs() * std.to(err.device).unsqueeze(1)
    out = {
        "l1": err.abs().sum(dim=(1, 2)) / count,
        "mse": err.square().sum(dim=(1, 2)) / count,
        "l1_raw": raw.sum(dim=(1, 2)) / count,
        "latent_cos": F.cosine_similarity(latents.float(), lat.fut, dim=-1).mean(dim=1),
        "latent_cos_copy": F.cosine_similarity(lat.cur, lat.fut, dim=-1).mean(dim=1),
    }
    vals = {k: v.cpu().numpy() for k, v in out.items()}
    has_action = batch["action_mask"].bool().any(dim=1).cpu().numpy()
    has_future = batch["future_mask"].bool().cpu().numpy()
    return [
        {
            "dataset": index.datasets[int(batch["dataset"][i])],
            "tier": TIERS[int(batch["tier"][i])].value,
            "has_action": bool(has_action[i]),
            "has_future": bool(has_future[i]),
            **{k: float(v[i]) for k, v in vals.items()},
        }
        for i in range(len(has_action))
    ]


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Mean metrics per group; action metrics over samples with actions only (None when a group has none)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        for key in ("overall", f"tier={r['tier']}", f"{r['dataset']} [{r['tier']}]"):
            groups[key].append(r)
    out: dict[str, dict[str, Any]] = {}
    for key, group in sorted(groups.items(), key=lambda kv: (kv[0] != "overall", not kv[0].startswith("tier="), kv[0])):
        acted = [r for r in group if r["has_action"]]
        entry: dict[str, Any] = {"samples": len(group), "action_samples": len(acted)}
        for m in METRICS:
            src = acted if m in ("l1", "mse", "l1_raw") else [r for r in group if r.get("has_future", True)]
            entry[m] = float(np.mean([r[m] for r in src])) if src else None
        out[key] = entry
    return out


@torch.no_grad()
def evaluate(
    checkpoint: Path,
    manifest_dir: Path | str,
    split: str,
    *,
    max_samples: int,
    batch_size: int,
    device: str | None = None,
    steps: int | None = None,
    seed: int = 0,
    num_workers: int = 0,
    storage: StorageOptions | None = None,
) -> dict[str, Any]:
    """Open-loop metrics of `checkpoint` on a manifest folder or bucket URL (`storage`: its credentials when not the
    AWS environment's; the bucket and credential are checked before the index is built)."""
    state = load_checkpoint(Path(checkpoint))
    cfg, stats = checkpoint_config(state)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    index = build_index(manifest_dir, split, cfg.model, cfg.data, storage=storage)  # type: ignore[arg-type]
    stats, normalization = _stats_for(index, stats)
    dataset = ManifestDataset(index, stats, cfg.model, index.manifest.routing, seed=seed)
    picks = np.unique(np.linspace(0, len(index) - 1, min(len(index), max_samples)).round().astype(int))
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=[(int(i), int(i)) for i in picks],
        collate_fn=collate,
        num_workers=num_workers,
    )
    objective = LDAObjective(cfg)
    objective.load_state_dict(state["model"])
    objective.to(dev).eval()
    gen = torch.Generator(dev).manual_seed(seed)
    n_steps = steps or cfg.flow.inference_steps
    rows: list[dict[str, Any]] = []
    for batch in loader:
        batch = to_device(batch, dev)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            lat = prepare(objective.dit, batch)
            actions, latents = _predict(objective, batch, lat, n_steps, gen)
        rows += _rows(index, stats, batch, lat, actions, latents)
    return {
        "checkpoint": str(checkpoint),
        "step": int(state["step"]),
        "manifest": str(manifest_dir),
        "split": split,
        "samples": len(rows),
        "inference_steps": n_steps,
        "normalization": normalization,  # dataset -> "train" or "own split (unseen in training)"
        "metrics": summarize(rows),
    }
