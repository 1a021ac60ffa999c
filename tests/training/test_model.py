"""MM-DiT shapes for the four tasks, register tokens for absent modalities, AdaLN-Zero start, the presets."""

from __future__ import annotations

import pytest
import torch

from schemas.tiers import Task
from tests.training.helpers import TASKS, batch_with_tasks, objective
from training.config import PRESETS, config_from_preset
from training.model import MMDiT
from training.objective import dit_inputs, prepare
from training.routing import route


def _inputs(obj, batch, noise):  # type: ignore[no-untyped-def]
    lat = prepare(obj.dit, batch)
    r = route(batch["actions"], lat.fut, batch["task"], noise.t, noise.action, noise.latent)
    return (
        lat,
        r,
        dit_inputs(
            batch,
            lat,
            act_in=r.act_in,
            act_absent=r.act_absent,
            fut_in=r.fut_in,
            fut_absent=r.fut_absent,
            t=noise.t,
            task=batch["task"],
        ),
    )


@pytest.mark.parametrize("task", TASKS)
def test_shapes_for_each_task(task: Task) -> None:
    obj, cfg = objective()
    m = cfg.model
    batch, noise = batch_with_tasks(cfg, [task] * 3)
    _, _, inp = _inputs(obj, batch, noise)
    assert inp.hist_latents.shape == (3, m.history, m.patches, m.latent_dim)  # pooled 14x14 -> 7x7
    out = obj.dit(inp)
    assert out.action.shape == (3, m.chunk, m.action_dim)
    assert out.latent.shape == (3, m.patches, m.latent_dim)
    assert out.align.shape == (3, m.hidden)
    losses = obj(batch, noise)
    assert torch.isfinite(losses.total) and losses.align is not None and losses.lam is not None
    # the loss lands on the noised modality only
    on_action = task in (Task.policy, Task.inverse_dynamics)
    assert (losses.action > 0) == on_action and (losses.latent > 0) == (not on_action)


@pytest.mark.parametrize(("task", "absent"), [(Task.visual_forecasting, "act_in"), (Task.policy, "fut_in")])
def test_absent_modality_is_a_register_whatever_its_values(task: Task, absent: str) -> None:
    obj, cfg = objective()
    batch, noise = batch_with_tasks(cfg, [task] * 2)
    _, _, inp = _inputs(obj, batch, noise)
    out = obj.dit(inp)
    setattr(inp, absent, torch.randn_like(getattr(inp, absent)) * 10)
    out2 = obj.dit(inp)
    torch.testing.assert_close(out2.action, out.action)
    torch.testing.assert_close(out2.latent, out.latent)


def test_present_modality_is_read() -> None:
    """The counter-check: the same change to a given (clean) modality does change the outputs."""
    obj, cfg = objective()
    batch, noise = batch_with_tasks(cfg, [Task.forward_dynamics] * 2)
    _, _, inp = _inputs(obj, batch, noise)
    out = obj.dit(inp)
    inp.act_in = torch.randn_like(inp.act_in) * 10
    assert not torch.allclose(obj.dit(inp).latent, out.latent)


def test_adaln_zero_start_predicts_zero() -> None:
    """At initialization every residual branch is gated off and both heads are zero."""
    obj, cfg = objective(randomize=False)
    batch, noise = batch_with_tasks(cfg, TASKS)
    _, _, inp = _inputs(obj, batch, noise)
    out = obj.dit(inp)
    assert torch.count_nonzero(out.action) == 0 and torch.count_nonzero(out.latent) == 0


def test_text_padding_is_ignored_and_no_text_is_fine() -> None:
    obj, cfg = objective()
    batch, noise = batch_with_tasks(cfg, TASKS)
    _, _, inp = _inputs(obj, batch, noise)
    out = obj.dit(inp)
    inp.text = inp.text.clone()
    inp.text[0, 3:] = 99.0  # padded positions of sample 0
    torch.testing.assert_close(obj.dit(inp).action, out.action)
    inp.text, inp.text_mask = inp.text[:, :0], inp.text_mask[:, :0]  # a batch with no text at all
    assert torch.isfinite(obj.dit(inp).action).all()


def test_residual_stays_in_the_autocast_dtype() -> None:
    """Under bf16 autocast every block hands on bf16 streams: the modulation is cast once per block, not a float32
    table added to bf16 (which made the whole residual float32 from block 0 on)."""
    obj, cfg = objective()
    batch, noise = batch_with_tasks(cfg, TASKS)
    dtypes = []
    for block in obj.dit.blocks:
        block.register_forward_hook(lambda _m, _i, out: dtypes.extend(x.dtype for x in out))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = obj(batch, noise)
    assert dtypes == [torch.bfloat16] * 2 * cfg.model.depth
    assert torch.isfinite(losses.total)


def test_lda_1b_preset_is_the_readme_size() -> None:
    cfg = PRESETS["lda-1b"].model
    assert (cfg.depth, cfg.hidden, cfg.heads, cfg.chunk, cfg.history) == (16, 1536, 32, 16, 2)
    with torch.device("meta"):
        dit = MMDiT(cfg)
    assert len(dit.blocks) == 16 and dit.align_block == 13  # LARA's hidden state -3 (test_align_depth.py)
    params = sum(p.numel() for p in dit.parameters())
    assert 1.0e9 < params < 1.3e9, params  # two 12*d^2 experts per block ~ 0.91 B, plus cross-attention


def test_preset_names() -> None:
    assert config_from_preset("tiny", "m").model.depth == 2
    with pytest.raises(KeyError, match="unknown preset"):
        config_from_preset("huge", "m")
