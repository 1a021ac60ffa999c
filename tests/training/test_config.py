"""The training configuration (training/config.py): an invalid value is refused with an error naming its field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.training.corpus import tiny_config
from training.config import MAX_WORKERS, PRESETS, DataConfig, LaraConfig, ModelConfig, TrainConfig, config_from_preset

TINY = PRESETS["tiny"].model


@pytest.mark.parametrize(
    ("field", "value"),
    [("per_block_adaln", "sometimes"), ("image_layout", "merged"), ("image_registers", -1)],
)
def test_invalid_values_name_their_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as err:
        ModelConfig.model_validate({**TINY.model_dump(), field: value})
    assert [e["loc"] for e in err.value.errors()] == [(field,)]


def test_runtime_values_name_their_field() -> None:
    base = tiny_config(Path("m")).model_dump()
    for field, value in (("compile", "sometimes"), ("attention", "cudnn"), ("text_max", 100), ("text_bucket", 0)):
        with pytest.raises(ValidationError) as err:
            TrainConfig.model_validate({**base, field: value})
        assert [e["loc"] for e in err.value.errors()] == [(field,)], field
    # configs written before compile took auto/on/off still load
    assert TrainConfig.model_validate({**base, "compile": True}).compile == "on"


def test_token_counts_follow_the_shapes() -> None:
    m = TINY  # 14x14 patches pooled by 2, history 2, chunk 16
    assert m.patches == 49 and m.frames == 4
    assert m.image_tokens == 4 * 49 and m.action_tokens == 2 + 1 + 16
    channel = ModelConfig.model_validate({**m.model_dump(), "image_layout": "channel", "image_registers": 3})
    assert channel.image_tokens == 3 + 49  # one token per patch, the registers in front


@pytest.mark.parametrize(("depth", "align_hidden", "block"), [(16, -3, 13), (16, 1, 0), (16, 16, 15), (2, -2, 0)])
def test_align_hidden_names_a_block_output(depth: int, align_hidden: int, block: int) -> None:
    """LARA's list is [input, block_0 out, ..., block_{depth-1} out]: index k (or k - depth - 1) is block k - 1."""
    m = ModelConfig.model_validate({**TINY.model_dump(), "depth": depth, "align_hidden": align_hidden})
    assert m.align_block == block


@pytest.mark.parametrize(
    ("update", "says"),
    [
        ({"align_hidden": 0}, "align_hidden 0"),  # the input state: no block
        ({"align_hidden": -3}, "align_hidden -3"),  # depth 2: -3 is the input too
        ({"heads": 5}, "not divisible by heads"),
        ({"latent_pool": 3}, "not divisible by latent_pool"),
    ],
)
def test_shapes_that_cannot_be_built_are_refused(update: dict, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        ModelConfig.model_validate({**TINY.model_dump(), **update})


def test_lara_weights_must_match_the_mode() -> None:
    with pytest.raises(ValidationError, match="give its weights"):
        LaraConfig(mode="frozen")
    with pytest.raises(ValidationError, match="no LAM to load weights"):
        LaraConfig(mode="off", weights="lam.safetensors")
    assert LaraConfig(mode="joint", weights="run/step.pt").weights == "run/step.pt"


def test_a_run_config_round_trips_and_text_max_fits_the_buckets(tmp_path: Path) -> None:
    cfg = tiny_config(Path("manifests/train_all"), batch_size=3, text_bucket=16, text_max=64)
    (tmp_path / "config.json").write_text(cfg.dump(), encoding="utf-8")
    assert TrainConfig.model_validate_json((tmp_path / "config.json").read_text(encoding="utf-8")) == cfg
    with pytest.raises(ValidationError, match="not a multiple of text_bucket 16"):
        tiny_config(Path("m"), text_bucket=16, text_max=40)
    with pytest.raises(KeyError, match=r"unknown preset 'huge'; known: \['lda-1b', 'tiny'\]"):
        config_from_preset("huge", "m")
    assert config_from_preset("lda-1b", "m").optim.warmup_steps == PRESETS["lda-1b"].warmup_steps


@pytest.mark.parametrize(("cpus", "workers"), [(1, 1), (2, 2), (3, 3), (16, MAX_WORKERS)])
def test_the_workers_default_to_the_cpus_this_process_may_run_on(
    cpus: int, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On 2 cores the loader starts 2 workers, not 4 (torch warned twice: "suggested max number of worker ... is 2");
    a machine of many cores keeps the cap; a value given is kept."""
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(cpus)))
    assert DataConfig().num_workers == workers
    assert DataConfig(num_workers=7).num_workers == 7
