"""LDA's choices where ours differ only in cost (training/README.md): per-block AdaLN and the
channel-merged image layout with register tokens. Each is a validated config value, counted in the FLOPs (see
test_flops.py), and trains: the loss goes down and a resume takes the identical next steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.training.corpus import tiny_config
from tests.training.helpers import TASKS, batch_with_tasks, objective
from training.checkpoint import load_checkpoint
from training.config import PRESETS, ModelConfig, TrainConfig
from training.dataset import ManifestDataset, collate
from training.episodes import build_index
from training.model import MMDiT
from training.normalize import compute_stats
from training.objective import LDAObjective, draw_noise
from training.trainer import METRICS, train

TINY = PRESETS["tiny"].model
OPTIONS = {
    "per_block_adaln": {"per_block_adaln": True},
    "channel_layout": {"image_layout": "channel", "image_registers": 4},
}


def _model(**update: object) -> ModelConfig:
    return ModelConfig.model_validate({**TINY.model_dump(), **update})


def test_token_counts_and_lda_1b_sizes() -> None:
    big = PRESETS["lda-1b"].model
    channel = big.model_copy(update={"image_layout": "channel", "image_registers": 32})
    assert (big.image_tokens, channel.image_tokens) == (4 * 196, 196 + 32)
    with torch.device("meta"):
        single = sum(p.numel() for p in MMDiT(big).parameters())
        per_block = sum(p.numel() for p in MMDiT(big.model_copy(update={"per_block_adaln": True})).parameters())
    d = big.hidden  # each block's two experts get a (d -> 6 d) Linear and lose their 6 d offset table
    assert per_block - single == big.depth * 2 * (6 * d * d) - 2 * (6 * d * d + 6 * d)


def test_per_block_adaln_conditions_each_block_on_its_own() -> None:
    """Each block's modulation is its own function of (t, task): changing one block's Linear changes that block's
    modulation only; under adaLN-single every block sees the same condition-dependent part."""
    obj, cfg = objective(lara="off", model=_model(per_block_adaln=True))
    assert not hasattr(obj.dit, "adaln") and all(not hasattr(e, "table") for b in obj.dit.blocks for e in b.experts)
    c = torch.randn(3, cfg.model.hidden)
    e0, e1 = obj.dit.blocks[0].experts[0], obj.dit.blocks[1].experts[0]
    m0, m1 = e0.modulation(None, c, torch.float32), e1.modulation(None, c, torch.float32)
    assert not torch.allclose(torch.stack(m0), torch.stack(m1))
    with torch.no_grad():
        e1.adaln[-1].weight.add_(1.0)
    assert torch.equal(torch.stack(e0.modulation(None, c, torch.float32)), torch.stack(m0))


def test_channel_layout_reads_every_frame_and_the_register_stands_in() -> None:
    obj, cfg = objective(lara="off", model=_model(image_layout="channel", image_registers=4))
    from tests.training.test_model import _inputs

    batch, noise = batch_with_tasks(cfg, TASKS)
    _, _, inp = _inputs(obj, batch, noise)
    assert obj.dit._image_tokens(inp).shape == (4, 4 + cfg.model.patches, cfg.model.hidden)
    out = obj.dit(inp)
    inp.hist_latents = inp.hist_latents.clone()
    inp.hist_latents[:, 0] += 1.0  # the oldest history frame is read
    assert not torch.allclose(obj.dit(inp).action, out.action)
    absent = inp.fut_absent.clone()
    inp.fut_absent[:] = True
    first = obj.dit(inp).action
    inp.fut_in = torch.randn_like(inp.fut_in) * 10  # an absent future is the register, whatever its values
    torch.testing.assert_close(obj.dit(inp).action, first)
    assert absent.any() != absent.all()  # the batch mixed both cases


def _fixed_loss(objective: LDAObjective, batch: dict[str, torch.Tensor], cfg: TrainConfig) -> float:
    noise = draw_noise(batch["task"].shape[0], cfg.model, cfg.flow, torch.Generator().manual_seed(99))
    with torch.no_grad():
        return float(objective(batch, noise).total)


@pytest.mark.parametrize("option", list(OPTIONS))
def test_option_trains_and_resumes_identically(option: str, manifest: Path, tmp_path: Path) -> None:
    model = _model(**OPTIONS[option])
    cfg = tiny_config(manifest, lara="off", model=model, schedule_steps=24, ckpt_every=12)
    index = build_index(manifest, "train", cfg.model, cfg.data)
    data = ManifestDataset(index, compute_stats(index), cfg.model, index.manifest.routing)
    batch = collate([data[(i, i)] for i in range(0, len(index), max(1, len(index) // 32))])
    torch.manual_seed(cfg.seed)
    before = _fixed_loss(LDAObjective(cfg), batch, cfg)  # the trainer's initial weights
    train(cfg, tmp_path / "a", device="cpu")
    trained = LDAObjective(cfg)
    end_a = load_checkpoint(tmp_path / "a/checkpoints/step_00000024.pt")["model"]
    trained.load_state_dict(end_a)
    after = _fixed_loss(trained, batch, cfg)
    assert after < 0.9 * before, (before, after)  # measured 24 steps: 3.30 -> 2.76 per-block, 2.65 channel

    train(cfg, tmp_path / "b", resume=tmp_path / "a/checkpoints/step_00000012.pt", device="cpu")
    a, b = ([json.loads(x) for x in (tmp_path / run / METRICS).read_text().splitlines()] for run in ("a", "b"))
    assert [r["step"] for r in b] == list(range(13, 25))
    assert [(r["loss"], r["lr"]) for r in a[12:]] == [(r["loss"], r["lr"]) for r in b]
    end_b = load_checkpoint(tmp_path / "b/checkpoints/step_00000024.pt")["model"]
    assert end_a.keys() == end_b.keys() and all(torch.equal(end_a[k], end_b[k]) for k in end_a)


def test_readme_states_each_difference_from_lda() -> None:
    readme = (Path(__file__).resolve().parents[2] / "training" / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Where we differ from LDA", 1)[1].split("\n## ", 1)[0]
    for needle in ("adaLN-single", "--per-block-adaln", "--image-layout channel --image-registers 32", "chat template"):
        assert needle in section, needle
