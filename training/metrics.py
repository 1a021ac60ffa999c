"""Training metrics over a logging interval: losses (total, per objective, per task), throughput, data-wait
fraction and MFU; one line to the log and one JSON object per interval to `<run>/metrics.jsonl`.

Sums are all-reduced across ranks at each log step, so per-task losses are over the global batch. data_wait is the
fraction of the interval's wall time this rank spent blocked on the DataLoader (rank 0 reports its own).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch

from adapters.storage.atomic import atomic_write
from training.distributed import all_reduce_sum
from training.objective import Losses, per_task_sums
from training.routing import TASKS_BY_ID

log = logging.getLogger("eidata.train")

SCALARS = ("total", "action", "latent", "align", "lam")
# LAM collapse: this few distinct codes in a log interval, or z this constant across the batch (mean per-dim std)
COLLAPSE_ACTIVE_CODES = 8
COLLAPSE_Z_STD = 1e-3


class Meter:
    """`codes`: the LAM's codebook size (0: no LAM), for codebook usage over the interval."""

    def __init__(self, device: torch.device, codes: int = 0) -> None:
        self.device = device
        self.codes = codes
        self.reset()

    def reset(self) -> None:
        self.t0 = time.perf_counter()
        self.steps = 0
        self.samples = 0
        self.data_wait = 0.0
        # [scalar sums..., per-task sums (4), per-task counts (4), text tokens], one all_reduce, no per-step sync
        self._sums = torch.zeros(len(SCALARS) + 2 * len(TASKS_BY_ID) + 1, device=self.device)
        # LAM: code histogram, then (sum of z's mean per-dim std over the batch, batches counted)
        self._lam = torch.zeros(self.codes + 2, device=self.device)

    def add(self, losses: Losses, task: torch.Tensor, text_mask: torch.Tensor, data_wait: float) -> None:
        self.steps += 1
        self.samples += int(task.shape[0])
        self.data_wait += data_wait
        values = [getattr(losses, k) for k in SCALARS]
        scalars = torch.stack(
            [v.detach().float() if v is not None else torch.zeros((), device=self.device) for v in values]
        )
        sums, counts = per_task_sums(losses.per_sample, task, len(TASKS_BY_ID))
        text = text_mask.sum(dtype=torch.float32).reshape(1)
        self._sums += torch.cat([scalars, sums, counts, text])
        if losses.codes is not None and self.codes:
            self._lam[: self.codes] += torch.bincount(losses.codes.flatten(), minlength=self.codes)[: self.codes]
        if losses.z is not None and losses.z.shape[0] > 1:
            self._lam[-2] += losses.z.float().std(dim=0).mean()
            self._lam[-1] += 1

    def flush(self, world_size: int) -> dict[str, Any]:
        """Interval averages (global over ranks), then a fresh interval."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # the interval's kernels are done before reading the clock
        elapsed = time.perf_counter() - self.t0
        sums = all_reduce_sum(self._sums.clone()).cpu().tolist()
        lam = all_reduce_sum(self._lam.clone()).cpu()
        n = len(SCALARS)
        k = len(TASKS_BY_ID)
        scalar, task_sum, task_n, text = sums[:n], sums[n : n + k], sums[n + k : n + 2 * k], sums[-1]
        steps = max(self.steps, 1)
        out: dict[str, Any] = {
            f"loss_{k}" if k != "total" else "loss": v / (steps * world_size)
            for k, v in zip(SCALARS, scalar, strict=True)
        }
        for task, s, c in zip(TASKS_BY_ID, task_sum, task_n, strict=True):
            out[f"loss_task/{task.value}"] = s / c if c else None
            out[f"samples_task/{task.value}"] = int(c)
        out.update(
            samples_per_s=self.samples * world_size / elapsed,
            step_time_s=elapsed / steps,
            data_wait=self.data_wait / elapsed,
            text_tokens=text / max(sum(task_n), 1),  # mean real text tokens per sample
            **codebook_usage(lam[: self.codes]),
            lam_z_std=float(lam[-2] / lam[-1]) if lam[-1] > 0 else None,
        )
        self.reset()
        return out


def codebook_usage(hist: torch.Tensor) -> dict[str, Any]:
    """Active codes and perplexity exp(H) of a code histogram (perplexity = codebook size when used evenly)."""
    total = float(hist.sum())
    if total == 0:
        return {"lam_active_codes": None, "lam_perplexity": None}
    p = hist[hist > 0] / total
    return {"lam_active_codes": int((hist > 0).sum()), "lam_perplexity": math.exp(float(-(p * p.log()).sum()))}


def collapse_warning(record: dict[str, Any]) -> str | None:
    """A warning when the LAM's codes or its continuous z have collapsed in this interval, else None."""
    active, z_std = record.get("lam_active_codes"), record.get("lam_z_std")
    if active is not None and active <= COLLAPSE_ACTIVE_CODES:
        return f"LAM codebook collapse at step {record['step']}: {active} active codes in the interval"
    if z_std is not None and z_std < COLLAPSE_Z_STD:
        return f"LAM latent action collapse at step {record['step']}: z spread {z_std:.2e} across the batch"
    return None


class JsonlLog:
    """Appends one JSON object per line; `truncate_after(step)` drops lines a resumed run will write again."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({k: _finite(v) for k, v in record.items()}, allow_nan=False) + "\n")

    def truncate_after(self, step: int) -> None:
        if not self.path.is_file():
            return
        keep = [
            ln for ln in self.path.read_text(encoding="utf-8").splitlines(keepends=True) if 0 <= _line_step(ln) <= step
        ]
        atomic_write(self.path, "".join(keep))


def _line_step(line: str) -> int:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return -1  # a torn last line from a killed run: dropped


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def format_record(r: dict[str, Any]) -> str:
    tasks = " ".join(
        f"{t.value[:3]}={r[f'loss_task/{t.value}']:.4f}"
        for t in TASKS_BY_ID
        if r.get(f"loss_task/{t.value}") is not None
    )
    mfu = f" mfu={100 * r['mfu']:.1f}%" if r.get("mfu") is not None else ""
    return (
        f"step {r['step']} lr={r['lr']:.2e} loss={r['loss']:.4f} act={r['loss_action']:.4f} "
        f"lat={r['loss_latent']:.4f} [{tasks}] {r['samples_per_s']:.1f} samples/s "
        f"data_wait={100 * r['data_wait']:.0f}%{mfu}"
    )
