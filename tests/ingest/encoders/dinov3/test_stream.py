"""uint8 frames through the DINOv3 encoder on its device: token layout, batches across episode boundaries equal to
the host-normalized computation the job ran before (bit for bit on CPU), one static shape when compiled, outputs at
their final rows of one buffer, and on CUDA the same numbers as the CPU within bf16 autocast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ingest.encoders.dinov3.frames import PreprocessConfig
from ingest.encoders.dinov3.model import EncoderSpec, load_encoder
from ingest.encoders.dinov3.stream import FrameEncoder, PixelEncoder
from tests.fixtures.dinov3 import normalize_frames, preprocess, write_tiny_dinov3

CFG = PreprocessConfig()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_dinov3(tmp_path_factory.mktemp("dinov3") / "tiny")


@pytest.fixture(scope="module")
def episodes() -> list[np.ndarray]:
    """Three episodes of 224x224 uint8 frames (4, 0 and 3 frames): batches of 3 cross their boundaries."""
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, (n, 3, 224, 224), dtype=np.uint8) for n in (4, 0, 3)]


def _run(enc: FrameEncoder, episodes: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    stops = []
    for stop, ready in enc.encode(episodes):
        ready()
        stops.append(stop)
    patches, cls = enc.outputs(sum(len(e) for e in episodes))
    return patches.clone(), cls.clone(), stops


def test_token_layout_cls_registers_then_patches(tiny: Path, episodes: list[np.ndarray]) -> None:
    spec = EncoderSpec(model=str(tiny), stored_dtype="float16", batch_size=7)
    enc = FrameEncoder(spec, CFG)
    patches, cls, stops = _run(enc, episodes)
    assert patches.shape == (7, 196, 384) and cls.shape == (7, 5, 384) and stops == [7]
    assert patches.dtype == cls.dtype == torch.float16
    frames = torch.from_numpy(np.concatenate(episodes))
    with torch.inference_mode():
        out = enc.net.model(pixel_values=normalize_frames(frames, CFG))
    torch.testing.assert_close(cls[:, 0].float(), out.pooler_output, atol=2e-3, rtol=2e-3)  # CLS
    torch.testing.assert_close(patches.float(), out.last_hidden_state[:, 5:], atol=2e-3, rtol=2e-3)


def test_cpu_batches_equal_the_host_normalized_computation_bit_for_bit(tiny: Path, episodes: list[np.ndarray]) -> None:
    """What the job computed before (pixel values normalized on the host as float32, concatenated, cut into batches,
    cast to bf16) equals the new path exactly on CPU: same batches, same float32 expression, same kernels."""
    spec = EncoderSpec(model=str(tiny), batch_size=3)  # 7 frames: batches 3, 3, 1 across the episodes
    enc = FrameEncoder(spec, CFG)
    patches, cls, stops = _run(enc, episodes)
    assert stops == [3, 6, 7]
    pixels = preprocess(np.concatenate(episodes).transpose(0, 2, 3, 1), CFG)  # the processor's values (no resize)
    with torch.inference_mode():
        ref = torch.cat([enc.net.model(pixel_values=pixels[i : i + 3]).last_hidden_state for i in range(0, 7, 3)])
    assert torch.equal(patches, ref[:, 5:].bfloat16()) and torch.equal(cls, ref[:, :5].bfloat16())
    # and one frame at a time through the model: equal within the stored dtype's rounding
    with torch.inference_mode():
        single = torch.cat([enc.net.model(pixel_values=pixels[i : i + 1]).last_hidden_state for i in range(7)])
    torch.testing.assert_close(patches, single[:, 5:].bfloat16(), atol=1e-2, rtol=1e-2)


def test_outputs_are_one_buffer_reused_by_the_next_call(tiny: Path, episodes: list[np.ndarray]) -> None:
    enc = FrameEncoder(EncoderSpec(model=str(tiny), batch_size=3), CFG)
    first, _, _ = _run(enc, episodes)
    buf, _ = enc.outputs(7)
    ptr = buf.data_ptr()
    second, _, _ = _run(enc, episodes[2:])  # a smaller call writes into the same rows 0..2
    assert enc.outputs(3)[0].data_ptr() == ptr and torch.equal(second, first[4:])
    assert enc.outputs(7)[0].is_contiguous() and enc.outputs(7)[0][2:5].is_contiguous()  # files take row slices


def test_no_frames_gives_no_batches(tiny: Path) -> None:
    enc = FrameEncoder(EncoderSpec(model=str(tiny)), CFG)
    empty = np.zeros((0, 3, 224, 224), np.uint8)
    assert list(enc.encode([empty])) == [] and enc.outputs(0)[0].shape == (0, 196, 384)


@pytest.mark.slow  # an inductor compile: about 20 s on 2 CPUs
def test_compiled_encoder_pads_the_last_batch_to_one_shape(tiny: Path, episodes: list[np.ndarray]) -> None:
    spec = EncoderSpec(model=str(tiny), batch_size=4, compile=True)
    model = load_encoder(spec)
    shapes: list[int] = []
    hook = model.register_forward_pre_hook(
        lambda _m, args, kw: shapes.append(kw["pixel_values"].shape[0]), with_kwargs=True
    )
    try:
        patches, _, stops = _run(FrameEncoder(spec, CFG, model=model), episodes)  # batches of 4 and 3 (padded to 4)
    finally:
        hook.remove()
    assert stops == [4, 7] and set(shapes) == {4}
    plain, _, _ = _run(FrameEncoder(spec.model_copy(update={"compile": False}), CFG), episodes)
    torch.testing.assert_close(patches, plain, atol=1e-2, rtol=1e-2)


@pytest.mark.gpu
def test_cuda_streams_match_the_cpu(tiny: Path) -> None:
    """Pinned double buffers, the copy stream and bf16 autocast: the CPU's numbers within bf16 matmul rounding, for
    many batches (every slot reused) and a padded, compiled last batch."""
    rng = np.random.default_rng(3)
    eps = [rng.integers(0, 256, (n, 3, 224, 224), dtype=np.uint8) for n in (5, 9, 1, 6)]
    cpu, _, _ = _run(FrameEncoder(EncoderSpec(model=str(tiny), batch_size=4), CFG), eps)
    for compile_ in (False, True):
        gpu_spec = EncoderSpec(model=str(tiny), batch_size=4, device="cuda", compile=compile_)
        enc = FrameEncoder(gpu_spec, CFG)
        assert enc.host_in[0].is_pinned() and enc.outputs(21)[0].is_pinned()
        got, _, stops = _run(enc, eps)
        assert stops == [4, 8, 12, 16, 20, 21] and got.device.type == "cpu"
        torch.testing.assert_close(got.float(), cpu.float(), atol=0.1, rtol=0.05)


def test_the_compiled_encoder_is_one_graph() -> None:
    """What `torch.compile` gets on CUDA (normalization, the real-size ViT-S/16 + 4 registers, the cast) traces
    without a graph break: a break would split the compiled forward and add a host round trip per batch."""
    spec = EncoderSpec(random_init=True, device="cpu", batch_size=2)
    net = PixelEncoder(load_encoder(spec), PreprocessConfig(), torch.bfloat16).eval()
    frames = torch.randint(0, 256, (2, 3, 224, 224), dtype=torch.uint8)
    with torch.inference_mode():
        explained = torch._dynamo.explain(net)(frames)
    assert (explained.graph_count, explained.graph_break_count) == (1, 0), explained.break_reasons
