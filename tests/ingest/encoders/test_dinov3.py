"""The DINOv3 encoder: loading a local folder, token layout, clear load errors, and batching equivalence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import DINOv3ViTModel

from ingest.encoders.dinov3 import EncoderLoadError, EncoderSpec, encode, encoder_config, load_encoder
from tests.fixtures.dinov3 import write_tiny_dinov3


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_dinov3(tmp_path_factory.mktemp("dinov3") / "tiny")


@pytest.fixture(scope="module")
def pixels() -> torch.Tensor:
    return torch.randn(7, 3, 224, 224, generator=torch.Generator().manual_seed(1))


def test_loads_the_saved_weights(tiny: Path) -> None:
    model = load_encoder(EncoderSpec(model=str(tiny)))
    ref = DINOv3ViTModel.from_pretrained(tiny)
    assert not model.training
    for (name, a), (_, b) in zip(model.state_dict().items(), ref.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert EncoderSpec(model=str(tiny)).model_name == str(tiny.resolve())


def test_token_layout_cls_registers_then_patches(tiny: Path, pixels: torch.Tensor) -> None:
    model = load_encoder(EncoderSpec(model=str(tiny)))
    enc = encode(model, pixels, EncoderSpec(model=str(tiny), stored_dtype="float16"))
    assert enc.patches.shape == (7, 196, 384) and enc.cls_registers.shape == (7, 5, 384)
    assert enc.patches.dtype == enc.cls_registers.dtype == torch.float16
    with torch.inference_mode():
        out = model(pixel_values=pixels)
    hidden = out.last_hidden_state
    assert hidden.shape == (7, 201, 384)
    torch.testing.assert_close(enc.cls_registers[:, 0].float(), out.pooler_output, atol=2e-3, rtol=2e-3)  # CLS
    torch.testing.assert_close(enc.patches.float(), hidden[:, 5:], atol=2e-3, rtol=2e-3)


@pytest.mark.parametrize("stored", ["bfloat16", "float16"])
def test_batched_equals_one_by_one(tiny: Path, pixels: torch.Tensor, stored: str) -> None:
    spec = EncoderSpec(model=str(tiny), batch_size=3, stored_dtype=stored)  # 7 frames: batches of 3, 3, 1
    model = load_encoder(spec)
    batched = encode(model, pixels, spec)
    with torch.inference_mode():
        single = torch.cat([model(pixel_values=pixels[i : i + 1]).last_hidden_state for i in range(7)])
    dtype = batched.patches.dtype
    # the same frames alone through the model, rounded once to the stored dtype: equal within that dtype's ulp
    torch.testing.assert_close(batched.patches, single[:, 5:].to(dtype), atol=1e-2, rtol=1e-2)
    torch.testing.assert_close(batched.cls_registers, single[:, :5].to(dtype), atol=1e-2, rtol=1e-2)
    whole = encode(model, pixels, spec.model_copy(update={"batch_size": 7}))
    torch.testing.assert_close(batched.patches, whole.patches, atol=1e-2, rtol=1e-2)


@pytest.mark.slow  # an inductor compile: about 20 s on 2 CPUs
def test_compiled_encoder_pads_short_chunks_to_one_shape(tiny: Path, pixels: torch.Tensor) -> None:
    spec = EncoderSpec(model=str(tiny), batch_size=4, compile=True)
    model = load_encoder(spec)
    shapes: list[int] = []
    hook = model._orig_mod.register_forward_pre_hook(lambda _m, args, kw: shapes.append(kw["pixel_values"].shape[0]),
                                                     with_kwargs=True)  # fmt: skip
    try:
        out = encode(model, pixels[:6], spec)  # chunks of 4 and 2 (padded to 4)
    finally:
        hook.remove()
    assert out.patches.shape == (6, 196, 384) and set(shapes) == {4}
    plain = encode(load_encoder(spec.model_copy(update={"compile": False})), pixels[:6], spec)
    torch.testing.assert_close(out.patches, plain.patches, atol=1e-2, rtol=1e-2)


def test_no_frames_gives_empty_tensors(tiny: Path) -> None:
    spec = EncoderSpec(model=str(tiny))
    enc = encode(load_encoder(spec), torch.zeros(0, 3, 224, 224), spec)
    assert enc.patches.shape == (0, 196, 384) and enc.cls_registers.shape == (0, 5, 384)


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


@pytest.mark.gpu
def test_cuda_bf16_autocast_matches_cpu_fp32(tiny: Path, pixels: torch.Tensor) -> None:
    cpu = EncoderSpec(model=str(tiny), batch_size=4)
    gpu = cpu.model_copy(update={"device": "cuda"})
    ref = encode(load_encoder(cpu), pixels, cpu)
    model = load_encoder(gpu)
    got = encode(model, pixels, gpu)
    assert got.patches.dtype == torch.bfloat16 and got.patches.device.type == "cpu"
    # bf16 matmuls through 2 layers: a few bf16 ulps on LayerNorm-scale outputs
    torch.testing.assert_close(got.patches.float(), ref.patches.float(), atol=0.1, rtol=0.05)
    # pixel values sent as bf16 (what the job ships to GPU actors) give the very same outputs under autocast
    same = encode(model, pixels.to(torch.bfloat16), gpu)
    assert torch.equal(same.patches, got.patches)
