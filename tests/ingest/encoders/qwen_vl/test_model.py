"""The Qwen3-VL captioner and text embedder on a tiny random model loaded from a folder: prompt layout, greedy
generation, and batching equivalence (batched == one by one) for both, with left/right padding."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from ingest.encoders.qwen_vl.image import VLMError, preprocess_frames
from ingest.encoders.qwen_vl.model import (
    IMAGE_PAD,
    VISION_END,
    VISION_START,
    QwenVL,
    VisionInput,
    chat_prompt,
    pad_batch,
    sample_frame_indices,
)
from tests.fixtures.qwen_vl import write_tiny_qwen3_vl


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_qwen3_vl(tmp_path_factory.mktemp("qwen3vl-tiny"))


@pytest.fixture(scope="module")
def vlm(model_dir: Path) -> QwenVL:
    return QwenVL(model_dir, device="cpu")


def _vision(vlm: QwenVL, sizes: list[tuple[int, int]], seed: int) -> VisionInput:
    rng = np.random.default_rng(seed)
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in sizes]
    return VisionInput(*preprocess_frames(frames, vlm.image_config))


def _requests(vlm: QwenVL) -> list[tuple[str | None, VisionInput]]:
    """Different prompt lengths, frame counts and frame sizes, and one row without frames."""
    return [
        ("pick up the cup from the table", _vision(vlm, [(96, 128), (96, 128)], 1)),
        (None, _vision(vlm, [(64, 200)], 2)),
        ("put carrot on plate", _vision(vlm, [], 3)),
        ("open the drawer with the left hand, then close it", _vision(vlm, [(80, 80)] * 3, 4)),
    ]


def test_prompt_holds_one_vision_block_per_frame(vlm: QwenVL) -> None:
    v = _vision(vlm, [(96, 128), (64, 64)], 0)
    assert v.grid_thw.tolist() == [[1, 6, 8], [1, 4, 4]]  # 96x128 kept (within 64^2..96x128), 64x64 kept
    text = chat_prompt("Q?", v.grid_thw, 2)
    assert text == (
        "<|im_start|>user\n"
        + VISION_START
        + IMAGE_PAD * 12
        + VISION_END
        + VISION_START
        + IMAGE_PAD * 4
        + VISION_END
        + "Q?<|im_end|>\n<|im_start|>assistant\n"
    )
    ids = vlm.prompt_ids("pick up the cup", v)
    assert ids.count(vlm.image_token_id) == 16 == len(v.pixel_values) // 4
    assert "pick up the cup" in vlm.tokenizer.decode(ids)


def test_generate_runs_greedy_and_deterministic(vlm: QwenVL) -> None:
    reqs = _requests(vlm)
    first = vlm.generate_ids(reqs, max_new_tokens=10)
    assert first == vlm.generate_ids(reqs, max_new_tokens=10)
    assert all(0 < len(t) <= 10 for t in first[:2])
    assert len({tuple(t) for t in first}) == len(first)  # the model is not degenerate: the test can fail
    never = set(vlm.never_generate) | set(vlm.stop_ids)
    assert not any(never & set(t) for t in first)
    texts = vlm.generate(reqs, max_new_tokens=10)
    assert texts == [vlm.tokenizer.decode(t, skip_special_tokens=True).strip() for t in first]


def test_batched_generation_equals_one_by_one(vlm: QwenVL) -> None:
    reqs = _requests(vlm)
    batched = vlm.generate_ids(reqs, max_new_tokens=12)
    alone = [vlm.generate_ids([r], max_new_tokens=12)[0] for r in reqs]
    assert batched == alone
    reordered = vlm.generate_ids(reqs[::-1], max_new_tokens=12)  # other neighbours, other padding amounts
    assert reordered == alone[::-1]


def test_frames_change_the_answer(vlm: QwenVL) -> None:
    """The pixels reach the model: the same text with other frames gives another answer."""
    a = vlm.generate_ids([("pick up the cup", _vision(vlm, [(96, 128)], 10))], 12)
    b = vlm.generate_ids([("pick up the cup", _vision(vlm, [(96, 128)], 11))], 12)
    assert a != b


TEXTS = ["pick up the cup", "open the drawer with the left hand, then close it", "x", "wipe the table"]


def test_batched_embeddings_equal_one_by_one(vlm: QwenVL) -> None:
    batched = vlm.embed(TEXTS, layer=-1)
    for text, (ids, hidden) in zip(TEXTS, batched, strict=True):
        ids1, hidden1 = vlm.embed([text], layer=-1)[0]
        assert ids.tolist() == ids1.tolist() == vlm.tokenizer(text, add_special_tokens=False)["input_ids"]
        assert hidden.shape == (len(ids), 64) and hidden.dtype == torch.float32
        torch.testing.assert_close(hidden, hidden1, rtol=1e-5, atol=1e-5)
        assert hidden.abs().max() > 0.1  # not a degenerate model


def test_layers_index_the_hidden_states(vlm: QwenVL) -> None:
    ids, first = vlm.embed(["pick up the cup"], layer=0)[0]
    embeddings = vlm.model.model.language_model.embed_tokens(torch.as_tensor(ids)[None])[0]
    torch.testing.assert_close(first, embeddings)
    last = vlm.embed(["pick up the cup"], layer=-1)[0][1]
    assert torch.equal(last, vlm.embed(["pick up the cup"], layer=vlm.num_layers)[0][1])
    assert not torch.allclose(vlm.embed(["pick up the cup"], layer=1)[0][1], last)
    with pytest.raises(VLMError, match="outside the 3 hidden states"):
        vlm.embed(["x"], layer=3)


def test_padding_sides() -> None:
    ids, mask = pad_batch([[5, 6, 7], [8]], pad_id=0, left=True)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    ids, mask = pad_batch([[5, 6, 7], [8]], pad_id=0, left=False)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]


def test_frame_sampling_spreads_over_the_episode() -> None:
    assert sample_frame_indices(20, 4) == [2, 7, 12, 17]
    assert sample_frame_indices(3, 8) == [0, 1, 2]
    assert sample_frame_indices(0, 4) == [] and sample_frame_indices(10, 0) == []


def test_folders_that_are_not_a_qwen3_vl(tmp_path: Path) -> None:
    with pytest.raises(VLMError, match=r"no config\.json"):
        QwenVL(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(VLMError, match="model_type 'bert'"):
        QwenVL(tmp_path)


def test_a_folder_without_its_preprocessor_config_is_refused(model_dir: Path, tmp_path: Path) -> None:
    """Without preprocessor_config.json the captioner would normalize with Qwen2-VL's CLIP mean/std (audit S14)."""
    folder = tmp_path / "no-preprocessor"
    shutil.copytree(model_dir, folder)
    (folder / "preprocessor_config.json").unlink()
    with pytest.raises(VLMError, match=rf"{folder}: no preprocessor_config\.json"):
        QwenVL(folder, device="cpu")


