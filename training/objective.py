"""The training objective as one module (what DDP wraps): MM-DiT flow-matching losses routed per sample, plus the
optional LARA terms (latent action model loss and the alignment of a DiT hidden state, `ModelConfig.align_hidden`,
with the LAM's latent action).

Total = action flow loss + latent flow loss + align_weight * (1 - cos) + lam_weight * (reconstruction + VQ).
The flow losses are means over the samples whose task puts the loss on that modality, each sample's error a mean
over its own real action dims (embodiment mask) and chunk steps inside the episode (`chunk_mask`: steps past the end
give zero loss and zero gradient) or latent tokens. The alignment applies where the DiT predicts actions (policy,
inverse dynamics) and a future frame exists; the LAM learns from every sample with a future frame (`future_mask`),
actionless video included.

Flow matching: time sampling, masked per-sample losses, and the Euler sampler.

Convention (GR00T / LDA public code): x_t = t x + (1 - t) noise, so t = 1 is clean data; the network predicts the
velocity x - noise; sampling integrates from noise at t = 0 to t = 1 in a few Euler steps (4 by default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from training.config import FlowConfig, ModelConfig, TrainConfig
from training.lam import LatentActionModel
from training.layers import Mlp
from training.model import DiTInputs, MMDiT
from training.routing import ACTION_ROLE, FUTURE_ROLE, route


def sample_time(n: int, cfg: FlowConfig, generator: torch.Generator, device: torch.device | str) -> torch.Tensor:
    """t = (s - u) / s with u ~ Beta(alpha, 1), drawn by inverse CDF (u = U^(1/alpha)), which takes a generator.

    alpha = 1.5 puts u near 1, i.e. t near 0: training sees mostly heavily noised inputs. The draws with u > s
    (0.15 % for s = 0.999) would give a t just below 0; they are clamped to pure noise, t = 0."""
    uniform = torch.rand(n, generator=generator, device=device)
    u = uniform.pow(1.0 / cfg.beta_alpha)
    return ((cfg.s - u) / cfg.s).clamp_min(0.0)


def latent_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample mean squared error over the future latent tokens: [B, P, C] x2 -> [B]."""
    return (pred.float() - target.float()).square().mean(dim=(1, 2))


def weighted_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean of `values` over the samples whose weight is 1 (0 when none): the batch loss of one objective."""
    return (values * weights).sum() / weights.sum().clamp_min(1)


def per_task_sums(values: torch.Tensor, task: torch.Tensor, num_tasks: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of `values`, count) per task id, by scatter-add over the batch (for logging per-task losses)."""
    sums = torch.zeros(num_tasks, device=values.device).index_add_(0, task, values.detach().float())
    counts = torch.zeros(num_tasks, device=values.device).index_add_(0, task, torch.ones_like(values).float())
    return sums, counts


def euler(
    velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], noise: torch.Tensor, steps: int
) -> torch.Tensor:
    """Integrate dx/dt = velocity(x, t) from t = 0 (x = noise) to t = 1 in `steps` equal Euler steps."""
    x, dt = noise, 1.0 / steps
    for i in range(steps):
        t = torch.full((x.shape[0],), i * dt, device=x.device, dtype=torch.float32)
        x = x + dt * velocity(x, t).to(x.dtype)
    return x


@dataclass
class Noise:
    t: torch.Tensor  # [B]
    action: torch.Tensor  # [B, K, A]
    latent: torch.Tensor  # [B, P, C]


@dataclass
class Losses:
    total: torch.Tensor
    action: torch.Tensor
    latent: torch.Tensor
    per_sample: torch.Tensor  # [B] each sample's flow loss (on whichever modality its task trains)
    align: torch.Tensor | None = None
    lam: torch.Tensor | None = None
    codes: torch.Tensor | None = None  # [B, queries] the LAM's code indices (codebook usage)
    z: torch.Tensor | None = None  # [B, queries * code_dim] the continuous latent action, detached (its spread)


def draw_noise(batch_size: int, cfg: ModelConfig, flow: FlowConfig, generator: torch.Generator) -> Noise:
    """Flow time and noise for one batch, from `generator` alone (the trainer seeds it per step)."""
    device = generator.device
    t = sample_time(batch_size, flow, generator, device)
    act = torch.randn(batch_size, cfg.chunk, cfg.action_dim, generator=generator, device=device)
    lat = torch.randn(batch_size, cfg.patches, cfg.latent_dim, generator=generator, device=device)
    return Noise(t=t, action=act, latent=lat)


def chunk_loss(
    pred: torch.Tensor, target: torch.Tensor, action_mask: torch.Tensor, chunk_mask: torch.Tensor
) -> torch.Tensor:
    """Per-sample mean squared error over the real dims of the chunk steps inside the episode: [B, K, A] x2, [B, A],
    [B, K] -> [B]. Nothing to learn gives 0, never NaN."""
    m = chunk_mask.unsqueeze(-1) * action_mask.unsqueeze(1)
    se = (pred.float() - target.float()).square() * m
    return se.sum(dim=(1, 2)) / m.sum(dim=(1, 2)).clamp_min(1)


