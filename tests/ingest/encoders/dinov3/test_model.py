"""The DINOv3 encoder: loading a local folder, the random-weight ViT-S/16, clear load errors (running it over frames:
`dinov3/test_stream.py`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import DINOv3ViTModel

from ingest.encoders.dinov3.model import EncoderLoadError, EncoderSpec, encoder_config, load_encoder
from tests.fixtures.dinov3 import write_tiny_dinov3


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_dinov3(tmp_path_factory.mktemp("dinov3") / "tiny")


def test_loads_the_saved_weights(tiny: Path) -> None:
    model = load_encoder(EncoderSpec(model=str(tiny)))
    ref = DINOv3ViTModel.from_pretrained(tiny)
    assert not model.training
    for (name, a), (_, b) in zip(model.state_dict().items(), ref.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert EncoderSpec(model=str(tiny)).model_name == str(tiny.resolve())
    assert EncoderSpec(device="cuda").compiled and not EncoderSpec().compiled  # default: compiled on CUDA only
    assert not EncoderSpec(device="cuda", compile=False).compiled and EncoderSpec(compile=True).compiled


def test_random_init_is_vit_s16_with_registers_and_seeded() -> None:
    spec = EncoderSpec(random_init=True, seed=3)
    cfg = encoder_config(spec)
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.patch_size) == (384, 12, 6, 16)
    assert cfg.num_register_tokens == 4 and spec.model_name.startswith("random-init:")
    a, b = load_encoder(spec), load_encoder(spec)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert 21e6 < sum(p.numel() for p in a.parameters()) < 22.5e6


def test_load_errors_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(EncoderLoadError, match="pass --model"):
        load_encoder(EncoderSpec())
    with pytest.raises(EncoderLoadError, match=r"no config\.json"):
        load_encoder(EncoderSpec(model=str(tmp_path)))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(EncoderLoadError, match="expected 'dinov3_vit'"):
        load_encoder(EncoderSpec(model=str(tmp_path)))
    write_tiny_dinov3(tmp_path / "noweights")
    (tmp_path / "noweights" / "model.safetensors").write_bytes(b"\0" * 64)
    with pytest.raises(EncoderLoadError, match="cannot load the weights"):
        load_encoder(EncoderSpec(model=str(tmp_path / "noweights")))
