"""LARA's latent action model (paper section 3 and appendix A.1) over DINO latents.

Inverse dynamics: an M-Former (learnable queries in a transformer over the current and future latent tokens) turns
the change between two frames into a continuous latent action z [B, queries, code_dim]. A VQ codebook of 128 codes
quantizes it (straight-through, VQ-VAE codebook + commitment losses; cosine lookup and dead-code restarts keep the
codebook in use, see `VectorQuantizer`). Forward dynamics: a transformer over the current tokens and the quantized
queries reconstructs the future latents. The continuous z (before quantization) is what LARA aligns the DiT's action
representation with. LARA's encoder is a frozen pixel ViT; here the frozen DINOv3 latents the corpus already stores
play that role.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from training.config import LamConfig, ModelConfig
from training.distributed import all_reduce_sum
from training.layers import TransformerBlock, sincos_2d


@dataclass
class LamOutputs:
    z: torch.Tensor  # [B, queries, code_dim] continuous latent action
    codes: torch.Tensor  # [B, queries] codebook indices
    recon: torch.Tensor  # [B] future-latent reconstruction MSE per sample
    vq: torch.Tensor  # [] codebook + commitment loss


def _gather_rows(t: torch.Tensor) -> torch.Tensor:
    """Every rank's rows, in rank order (equal batch sizes), so that every rank restarts codes alike."""
    if not dist.is_initialized():
        return t
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)


class VectorQuantizer(nn.Module):
    """Nearest code by cosine similarity (z and codes l2-normalized, ViT-VQGAN's factorized codes), and dead codes
    restarted on the batch's z: a code no sample chose for `restart_after` training steps moves to one of them.

    Without the restart the tiny preset's codebook collapsed to one active code of 128 within 50 steps (joint and
    LAM-only pretraining alike): at init z hardly depends on the input, so every z picks the same code and the rest
    never receive a gradient. The restart is deterministic (evenly spaced picks from the gathered batch, no RNG) and
    identical on every rank, so resume stays exact and DDP replicas stay equal."""

    def __init__(self, codes: int, dim: int, commitment: float, restart_after: int = 5) -> None:
        super().__init__()
        self.commitment = commitment
        self.restart_after = restart_after
        self.codebook = nn.Embedding(codes, dim)
        nn.init.normal_(self.codebook.weight)  # directions uniform on the sphere
        self.register_buffer("idle", torch.zeros(codes, dtype=torch.long))  # training steps since last chosen

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        flat = F.normalize(z.reshape(-1, z.shape[-1]).float(), dim=-1)
        train = self.training and torch.is_grad_enabled()
        if train:
            self._restart_dead(flat.detach())  # before the lookup: the graph must not see an in-place change
        book = F.normalize(self.codebook.weight.float(), dim=-1)
        idx = (flat @ book.T).argmax(dim=1)
        if train:
            used = all_reduce_sum(torch.zeros_like(self.idle).scatter_add_(0, idx, torch.ones_like(idx)))
            self.idle.copy_(torch.where(used > 0, torch.zeros_like(self.idle), self.idle + 1))
        zq = book[idx]
        loss = F.mse_loss(zq, flat.detach()) + self.commitment * F.mse_loss(flat, zq.detach())
        out = flat + (zq - flat).detach()  # straight-through
        return out.view_as(z).to(z.dtype), idx.view(z.shape[:-1]), loss

    @torch.no_grad()
    def _restart_dead(self, flat: torch.Tensor) -> None:
        """Dead code i (the r-th dead one of n) takes row floor(r (N - 1) / (n - 1)) of the gathered batch's N rows.
        Dense over the whole codebook, with no host-side branch or `nonzero`: no sync, one compiled graph."""
        dead = self.idle >= self.restart_after
        pool = _gather_rows(flat)
        rank = dead.cumsum(0) - 1
        pick = (rank * (pool.shape[0] - 1) // (dead.sum() - 1).clamp_min(1)).clamp_min(0)
        weight = self.codebook.weight
        weight.copy_(torch.where(dead[:, None], pool[pick].to(weight.dtype), weight))
        self.idle.masked_fill_(dead, 0)


class LatentActionModel(nn.Module):
    def __init__(self, cfg: LamConfig, model: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.inp = nn.Linear(model.latent_dim, h)
        self.register_buffer("pos", sincos_2d(h, model.latent_grid // model.latent_pool), persistent=False)
        self.frame = nn.Parameter(torch.randn(2, h) * 0.02)  # current, future
        self.queries = nn.Parameter(torch.randn(cfg.queries, h) * 0.02)
        self.idm = nn.ModuleList([TransformerBlock(h, cfg.heads) for _ in range(cfg.idm_layers)])
        self.idm_norm = nn.LayerNorm(h)
        self.to_code = nn.Linear(h, cfg.code_dim)
        self.vq = VectorQuantizer(cfg.codes, cfg.code_dim, cfg.commitment)
        self.from_code = nn.Linear(cfg.code_dim, h)
        self.fdm = nn.ModuleList([TransformerBlock(h, cfg.heads) for _ in range(cfg.fdm_layers)])
        self.fdm_norm = nn.LayerNorm(h)
        self.out = nn.Linear(h, model.latent_dim)

    def _tokens(self, latents: torch.Tensor, frame: int) -> torch.Tensor:
        return self.inp(latents) + self.pos.to(latents.dtype) + self.frame[frame]

    def encode(self, cur: torch.Tensor, fut: torch.Tensor) -> torch.Tensor:
        """Inverse dynamics: prepared latents [B, P, C] at t and t' -> continuous latent action [B, Q, code_dim]."""
        q = self.cfg.queries
        x = torch.cat([self.queries.expand(cur.shape[0], -1, -1), self._tokens(cur, 0), self._tokens(fut, 1)], 1)
        for block in self.idm:
            x = block(x)
        return self.to_code(self.idm_norm(x[:, :q]))

    def forward(self, cur: torch.Tensor, fut: torch.Tensor) -> LamOutputs:
        z = self.encode(cur, fut)
        zq, codes, vq_loss = self.vq(z)
        q = self.cfg.queries
        y = torch.cat([self.from_code(zq), self._tokens(cur, 0)], dim=1)
        for block in self.fdm:
            y = block(y)
        pred = self.out(self.fdm_norm(y[:, q:]))
        recon = (pred.float() - fut.float()).square().mean(dim=(1, 2))
        return LamOutputs(z=z, codes=codes, recon=recon, vq=vq_loss)
