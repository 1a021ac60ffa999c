"""Which DiT hidden state LARA aligns: `ModelConfig.align_hidden` indexes [input, block_0 out, ..., block_{L-1} out]
as LARA's `all_hidden_states`; its default -3 is the output of block L-3 (0-based), "DiT layer L-2" in LARA's table."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from schemas.tiers import Task
from tests.training.helpers import batch_with_tasks, objective
from training.config import PRESETS, ModelConfig
from training.model import ACTION


def _model(depth: int, align_hidden: int | None = None) -> ModelConfig:
    base = PRESETS["tiny"].model.model_dump(exclude={"align_hidden", "depth"})
    return ModelConfig(**base, depth=depth, **({} if align_hidden is None else {"align_hidden": align_hidden}))


@pytest.mark.parametrize(
    ("depth", "align_hidden", "block"),
    [(4, None, 1), (5, None, 2), (4, -1, 3), (4, 1, 0), (4, 2, 1)],
)
def test_aligned_features_are_the_named_blocks_output(depth: int, align_hidden: int | None, block: int) -> None:
    obj, cfg = objective(model=_model(depth, align_hidden))
    outs: list[torch.Tensor] = []
    for b in obj.dit.blocks:
        b.register_forward_hook(lambda m, i, out: outs.append(out[ACTION][:, -1]))
    aligned: list[torch.Tensor] = []
    obj.projector.register_forward_pre_hook(lambda m, args: aligned.append(args[0]))  # type: ignore[union-attr]
    batch, noise = batch_with_tasks(cfg, [Task.policy, Task.inverse_dynamics, Task.policy])
    obj(batch, noise)
    assert len(outs) == depth and len(aligned) == 1
    assert torch.equal(aligned[0], outs[block])
    # the blocks' outputs differ (randomised weights), so the equality above pins the block
    assert not any(torch.allclose(aligned[0], o) for i, o in enumerate(outs) if i != block)


def test_default_is_laras_hidden_state_minus_3() -> None:
    assert ModelConfig.model_fields["align_hidden"].default == -3
    assert PRESETS["lda-1b"].model.align_block == 13  # 16 blocks: hidden state 14 of 0..16


@pytest.mark.parametrize("bad", [0, -5, 5, 7])
def test_align_hidden_must_name_a_block_output(bad: int) -> None:
    with pytest.raises(ValidationError, match="align_hidden"):
        _model(4, bad)
    _model(4, 4), _model(4, -4)  # the last block and the first are fine
    with pytest.raises(ValidationError, match="align_hidden"):
        _model(2)  # two blocks: -3 is the input
