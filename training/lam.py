"""LARA's latent action model (paper section 3 and appendix A.1) over DINO latents.

Inverse dynamics: an M-Former (learnable queries in a transformer over the current and future latent tokens) turns
the change between two frames into a continuous latent action z [B, queries, code_dim]. A VQ codebook of 128 codes
quantizes it (straight-through, VQ-VAE codebook + commitment losses). Forward dynamics: a transformer over the
current tokens and the quantized queries reconstructs the future latents. The continuous z (before quantization) is
what LARA aligns the DiT's action representation with. LARA's encoder is a frozen pixel ViT; here the frozen DINOv3
latents the corpus already stores play that role.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from training.config import LamConfig, ModelConfig
from training.layers import TransformerBlock, sincos_2d


@dataclass
class LamOutputs:
    z: torch.Tensor  # [B, queries, code_dim] continuous latent action
    codes: torch.Tensor  # [B, queries] codebook indices
    recon: torch.Tensor  # [B] future-latent reconstruction MSE per sample
    vq: torch.Tensor  # [] codebook + commitment loss


class VectorQuantizer(nn.Module):
    def __init__(self, codes: int, dim: int, commitment: float) -> None:
        super().__init__()
        self.commitment = commitment
        self.codebook = nn.Embedding(codes, dim)
        nn.init.uniform_(self.codebook.weight, -1.0 / codes, 1.0 / codes)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        flat = z.reshape(-1, z.shape[-1]).float()
        book = self.codebook.weight.float()
        dist = flat.square().sum(1, keepdim=True) - 2 * flat @ book.T + book.square().sum(1)[None]
        idx = dist.argmin(dim=1)
        zq = self.codebook(idx).view_as(z).to(z.dtype)
        loss = F.mse_loss(zq.float(), z.detach().float()) + self.commitment * F.mse_loss(z.float(), zq.detach().float())
        return z + (zq - z).detach(), idx.view(z.shape[:-1]), loss


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
