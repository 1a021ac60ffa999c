"""Process group set-up from the launcher's environment (torchrun, or Ray Train's torch backend): nothing home-made.

`torchrun --nproc_per_node N -m jobs.cli train ...` sets WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT;
with WORLD_SIZE > 1 we join the group (NCCL on GPUs, Gloo on CPU) and the trainer wraps the model in DDP. A single
process (no WORLD_SIZE) trains without any process group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str | None = None) -> DistInfo:
    """Join the process group when launched with WORLD_SIZE > 1 and pick this process's device.

    `device`: "cpu", "cuda" or None (CUDA when available). On CUDA each process takes GPU LOCAL_RANK."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but torch sees no CUDA device")
    dev = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", device_id=dev if use_cuda else None)
    rank = dist.get_rank() if dist.is_initialized() else 0
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=dev)


def wrap_ddp(module: torch.nn.Module, info: DistInfo) -> DistributedDataParallel:
    """DDP over the process group. Gradients live in the all-reduce buckets (`gradient_as_bucket_view`: no copy of
    1.3 B gradients per step); buffers are not re-broadcast before every forward (`forward_sync_buffers=False`, torch
    2.13's name for `broadcast_buffers=False`; they are still synced once at wrap time): the sin-cos position tables
    are fixed and the LAM's idle-code counters are updated alike on every rank (all-reduced usage)."""
    ids = [info.local_rank] if info.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, gradient_as_bucket_view=True, forward_sync_buffers=False)


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers (run seed, rank, step, ...): distinct inputs give independent streams."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0] >> np.uint64(1))
