"""A Qwen3-VL model from a local weights folder: greedy captions of episodes (frames + their original text) and the
text model's hidden states of instructions, both batched.

Inputs are built without a processor (it needs torchvision: `ingest.encoders.qwen_vl.image`): the chat prompt is written
in Qwen's ChatML layout with one `<|vision_start|><|image_pad|>*n<|vision_end|>` block per frame (n = patches / merge^2,
as the processor expands it), and frames go through `ingest.encoders.qwen_vl.image`. Batches are left-padded for
generation (every row's next token is at the last position; the model derives M-RoPE positions from the attention mask)
and right-padded for embeddings (causal attention: a real token never sees the padding after it, and positions start at
0 as alone). Either way a batch gives what one-by-one calls give, up to float rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import torch

from ingest.encoders.qwen_vl.image import QwenImageConfig, VLMError, preprocess_frames
from ingest.encoders.wan import compute_dtype, pick_device
from ingest.lerobot.video_read import decode_frames

IM_START, IM_END, END_OF_TEXT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD = "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"
SUPPORTED_MODEL_TYPES = ("qwen3_vl", "qwen3_vl_moe")


@dataclass
class VisionInput:
    """Preprocessed frames of one episode: the processor's `pixel_values` and `image_grid_thw` rows."""

    pixel_values: np.ndarray  # [patches, 3 * T * p * p] float32
    grid_thw: np.ndarray  # [frames, 3] int64


def sample_frame_indices(length: int, count: int) -> list[int]:
    """`count` frames spread over an episode of `length` frames: the middle of `count` equal spans, in order."""
    if length <= 0 or count <= 0:
        return []
    return sorted({min(length - 1, int((i + 0.5) * length / count)) for i in range(count)})


def episode_vision_input(
    video: Path | str | IO[bytes] | None, length: int, count: int, cfg: QwenImageConfig
) -> VisionInput:
    """Decode `count` frames of an episode's mp4 (PyAV) and preprocess them; no video -> no frames. In a bucket the
    video is a file object read by ranges (`adapters.storage.location.readable`)."""
    if video is None or count <= 0:
        return VisionInput(*preprocess_frames([], cfg))
    frames = [rgb for _, rgb in decode_frames(video, sample_frame_indices(length, count))]
    return VisionInput(*preprocess_frames(frames, cfg))


def caption_question(original: str | None, frames: int) -> str:
    """The user turn's text. The original text is a hint to rewrite, not to trust: narrations can be off-frame."""
    seen = (
        f"The images are {frames} frames, in time order, of one episode of a robot or a person doing a task."
        if frames
        else "An episode of a robot or a person doing a task has no images."
    )
    told = f' Its recorded description is: "{original}".' if original else " It has no recorded description."
    return (
        seen + told + " Reply with one short imperative instruction for the task shown "
        "(for example: pick up the cup and put it on the plate), and nothing else."
    )