@dataclass
class Prepared:
    hist: torch.Tensor
    cur: torch.Tensor
    fut: torch.Tensor


def prepare(model: MMDiT, batch: dict[str, torch.Tensor]) -> Prepared:
    return Prepared(
        hist=model.prepare_latents(batch["hist_latents"]),
        cur=model.prepare_latents(batch["cur_latents"]),
        fut=model.prepare_latents(batch["fut_latents"]),
    )


BATCH_INPUTS = ("hist_actions", "hist_mask", "state", "action_mask", "state_mask", "text", "text_mask")  # as batched


def dit_inputs(batch: dict[str, torch.Tensor], lat: Prepared, **routed: torch.Tensor) -> DiTInputs:
    """The DiT's inputs: the batch's prepared latents and `BATCH_INPUTS`, and what the task routes (`act_in`,
    `act_absent`, `fut_in`, `fut_absent`, `t`, `task`)."""
    return DiTInputs(hist_latents=lat.hist, cur_latents=lat.cur, **{k: batch[k] for k in BATCH_INPUTS}, **routed)


class LDAObjective(nn.Module):
    def __init__(self, cfg: TrainConfig) -> None:
        super().__init__()
        self.lara = cfg.lara
        # the routing tables move with the module (`.cuda()`), so a step copies nothing from the host; not saved
        self.register_buffer("action_role", ACTION_ROLE.clone(), persistent=False)
        self.register_buffer("future_role", FUTURE_ROLE.clone(), persistent=False)
        self.dit = MMDiT(cfg.model)
        self.lam: LatentActionModel | None = None
        self.projector: Mlp | None = None
        if cfg.lara.mode != "off":
            self.lam = LatentActionModel(cfg.lam, cfg.model)
            self.projector = Mlp(cfg.model.hidden, 1.0, out=cfg.lam.latent_size)
            if cfg.lara.mode == "frozen":
                self.lam.requires_grad_(False)
            if cfg.lara.mode == "pretrain":  # the LAM alone: no DiT step, no projector
                self.dit.requires_grad_(False)
                self.projector.requires_grad_(False)

    def forward(self, batch: dict[str, torch.Tensor], noise: Noise) -> Losses:
        lat = prepare(self.dit, batch)
        if self.lara.mode == "pretrain":
            return self._pretrain(lat, batch["future_mask"])
        task = batch["task"]
        # steps past the episode's end: zero, so neither the model's input nor any loss depends on their values
        actions = batch["actions"] * batch["chunk_mask"].unsqueeze(-1).to(batch["actions"].dtype)
        r = route(actions, lat.fut, task, noise.t, noise.action, noise.latent, (self.action_role, self.future_role))
        inputs = {k: getattr(r, k) for k in ("act_in", "act_absent", "fut_in", "fut_absent")}
        out = self.dit(dit_inputs(batch, lat, **inputs, t=noise.t, task=task))
        la = chunk_loss(out.action, r.act_target, batch["action_mask"], batch["chunk_mask"])
        has_future = batch["future_mask"].to(la.dtype)
        ll = latent_loss(out.latent, r.fut_target)
        losses = Losses(
            total=torch.zeros((), device=la.device),
            action=weighted_mean(la, r.act_weight),
            latent=weighted_mean(ll, r.fut_weight),
            per_sample=la * r.act_weight + ll * r.fut_weight,
        )
        losses.total = losses.action + losses.latent
        if self.lam is not None and self.projector is not None:
            if self.lara.mode == "frozen":
                with torch.no_grad():
                    z = self.lam.eval().encode(lat.cur, lat.fut)
            else:
                lam_out = self.lam(lat.cur, lat.fut)
                z = lam_out.z
                losses.lam = weighted_mean(lam_out.recon, has_future) + lam_out.vq
                losses.total = losses.total + self.lara.lam_weight * losses.lam
                losses.codes = lam_out.codes
            losses.z = z.detach().flatten(1)
            cos = F.cosine_similarity(self.projector(out.align).float(), z.flatten(1).float(), dim=-1)
            losses.align = weighted_mean(1 - cos, r.act_weight * has_future)
            losses.total = losses.total + self.lara.align_weight * losses.align
        return losses

    def _pretrain(self, lat: Prepared, future_mask: torch.Tensor) -> Losses:
        """LARA's LAM pretraining: reconstruction + VQ of the future latent from the current one and the code."""
        assert self.lam is not None
        out = self.lam(lat.cur, lat.fut)
        lam = weighted_mean(out.recon, future_mask.to(out.recon.dtype)) + out.vq
        zero = torch.zeros((), device=lam.device)
        return Losses(
            total=lam,
            action=zero,
            latent=zero,
            per_sample=out.recon.detach(),
            lam=lam,
            codes=out.codes,
            z=out.z.detach().flatten(1),
        )