@pytest.mark.gpu
def test_cuda_runs_in_bfloat16_close_to_cpu_float32(model_dir: Path, vlm: QwenVL) -> None:
    gpu = QwenVL(model_dir)  # the default on a CUDA machine
    assert (gpu.device.type, gpu.dtype, next(gpu.model.parameters()).dtype) == ("cuda", torch.bfloat16, torch.bfloat16)
    reqs = _requests(vlm)
    answers = gpu.generate_ids(reqs, max_new_tokens=8)
    assert answers == gpu.generate_ids(reqs, max_new_tokens=8)  # greedy: deterministic for a fixed batch
    assert all(0 < len(a) <= 8 for a in answers[:2])
    batched = gpu.embed(TEXTS, layer=-1)
    for text, (ids, hidden) in zip(TEXTS, batched, strict=True):
        ids_alone, alone = gpu.embed([text], layer=-1)[0]
        _, reference = vlm.embed([text], layer=-1)[0]
        assert ids.tolist() == ids_alone.tolist() and hidden.dtype == torch.bfloat16 and hidden.device.type == "cpu"
        torch.testing.assert_close(hidden, alone, rtol=2e-2, atol=2e-2)
        rel = (hidden.float() - reference).norm() / reference.norm()
        assert rel < 0.05, (text, float(rel))  # bf16 weights and activations vs float32
