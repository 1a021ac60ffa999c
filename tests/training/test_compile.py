"""The training step under torch.compile: one graph on every attention backend the selector can choose, text in
fixed buckets (one compile per bucket, outputs as without padding), compiled = eager."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch._dynamo.testing import CompileCounter

from schemas.tiers import Task
from tests.fixtures.attention import forced_backend
from tests.training.corpus import tiny_config
from tests.training.helpers import TASKS, batch_with_tasks, objective
from training.attention import choose_backend, pad_text, text_keys
from training.config import PRESETS
from training.distributed import DistInfo
from training.episodes import build_index
from training.normalize import compute_stats
from training.trainer import _loader, compile_enabled

OPTIONS = PRESETS["tiny"].model.model_copy(
    update={"per_block_adaln": True, "image_layout": "channel", "image_registers": 4}
)


@pytest.fixture(autouse=True)
def _fresh_dynamo() -> None:
    torch._dynamo.reset()


@pytest.mark.parametrize(
    ("backend", "lara", "model", "checkpointing"),
    [("sdpa", "joint", None, False), ("reference", "joint", None, False), ("sdpa", "off", OPTIONS, True)],
    ids=["sdpa", "reference", "sdpa-lda-options-checkpointing"],
)
def test_forward_and_loss_trace_in_one_graph(backend: str, lara: str, model: object, checkpointing: bool) -> None:
    """The whole objective (DiT, routing, the LAM with a dead-code restart due) has no graph break: no host sync,
    no data-dependent shape. The FlashAttention varlen path this replaces gave 12 breaks for 2 blocks."""
    choose_backend("cpu", backend)
    obj, cfg = objective(lara=lara, model=model)  # type: ignore[arg-type]
    obj.dit.checkpointing = checkpointing
    if obj.lam is not None:
        obj.lam.vq.idle[:5] = 100  # five dead codes: the restart runs inside the traced step
    batch, noise = batch_with_tasks(cfg, TASKS * 2)
    try:
        explained = torch._dynamo.explain(obj)(pad_text(batch, 8, 64), noise)
    finally:
        choose_backend("cpu", "auto")
    assert explained.graph_break_count == 0, [r.reason for r in explained.break_reasons]
    assert explained.graph_count == 1


def test_text_keys_bucket() -> None:
    assert [text_keys(n, 64, 256) for n in (0, 5, 63, 64, 127, 255)] == [64, 64, 64, 128, 128, 256]
    with pytest.raises(ValueError, match="text_max"):
        text_keys(256, 64, 256)  # 257 keys with the null token


def test_lengths_in_one_bucket_share_a_shape_and_a_compile() -> None:
    obj, cfg = objective(lara="off")
    counter = CompileCounter()
    step = torch.compile(obj, backend=counter, dynamic=False)
    shapes = []
    for length in (5, 20, 40):  # all within 63 text tokens + the null token
        batch, noise = batch_with_tasks(cfg, [Task.policy, Task.forward_dynamics])
        batch["text"], batch["text_mask"] = batch["text"][:, :1].repeat(1, length, 1), torch.ones(2, length).bool()
        padded = pad_text(batch, 64, 256)
        shapes.append(padded["text"].shape)
        step(padded, noise)
    assert len(set(shapes)) == 1 and shapes[0][1] == 63
    assert counter.frame_count == 1
    batch["text"], batch["text_mask"] = batch["text"][:, :1].repeat(1, 70, 1), torch.ones(2, 70).bool()
    step(pad_text(batch, 64, 256), noise)  # the next bucket: one more compile
    assert counter.frame_count == 2


def test_padded_text_gives_the_unpadded_reference_outputs() -> None:
    obj, cfg = objective(lara="off")
    batch, noise = batch_with_tasks(cfg, TASKS)
    with torch.no_grad():
        padded = obj(pad_text(batch, 64, 256), noise).per_sample
        with forced_backend("reference"):
            plain = obj(batch, noise).per_sample
    torch.testing.assert_close(padded, plain, atol=1e-5, rtol=1e-5)


def test_compiled_step_equals_eager() -> None:
    """aot_eager: the traced and functionalized graph (dead-code restart included) against eager execution."""
    grads, losses, books = [], [], []
    for compiled in (False, True):
        obj, cfg = objective(lara="joint")
        obj.lam.vq.idle[:5] = 100  # type: ignore[union-attr]
        batch, noise = batch_with_tasks(cfg, TASKS * 2)
        step = torch.compile(obj, backend="aot_eager", dynamic=False) if compiled else obj
        loss = step(pad_text(batch, 64, 256), noise).total
        loss.backward()
        losses.append(loss.detach())
        grads.append({n: p.grad.clone() for n, p in obj.named_parameters() if p.grad is not None})
        books.append(obj.lam.vq.codebook.weight.detach().clone())  # type: ignore[union-attr]
    torch.testing.assert_close(losses[1], losses[0], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(books[1], books[0])
    assert grads[0].keys() == grads[1].keys()
    for name, g in grads[0].items():
        torch.testing.assert_close(grads[1][name], g, atol=1e-5, rtol=1e-4, msg=name)


def test_compile_auto_is_on_for_cuda_only() -> None:
    assert [compile_enabled("auto", d) for d in ("cuda", "cpu")] == [True, False]
    assert compile_enabled("on", "cpu") and not compile_enabled("off", "cuda")


def test_trainer_batches_come_in_text_buckets(manifest: Path) -> None:
    """The loader pads in its collate (before pinning), so every step sees a bucketed text width."""
    cfg = tiny_config(manifest, text_bucket=16, text_max=64)
    index = build_index(manifest, "train", cfg.model, cfg.data)
    dist = DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    loader = _loader(cfg, index, compute_stats(index), dist, start=0)
    for _, batch in zip(range(3), loader, strict=False):
        assert (batch["text"].shape[1] + 1) % 16 == 0 and batch["text_mask"].shape == batch["text"].shape[:2]
