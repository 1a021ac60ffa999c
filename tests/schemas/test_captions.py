"""Captions and text embeddings (schemas/captions.py): the lineage record as stored in episodes.jsonl, when a run
would caption an episode again, and the embedding metadata through safetensors' string header."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError
from safetensors import safe_open
from safetensors.torch import save_file

from schemas.captions import HIDDEN_KEY, INPUT_IDS_KEY, CaptionRecord, TextEmbeddingMeta, text_embedding_file


def test_lineage_keeps_original_always_and_fallback_only_when_set() -> None:
    vlm = CaptionRecord(text="pick up the cup", task_index=3, kind="vlm", model="Qwen2.5-VL-3B", original=None)
    assert vlm.to_lineage() == {
        "text": "pick up the cup",
        "task_index": 3,
        "kind": "vlm",
        "model": "Qwen2.5-VL-3B",
        "original": None,  # "it had no task" is information, so it is stored
    }
    rule = CaptionRecord(
        text="pick up the cup",
        task_index=3,
        kind="rule",
        model="eidata-rules-1",
        original="#C C picks up the cup",
        fallback_from="Qwen2.5-VL-3B",
    )
    for record in (vlm, rule):  # through an episodes.jsonl line and back
        assert CaptionRecord.model_validate(json.loads(json.dumps(record.to_lineage()))) == record


def test_made_by_says_when_a_run_would_caption_again() -> None:
    rule = CaptionRecord(text="t", task_index=0, kind="rule", model="r1", original="o", fallback_from="vlm-a")
    assert rule.made_by("rule", "r1")
    assert rule.made_by("vlm", "vlm-a")  # that VLM answered empty before: asking it again gives the same rules caption
    assert not rule.made_by("vlm", "vlm-b") and not rule.made_by("rule", "r2")
    vlm = CaptionRecord(text="t", task_index=0, kind="vlm", model="vlm-a", original=None)
    assert vlm.made_by("vlm", "vlm-a") and not vlm.made_by("rule", "vlm-a")


@pytest.mark.parametrize(
    ("update", "field"), [({"text": ""}, "text"), ({"task_index": -1}, "task_index"), ({"kind": "human"}, "kind")]
)
def test_a_bad_caption_names_its_field(update: dict, field: str) -> None:
    good = {"text": "t", "task_index": 0, "kind": "vlm", "model": "m", "original": None}
    with pytest.raises(ValidationError) as err:
        CaptionRecord(**{**good, **update})
    assert [e["loc"] for e in err.value.errors()] == [(field,)]


def test_text_embedding_meta_survives_a_safetensors_header(tmp_path: Path) -> None:
    meta = TextEmbeddingMeta(model="Qwen2.5-VL-3B", layer=-1, text="pick up the cup", dtype="bfloat16")
    path = tmp_path / text_embedding_file(12)
    assert text_embedding_file(12) == "latents/text/task_000012.safetensors"
    path.parent.mkdir(parents=True)
    save_file(
        {HIDDEN_KEY: torch.zeros(5, 16, dtype=torch.bfloat16), INPUT_IDS_KEY: torch.arange(5)},
        str(path),
        metadata=meta.to_metadata(),
    )
    with safe_open(str(path), framework="pt") as f:
        back = TextEmbeddingMeta.model_validate(f.metadata())
    assert back == meta and back.layer == -1
