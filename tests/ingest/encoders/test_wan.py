"""Wan2.2 encoders for LingBot-VA latents: frame sampling, preprocessing, VAE latents and UMT5 text embeddings, with a
tiny random model of the Wan2.2 VAE structure and a locally built tokenizer."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ingest.encoders.wan import encode_text, encode_video, load_text_encoder, load_vae, resize_frames, to_vae_input
from ingest.encoders.wan_config import WanModelError, check_wan22_vae, latent_grid, read_model_config
from tests.fixtures.wan import TEXT_DIM, wan22_vae_config, write_tiny_wan

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_tiny_wan(tmp_path_factory.mktemp("wan"))


@pytest.fixture(scope="module")
def vae(models: dict[str, Path]) -> torch.nn.Module:
    return load_vae(models["vae"], CPU)


def test_resize_is_bilinear_without_antialias_rounded() -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(3, 48, 64, 3), dtype=np.uint8)
    out = resize_frames(frames, 32, 32)
    ref = (
        F.interpolate(
            torch.from_numpy(frames).permute(0, 3, 1, 2).float(), size=(32, 32), mode="bilinear", align_corners=False
        )
        .permute(0, 2, 3, 1)
        .numpy()
    )
    assert out.shape == (3, 32, 32, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(np.float64) - ref).max() <= 0.5 + 1e-4
    np.testing.assert_array_equal(resize_frames(frames, 48, 64), frames)  # same size: untouched


def test_pixels_are_scaled_to_minus_one_one() -> None:
    x = to_vae_input(np.array([[[[0, 255, 51]]]], dtype=np.uint8))
    assert x.shape == (1, 3, 1, 1, 1)
    np.testing.assert_allclose(x.flatten().numpy(), [-1.0, 1.0, -0.6], atol=1e-6)


def test_video_latent_is_the_normalized_posterior_mean_flattened_f_h_w(vae: torch.nn.Module) -> None:
    frames = np.random.default_rng(1).integers(0, 256, size=(9, 64, 32, 3), dtype=np.uint8)
    latent, grid = encode_video(vae, frames)
    assert grid == latent_grid(9, 64, 32, vae.config) == (3, 4, 2)
    assert latent.dtype == torch.bfloat16 and latent.shape == (3 * 4 * 2, 48)
    with torch.no_grad():
        mu = vae.encode(to_vae_input(frames)).latent_dist.mean[0]  # (C, f, h, w)
    mean = torch.tensor(vae.config.latents_mean)[:, None, None, None]
    std = torch.tensor(vae.config.latents_std)[:, None, None, None]
    want = (mu - mean) / std
    for t, y, x in [(0, 0, 0), (2, 3, 1), (1, 2, 0)]:
        row = t * 4 * 2 + y * 2 + x
        torch.testing.assert_close(latent[row].float(), want[:, t, y, x], atol=2e-2, rtol=1e-2)


def test_first_latent_frame_sees_only_the_first_frame(vae: torch.nn.Module) -> None:
    """Wan's VAE is causal: frame_ids[0] alone makes latent frame 0, frames 1-4 latent frame 1, and so on."""
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, size=(9, 32, 32, 3), dtype=np.uint8)
    b = a.copy()
    b[5:] = 255 - b[5:]
    la, _ = encode_video(vae, a)
    lb, _ = encode_video(vae, b)
    per_frame = 2 * 2
    torch.testing.assert_close(la[: 2 * per_frame], lb[: 2 * per_frame])
    assert not torch.equal(la[2 * per_frame :], lb[2 * per_frame :])


def test_text_embedding_is_padded_with_zeros_after_the_real_tokens(models: dict[str, Path]) -> None:
    model, tok = load_text_encoder(models["text_encoder"], None, CPU)  # tokenizer found beside the encoder
    emb = encode_text(model, tok, "  Pick the   cube up ", text_len=32)
    assert emb.dtype == torch.bfloat16 and emb.shape == (32, TEXT_DIM)
    ids = tok("Pick the cube up").input_ids  # 4 words + </s>
    assert len(ids) == 5
    assert emb[5:].abs().sum() == 0 and bool((emb[:5].abs().sum(dim=1) > 0).all())
    with torch.no_grad():
        alone = model(torch.tensor([ids])).last_hidden_state[0]  # no padding at all: the mask must match it
    torch.testing.assert_close(emb[:5].float(), alone.float(), atol=1e-2, rtol=1e-2)
    torch.testing.assert_close(emb, encode_text(model, tok, "pick the cube up", text_len=32))  # Wan's prompt_clean


def test_a_wan21_vae_or_a_missing_folder_is_refused(tmp_path: Path) -> None:
    from diffusers import AutoencoderKLWan

    params = inspect.signature(AutoencoderKLWan.__init__).parameters
    wan21 = {k: p.default for k, p in params.items() if k != "self"}  # the class defaults are Wan2.1's VAE
    with pytest.raises(WanModelError, match=r"not a Wan2\.2 VAE.*z_dim"):
        check_wan22_vae(wan21)
    check_wan22_vae(wan22_vae_config(base_dim=8))  # widths may differ
    with pytest.raises(WanModelError, match=r"--vae PATH"):
        read_model_config(None, "Wan2.2 VAE", "--vae")
    with pytest.raises(WanModelError, match=r"no config\.json"):
        load_vae(tmp_path, CPU)


@pytest.mark.gpu
def test_cuda_bf16_latents_match_cpu(models: dict[str, Path], vae: torch.nn.Module) -> None:
    frames = np.random.default_rng(3).integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    gpu_vae = load_vae(models["vae"], torch.device("cuda"))
    assert next(gpu_vae.parameters()).dtype == torch.bfloat16
    on_gpu, grid = encode_video(gpu_vae, frames)
    on_cpu, grid_cpu = encode_video(vae, frames)
    assert grid == grid_cpu and on_gpu.device.type == "cpu"
    torch.testing.assert_close(on_gpu.float(), on_cpu.float(), atol=0.15, rtol=0.05)
