"""Checkpoints (training/checkpoint.py): a save and load gives back every tensor bit for bit (model, optimizer
moments, RNG state) and the config and statistics as they were; `latest` names the newest; old ones are pruned; a
file that is not an eidata checkpoint, or holds code rather than data, is refused by name; LAM weights load from a
safetensors file or a training checkpoint and say why when they cannot."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from tests.training.corpus import tiny_config
from tests.training.helpers import TASKS, batch_with_tasks, objective
from training.checkpoint import (
    CheckpointError,
    checkpoint_config,
    latest_checkpoint,
    load_checkpoint,
    load_lam_weights,
    save_checkpoint,
    unwrap,
)
from training.lam import LatentActionModel
from training.normalize import FeatureNorm, NormStats

REPO = Path(__file__).resolve().parents[2]

STATS = NormStats(
    datasets={"datasets/sim/arm": {"action": FeatureNorm(mean=[0.5], std=[0.25], count=3, q01=[0.0], q99=[1.0])}}
)


def _state(lara: str = "joint") -> dict:
    """The trainer's checkpoint content after one real optimizer step of a tiny model (Adam moments filled in)."""
    obj, cfg = objective(lara=lara)
    opt = torch.optim.AdamW([p for p in obj.parameters() if p.requires_grad], lr=1e-3)
    batch, noise = batch_with_tasks(cfg, TASKS)
    obj(batch, noise).total.backward()
    opt.step()
    return {
        "step": 1,
        "samples_drawn": 4,
        "world_size": 1,
        "config": tiny_config(Path("m"), lara=lara, lam_weights="x" if lara == "frozen" else None).model_dump_json(),
        "norm_stats": STATS.model_dump_json(),
        "model": obj.state_dict(),
        "optimizer": opt.state_dict(),
        "rng_torch": torch.get_rng_state(),
    }


def _equal(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    return a == b


def test_save_and_load_is_bit_exact(tmp_path: Path) -> None:
    state = _state()
    path = save_checkpoint(tmp_path, state, step=1, keep=3)
    assert path == tmp_path / "checkpoints/step_00000001.pt"
    back = load_checkpoint(path)
    assert _equal({k: back[k] for k in state}, state)
    assert len(back["optimizer"]["state"]) > 0  # the Adam moments are there, not just the hyperparameters
    cfg, stats = checkpoint_config(back)
    assert cfg.model_dump_json() == state["config"] and stats == STATS


def test_latest_names_the_newest_and_old_ones_are_pruned(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path) is None
    state = {"step": 0, "model": {"w": torch.arange(3.0)}}
    for step in (1, 2, 3, 10):
        save_checkpoint(tmp_path, {**state, "step": step}, step=step, keep=2)
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*.pt")) == [
        "step_00000003.pt",
        "step_00000010.pt",
    ]
    latest = latest_checkpoint(tmp_path)
    assert latest is not None and load_checkpoint(latest)["step"] == 10
    assert not list((tmp_path / "checkpoints").glob("*.tmp*"))  # atomic writes leave nothing behind
    latest.unlink()  # a pointer to a file that is gone is no checkpoint
    assert latest_checkpoint(tmp_path) is None


class _Code:
    def __reduce__(self) -> tuple:
        return (print, ("a checkpoint ran code",))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (lambda p: torch.save({"model": {}}, p), "not an eidata training checkpoint"),
        (lambda p: p.write_bytes(b"\x00garbage"), "cannot load checkpoint"),
        (
            lambda p: p.write_bytes(pickle.dumps({"format": "eidata-train-ckpt-1", "x": _Code()})),
            "cannot load checkpoint",
        ),
    ],
    ids=["foreign", "corrupt", "code"],
)
def test_what_is_not_a_checkpoint_is_refused_by_name(
    tmp_path: Path, content, says: str, capfd: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "step_00000001.pt"
    content(path)
    with pytest.raises(CheckpointError, match=rf"step_00000001\.pt: {says}"):
        load_checkpoint(path)
    assert "ran code" not in capfd.readouterr().out  # weights_only: the pickled call was never made


def test_unwrap_finds_the_module_under_compile() -> None:
    plain = nn.Linear(2, 2)
    compiled = torch.compile(plain)
    assert unwrap(compiled) is plain and unwrap(plain) is plain
    assert list(unwrap(compiled).state_dict()) == ["weight", "bias"]  # no `_orig_mod.` prefix in a checkpoint


def test_lam_weights_from_either_file_and_the_errors(tmp_path: Path) -> None:
    obj, cfg = objective(lara="joint", seed=1)
    assert obj.lam is not None
    fresh = LatentActionModel(cfg.lam, cfg.model)
    assert not _equal(fresh.state_dict(), obj.lam.state_dict())
    save_file({k: v.contiguous() for k, v in obj.lam.state_dict().items()}, str(tmp_path / "lam.safetensors"))
    load_lam_weights(fresh, tmp_path / "lam.safetensors")
    assert _equal(fresh.state_dict(), obj.lam.state_dict())
    fresh = LatentActionModel(cfg.lam, cfg.model)
    ckpt = save_checkpoint(tmp_path / "run", {"model": obj.state_dict()}, step=5, keep=1)
    load_lam_weights(fresh, ckpt)
    assert _equal(fresh.state_dict(), obj.lam.state_dict())

    no_lam = save_checkpoint(tmp_path / "off", {"model": objective(lara="off")[0].state_dict()}, step=1, keep=1)
    with pytest.raises(CheckpointError, match="no LAM"):
        load_lam_weights(fresh, no_lam)
    with pytest.raises(CheckpointError, match="no such file"):
        load_lam_weights(fresh, tmp_path / "missing.safetensors")
    other = LatentActionModel(cfg.lam.model_copy(update={"code_dim": cfg.lam.code_dim * 2}), cfg.model)
    with pytest.raises(CheckpointError, match="do not fit this LAM config"):
        load_lam_weights(other, tmp_path / "lam.safetensors")


def test_a_checkpoint_config_that_is_not_json_is_refused_naming_it() -> None:
    """The JSON a checkpoint holds is parsed by `schemas.json_document.parsed_json`: not JSON, or nested past the
    recursion limit, is a ValueError naming which of its documents."""
    with pytest.raises(ValueError, match="the checkpoint's config: nested too deep"):
        checkpoint_config({"config": "[" * 100_000 + "]" * 100_000, "norm_stats": "{}"})
    with pytest.raises(ValueError, match="the checkpoint's config: not valid JSON"):
        checkpoint_config({"config": "{", "norm_stats": "{}"})