def chat_prompt(question: str, grid_thw: np.ndarray, merge_size: int) -> str:
    """One user turn (frames, then the question) and the opening of the assistant turn, in ChatML."""
    vision = "".join(
        VISION_START + IMAGE_PAD * (int(np.prod(g)) // merge_size**2) + VISION_END for g in np.asarray(grid_thw)
    )
    return f"{IM_START}user\n{vision}{question}{IM_END}\n{IM_START}assistant\n"


def pad_batch(seqs: list[list[int]], pad_id: int, *, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask) [B, T] int64 of token lists padded with `pad_id` on the left or the right."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        span = slice(width - len(s), width) if left else slice(0, len(s))
        ids[i, span] = torch.tensor(s, dtype=torch.long)
        mask[i, span] = 1
    return ids, mask


def model_name(path: Path) -> str:
    """How captions and embeddings name the model: its weights folder's name (portable across mounts)."""
    return Path(path).resolve().name


def check_layer(layer: int, num_layers: int, model: str) -> None:
    """A text model of `num_layers` layers has `num_layers + 1` hidden states (embeddings first); python indexing."""
    if not -(num_layers + 1) <= layer <= num_layers:
        raise VLMError(f"layer {layer} is outside the {num_layers + 1} hidden states of {model}")


class QwenVL:
    """Model, tokenizer and image settings loaded from one local folder (as `save_pretrained` writes it)."""

    def __init__(self, path: Path, *, device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        from transformers import AutoConfig, AutoModelForImageTextToText, AutoTokenizer

        self.path = Path(path)
        if not (self.path / "config.json").is_file():
            raise VLMError(f"{self.path}: no config.json; --model must be a local Qwen3-VL weights folder")
        config = AutoConfig.from_pretrained(self.path)
        if config.model_type not in SUPPORTED_MODEL_TYPES:
            raise VLMError(f"{self.path}: model_type {config.model_type!r}, expected one of {SUPPORTED_MODEL_TYPES}")
        self.image_config = QwenImageConfig.from_model_dir(self.path, config.vision_config)  # before the weights load
        self.device = torch.device(device) if device is not None else pick_device()
        # bf16 on CUDA; float32 on CPU, where bf16 matmuls are slow on most processors
        self.dtype = dtype or compute_dtype(self.device)
        self.model = AutoModelForImageTextToText.from_pretrained(self.path, dtype=self.dtype).to(self.device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        self.name = model_name(self.path)
        self.image_token_id = int(config.image_token_id)
        vocab = self.tokenizer.get_vocab()
        if missing := [t for t in (IM_START, IM_END, VISION_START, VISION_END, IMAGE_PAD) if t not in vocab]:
            raise VLMError(f"{self.path}: the tokenizer lacks Qwen's special tokens {missing}")
        if vocab[IMAGE_PAD] != self.image_token_id:
            raise VLMError(
                f"{self.path}: {IMAGE_PAD} is {vocab[IMAGE_PAD]} in the tokenizer, {self.image_token_id} in config.json"
            )
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else vocab.get(END_OF_TEXT, vocab[IM_END]))
        stops = {vocab[IM_END], vocab.get(END_OF_TEXT), self.tokenizer.eos_token_id}
        self.stop_ids = sorted(int(s) for s in stops if s is not None)
        self.never_generate = sorted({vocab[t] for t in (VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD) if t in vocab})
        self.num_layers = int(config.text_config.num_hidden_layers)

    def prompt_ids(self, original: str | None, vision: VisionInput) -> list[int]:
        question = caption_question(original, len(vision.grid_thw))
        text = chat_prompt(question, vision.grid_thw, self.image_config.merge_size)
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        want = int(sum(np.prod(g) for g in vision.grid_thw)) // self.image_config.merge_size**2
        if sum(1 for i in ids if i == self.image_token_id) != want:
            raise VLMError(f"{self.path}: the tokenizer split {IMAGE_PAD}; the prompt needs {want} of them")
        return ids

    def generate(self, requests: list[tuple[str | None, VisionInput]], max_new_tokens: int = 32) -> list[str]:
        """Greedy answers (decoded, special tokens dropped) to caption prompts, one per (original text, frames)."""
        return [
            self.tokenizer.decode(t, skip_special_tokens=True).strip()
            for t in self.generate_ids(requests, max_new_tokens)
        ]

    @torch.inference_mode()
    def generate_ids(self, requests: list[tuple[str | None, VisionInput]], max_new_tokens: int) -> list[list[int]]:
        """The greedy token ids of each answer, up to its first stop token."""
        from transformers import GenerationConfig

        if not requests:
            return []
        ids, mask = pad_batch([self.prompt_ids(o, v) for o, v in requests], self.pad_id, left=True)
        kwargs = {}
        with_frames = [v for _, v in requests if len(v.grid_thw)]
        if with_frames:  # the frames of every row, in row order: the model matches them to the image tokens in order
            pixels = np.concatenate([v.pixel_values for v in with_frames])
            grids = np.concatenate([v.grid_thw for v in with_frames])
            kwargs = {
                "pixel_values": torch.from_numpy(pixels).to(self.device, self.dtype),
                "image_grid_thw": torch.from_numpy(grids).to(self.device),
            }
        gen = GenerationConfig(
            do_sample=False,
            num_beams=1,
            max_new_tokens=max_new_tokens,
            pad_token_id=self.pad_id,
            eos_token_id=self.stop_ids,
            suppress_tokens=self.never_generate or None,
        )
        out = self.model.generate(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            mm_token_type_ids=(ids == self.image_token_id).to(torch.int32).to(self.device),
            generation_config=gen,
            **kwargs,
        )
        rows = out[:, ids.shape[1] :].tolist()
        return [row[: next((i for i, t in enumerate(row) if t in self.stop_ids), len(row))] for row in rows]

    def check_layer(self, layer: int) -> None:
        check_layer(layer, self.num_layers, self.name)

    @torch.inference_mode()
    def embed(self, texts: list[str], layer: int = -1) -> list[tuple[np.ndarray, torch.Tensor]]:
        """(input_ids [L] int64, hidden states [L, D] in the model dtype, on the CPU) of each text, alone (no chat
        template, no special tokens), at `layer` of the text model's hidden states (-1: the last, after its norm)."""
        self.check_layer(layer)
        if not texts:
            return []
        seqs = [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        if (empty := next((t for t, s in zip(texts, seqs, strict=True) if not s), None)) is not None:
            raise VLMError(f"text {empty!r} has no tokens")
        ids, mask = pad_batch(seqs, self.pad_id, left=False)
        positions = torch.arange(ids.shape[1]).expand_as(ids)
        out = self.model.model.language_model(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
            output_hidden_states=True,
            use_cache=False,
        )
        hidden = out.hidden_states[layer].cpu()
        return [(np.asarray(s, dtype=np.int64), hidden[i, : len(s)].clone()) for i, s in enumerate(seqs)]
