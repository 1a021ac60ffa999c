"""The LDA MM-DiT: image and action tokens with their own weights (modality experts) in one shared self-attention,
text through cross-attention, AdaLN-Zero from diffusion time + task, registers for an absent modality, two heads.

Token streams per sample: image [history frames, current, future] x patches of DINO latents (the future noised, clean
or absent); action [history actions, state, chunk] of vectors [canonical 50 | native block], each with its mask (a
robot without a description fills the native block with its own command, `training.actions`).
Cross-attention: the README's table makes the VLM tokens the queries, its public code the image/action tokens. We
make the image/action tokens the queries and the text the keys/values: the heads read the image/action stream, so
only queries there carry the instruction to them (text-side queries would update text tokens no head reads, or make
the frozen text features a third trained stream); the cost stays linear in the text length, and one kernel call
serves both streams since queries attend independently.
AdaLN: by default one modulation MLP per modality plus a learned per-block offset (PixArt-alpha's adaLN-single): the
full per-block adaLN of DiT and LDA would add 12 hidden^2 per block, 0.45 B parameters at LDA-1B size, for
conditioning that is one vector per sample; `per_block_adaln` gives LDA's choice. Image layout: `token` gives every
frame its own patch tokens; `channel` (LDA's) concatenates the frames' latents along channels, one token per patch.
Dtypes: under bf16 autocast the streams are bf16 from the input projections on, and each block's modulation is cast
to the stream's dtype once, so the residual stays bf16 (as in LDA) instead of turning float32 at block 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from training.attention import KeyMask, attention
from training.config import ModelConfig
from training.layers import HeadRMSNorm, Mlp, TimestepEmbedder, modulate, norm_modulate, sincos_2d, split_heads

IMAGE, ACTION = 0, 1  # stream order in the joint sequence
NUM_TASKS = 4


@dataclass
class DiTInputs:
    """One batch, already routed (see `training.routing`). Latents are `MMDiT.prepare_latents` outputs."""

    hist_latents: torch.Tensor  # [B, H, P, C]
    cur_latents: torch.Tensor  # [B, P, C]
    fut_in: torch.Tensor  # [B, P, C]  noised, clean, or ignored where fut_absent
    fut_absent: torch.Tensor  # [B] bool
    hist_actions: torch.Tensor  # [B, H, A]
    hist_mask: torch.Tensor  # [B, H] float, 0 for history padding before the episode start (its mask input is 0)
    state: torch.Tensor  # [B, A]
    act_in: torch.Tensor  # [B, K, A]  noised, clean, or ignored where act_absent
    act_absent: torch.Tensor  # [B] bool
    action_mask: torch.Tensor  # [B, A] float, 1 where the episode's action has the dim (canonical | native block)
    state_mask: torch.Tensor  # [B, A] float, 1 where its state has the dim
    text: torch.Tensor  # [B, L, Dt] (L may be 0)
    text_mask: torch.Tensor  # [B, L] bool
    t: torch.Tensor  # [B] flow time of the noised modality
    task: torch.Tensor  # [B] long, schemas.tiers.TASK_IDS


@dataclass
class DiTOutputs:
    action: torch.Tensor  # [B, K, A] velocity
    latent: torch.Tensor  # [B, P, C] velocity
    align: torch.Tensor  # [B, D] action-stream output of block cfg.align_block at the last chunk token (LARA)


class ModalityExpert(nn.Module):
    """Everything one modality owns inside a block: norms, QKV/out projections, cross-attention queries, MLP, and
    its modulation (a per-block offset on the shared one, or with `per_block_adaln` its own (t, task) Linear)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d, hd = cfg.hidden, cfg.head_dim
        self.qkv = nn.Linear(d, 3 * d)
        self.q_norm = HeadRMSNorm(hd) if cfg.qk_norm else nn.Identity()
        self.k_norm = HeadRMSNorm(hd) if cfg.qk_norm else nn.Identity()
        self.proj = nn.Linear(d, d)
        self.norm_cross = nn.LayerNorm(d, eps=1e-6)
        self.cross_q = nn.Linear(d, d)
        self.cross_q_norm = HeadRMSNorm(hd) if cfg.qk_norm else nn.Identity()
        self.cross_proj = nn.Linear(d, d)
        self.mlp = Mlp(d, cfg.mlp_ratio)
        if cfg.per_block_adaln:
            self.adaln = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))
        else:
            self.table = nn.Parameter(torch.zeros(6, d))  # this block's offset on the shared modulation

    def modulation(self, shared: torch.Tensor | None, c: torch.Tensor, dtype: torch.dtype) -> list[torch.Tensor]:
        """shift/scale/gate (attention), shift/scale/gate (MLP), each [B, D] in `dtype`: one add and one cast."""
        m = self.adaln(c).unflatten(-1, (6, -1)) if shared is None else shared + self.table
        return list(m.to(dtype).unbind(1))


