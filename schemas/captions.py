"""Captions and per-task text embeddings (DESIGN.md section 5), as stored in a dataset.

Caption: the caption text is a task of `meta/tasks.jsonl` (deduplicated by exact text, as for episodes' tasks) and is
recorded in the episode's lineage, `episodes.jsonl` -> `"eidata": {"caption": CaptionRecord}`, both written by the
dataset's writer as one journaled meta update (`ingest.lerobot.writer`, DESIGN.md section 3.1). The
episode's own `tasks` and the parquet `task_index` are never changed: the original text stays beside the caption.
The text of an episode for training is its caption task when present, else its own first task.

Text embedding: `latents/text/task_XXXXXX.safetensors` per task of `meta/tasks.jsonl`, holding `hidden_states` [L, D]
(bfloat16 or float16, L = the text's tokens, no padding) and `input_ids` [L] int64, with `TextEmbeddingMeta`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TEXT_FORMAT = "eidata-text-1"
TEXT_DIR = "latents/text"
TEXT_PATH = TEXT_DIR + "/task_{task_index:06d}.safetensors"
HIDDEN_KEY, INPUT_IDS_KEY = "hidden_states", "input_ids"

CaptionKind = Literal["vlm", "rule"]


class CaptionRecord(BaseModel):
    """`eidata.caption` of one episode."""

    model_config = ConfigDict(extra="allow")

    text: str = Field(min_length=1, description="the caption, one imperative instruction")
    task_index: int = Field(ge=0, description="index of `text` in the dataset's meta/tasks.jsonl")
    kind: CaptionKind = Field(description="'vlm': a vision-language model wrote it; 'rule': the text normalizer")
    model: str = Field(description="the VLM (its weights folder's name) or the rule set's version")
    original: str | None = Field(description="the episode's own first task when captioned (None: it had none)")
    fallback_from: str | None = Field(
        None, description="kind 'rule' only: the VLM whose answer was empty, so the rules captioned instead"
    )

    def to_lineage(self) -> dict[str, Any]:
        """The JSON object stored under `eidata.caption` (`original` always, `fallback_from` only when set)."""
        return self.model_dump(mode="json", exclude=None if self.fallback_from else {"fallback_from"})

    def made_by(self, kind: CaptionKind, model: str) -> bool:
        """True when a run of (`kind`, `model`) would produce this caption again, so it can skip the episode."""
        return (self.kind, self.model) == (kind, model) or (kind == "vlm" and self.fallback_from == model)


def text_embedding_file(task_index: int) -> str:
    """The embedding file of one task, relative to the dataset root."""
    return TEXT_PATH.format(task_index=task_index)


class TextEmbeddingMeta(BaseModel):
    """The safetensors metadata of a text embedding file (all strings on disk; `layer` is parsed)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    format: Literal["eidata-text-1"] = TEXT_FORMAT
    model: str = Field(description="the VLM whose text model made the hidden states (its weights folder's name)")
    layer: int = Field(description="index into the model's hidden states (0: embeddings, -1: last layer, normed)")
    text: str = Field(description="the task text embedded, as in meta/tasks.jsonl")
    dtype: Literal["bfloat16", "float16"]

    def to_metadata(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.model_dump(mode="json").items()}