class MMDiTBlock(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.heads = cfg.heads
        self.experts = nn.ModuleList([ModalityExpert(cfg), ModalityExpert(cfg)])
        self.cross_kv = nn.Linear(cfg.hidden, 2 * cfg.hidden)  # text keys/values, shared by both streams
        self.cross_k_norm = HeadRMSNorm(cfg.head_dim) if cfg.qk_norm else nn.Identity()

    def forward(
        self,
        xs: list[torch.Tensor],
        shared: list[torch.Tensor] | None,
        c: torch.Tensor,
        text: torch.Tensor,
        text_mask: KeyMask,
    ) -> list[torch.Tensor]:
        sizes = [x.shape[1] for x in xs]
        params = [
            e.modulation(None if shared is None else s, c, x.dtype)
            for e, s, x in zip(self.experts, shared or [None, None], xs, strict=True)
        ]
        # 1. joint self-attention: per-modality QKV, one attention over the concatenated sequence
        qs, ks, vs = [], [], []
        for x, e, p in zip(xs, self.experts, params, strict=True):
            q, k, v = (split_heads(t, self.heads) for t in e.qkv(norm_modulate(x, p[0], p[1])).chunk(3, -1))
            qs.append(e.q_norm(q))
            ks.append(e.k_norm(k))
            vs.append(v)
        out = attention(torch.cat(qs, 1), torch.cat(ks, 1), torch.cat(vs, 1)).flatten(2).split(sizes, 1)
        xs = [
            torch.addcmul(x, p[2].unsqueeze(1), e.proj(o))
            for x, e, p, o in zip(xs, self.experts, params, out, strict=True)
        ]
        # 2. cross-attention to the text: image/action queries, text keys/values
        k, v = (split_heads(t, self.heads) for t in self.cross_kv(text).chunk(2, -1))
        qs = [
            e.cross_q_norm(split_heads(e.cross_q(e.norm_cross(x)), self.heads))
            for x, e in zip(xs, self.experts, strict=True)
        ]
        out = attention(torch.cat(qs, 1), self.cross_k_norm(k), v, text_mask).flatten(2).split(sizes, 1)
        xs = [x + e.cross_proj(o) for x, e, o in zip(xs, self.experts, out, strict=True)]
        # 3. per-modality MLP
        return [
            torch.addcmul(x, p[5].unsqueeze(1), e.mlp(norm_modulate(x, p[3], p[4])))
            for x, e, p in zip(xs, self.experts, params, strict=True)
        ]


class FinalLayer(nn.Module):
    def __init__(self, hidden: int, out: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.adaln = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))
        self.linear = nn.Linear(hidden, out)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaln(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


class MMDiT(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, a = cfg.hidden, cfg.action_dim
        self.channel = cfg.image_layout == "channel"
        # channel layout: one token per patch from every frame's latents side by side
        self.latent_in = nn.Linear(cfg.latent_dim * (cfg.frames if self.channel else 1), d)
        self.register_buffer("patch_pos", sincos_2d(d, cfg.latent_grid // cfg.latent_pool), persistent=False)
        if not self.channel:
            self.frame_emb = nn.Parameter(torch.zeros(cfg.frames, d))
        if cfg.image_registers:
            self.image_registers = nn.Parameter(torch.zeros(cfg.image_registers, d))
        self.action_in = nn.Linear(2 * a, d)  # (value * mask, mask): the model sees which dims are real
        self.state_in = nn.Linear(2 * a, d)
        self.action_pos = nn.Parameter(torch.zeros(cfg.action_tokens, d))
        # stands in for absent future latents: a token (token layout) or the future frame's channels (channel)
        self.register_obs = nn.Parameter(torch.zeros(cfg.latent_dim if self.channel else d))
        self.register_act = nn.Parameter(torch.zeros(d))  # stands in for an absent action chunk
        self.text_proj = nn.Linear(cfg.text_dim, d)
        self.null_text = nn.Parameter(torch.zeros(1, d))  # always attendable: no text -> only this token
        self.time_emb = TimestepEmbedder(d, cfg.time_freq_dim)
        self.task_emb = nn.Embedding(NUM_TASKS, d)
        if not cfg.per_block_adaln:  # adaLN-single: one modulation MLP per modality, blocks add their offsets
            self.adaln = nn.ModuleList([nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d)) for _ in range(2)])
        self.blocks = nn.ModuleList([MMDiTBlock(cfg) for _ in range(cfg.depth)])
        self.action_head = FinalLayer(d, a)
        self.latent_head = FinalLayer(d, cfg.latent_dim)
        # LARA's hidden state -3 of [input, block outputs] = block depth-3 (see ModelConfig.align_hidden)
        self.align_block = cfg.align_block
        self.checkpointing = False  # runtime choice (TrainConfig.checkpointing): recompute blocks in backward
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        for name in ("frame_emb", "image_registers", "action_pos", "register_obs", "register_act", "null_text"):
            if hasattr(self, name):
                nn.init.normal_(getattr(self, name), std=0.02)
        nn.init.normal_(self.task_emb.weight, std=0.02)
        for mlp in self.time_emb.mlp[::2]:
            nn.init.normal_(mlp.weight, std=0.02)
        # AdaLN-Zero: every residual branch and both heads start at zero, so each block starts as the identity
        experts = [e for block in self.blocks for e in block.experts]
        shared = [*self.adaln] if hasattr(self, "adaln") else [e.adaln for e in experts]
        zero = [*(s[-1] for s in shared), self.action_head.adaln[-1], self.latent_head.adaln[-1]]
        for m in [*zero, self.action_head.linear, self.latent_head.linear, *(e.cross_proj for e in experts)]:
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def prepare_latents(self, x: torch.Tensor) -> torch.Tensor:
        """Raw DINO patch latents [..., grid^2, C] -> pooled, per-token layer-normed float [..., patches, C].

        Layer norm makes inputs and targets scale-free whatever the encoder's feature norms."""
        x = x.float()
        p, g = self.cfg.latent_pool, self.cfg.latent_grid
        if p > 1:
            lead, c = x.shape[:-2], x.shape[-1]
            x = x.reshape(*lead, g // p, p, g // p, p, c).mean(dim=(-4, -2)).reshape(*lead, -1, c)
        return F.layer_norm(x, (x.shape[-1],))

    def _image_tokens(self, inp: DiTInputs) -> torch.Tensor:
        b = inp.cur_latents.shape[0]
        if self.channel:  # [B, P, (H + 2) C]: frames side by side on each patch, the future's channels last
            fut = torch.where(inp.fut_absent[:, None, None], self.register_obs.to(inp.fut_in.dtype), inp.fut_in)
            frames = torch.cat([inp.hist_latents, inp.cur_latents.unsqueeze(1), fut.unsqueeze(1)], dim=1)
            x = self.latent_in(frames.transpose(1, 2).flatten(2))
            x = x + self.patch_pos.to(x.dtype)
        else:
            past = self.latent_in(torch.cat([inp.hist_latents, inp.cur_latents.unsqueeze(1)], dim=1))
            fut = self.latent_in(inp.fut_in)
            fut = torch.where(inp.fut_absent[:, None, None], self.register_obs.to(fut.dtype).expand_as(fut), fut)
            x = torch.cat([past, fut.unsqueeze(1)], dim=1)  # [B, H + 2, P, D]
            x = x + self.patch_pos.to(x.dtype) + self.frame_emb.to(x.dtype)[None, :, None]
            x = x.reshape(b, -1, x.shape[-1])
        if self.cfg.image_registers:  # first, so the future frame's tokens stay last in either layout
            x = torch.cat([self.image_registers.to(x.dtype).expand(b, -1, -1), x], dim=1)
        return x

    def _action_tokens(self, inp: DiTInputs) -> torch.Tensor:
        def with_mask(v: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
            mm = m.unsqueeze(1).expand_as(v) if v.dim() == 3 else m
            return torch.cat([v * mm, mm], dim=-1)

        m = inp.action_mask
        hist = self.action_in(with_mask(inp.hist_actions, m) * inp.hist_mask.unsqueeze(-1))  # padding: values, mask 0
        state = self.state_in(with_mask(inp.state, inp.state_mask)).unsqueeze(1)
        chunk = self.action_in(with_mask(inp.act_in, m))
        chunk = torch.where(inp.act_absent[:, None, None], self.register_act.to(chunk.dtype).expand_as(chunk), chunk)
        return torch.cat([hist, state, chunk], dim=1) + self.action_pos.to(chunk.dtype)

    def forward(self, inp: DiTInputs) -> DiTOutputs:
        b = inp.t.shape[0]
        c = self.time_emb(inp.t) + self.task_emb(inp.task)
        shared = [f(c).view(b, 6, -1) for f in self.adaln] if hasattr(self, "adaln") else None
        text = self.text_proj(inp.text.float())
        text = torch.cat([self.null_text.to(text.dtype).expand(b, 1, -1), text], dim=1)
        text_mask = KeyMask(F.pad(inp.text_mask.bool(), (1, 0), value=True))
        xs = [self._image_tokens(inp), self._action_tokens(inp)]
        align = None
        recompute = self.checkpointing and self.training and torch.is_grad_enabled()
        for i, block in enumerate(self.blocks):
            if recompute:
                xs = checkpoint(block, xs, shared, c, text, text_mask, use_reentrant=False)
            else:
                xs = block(xs, shared, c, text, text_mask)
            if i == self.align_block:
                align = xs[ACTION][:, -1]
        assert align is not None
        k, p = self.cfg.chunk, self.cfg.patches
        return DiTOutputs(
            action=self.action_head(xs[ACTION][:, -k:], c), latent=self.latent_head(xs[IMAGE][:, -p:], c), align=align
        )
