"""`eidata text-embed ROOT --model DIR [--layer -1]`: the VLM's hidden states of every task text, for training.

Every task of every dataset's `meta/tasks.jsonl` gets `latents/text/task_XXXXXX.safetensors` (`schemas.captions`): the
text alone, tokenized without a chat template or special tokens, through the VLM's text model; the hidden states at
`--layer` (0 the token embeddings, -1 the last layer after its final norm) in bfloat16 without padding. Texts are
embedded in batches sorted by length (little padding). A file made otherwise than this run is replaced, or stops the
job where the corpus cannot replace files (a bucket).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from adapters.lerobot_format.files import read_jsonl
from adapters.storage.corpus import Corpus
from ingest.files.latents import remove_stale_text_temps, text_embedding_path, write_text_embedding
from ingest.lerobot.settled import settled_datasets
from jobs.runtime.options import Opt, job_values, opts
from jobs.runtime.ray_pool import Placement
from jobs.runtime.stage import ADDRESS, CorpusRoot, CorpusStage, Failed, RayJob, StageReport, Usage, placement_options
from schemas.captions import TextEmbeddingMeta, text_embedding_file
from schemas.faults import reraise_environment
from schemas.lerobot import TASKS_PATH

if TYPE_CHECKING:  # the model module imports torch
    from ingest.encoders.qwen_vl.model import QwenVL


NO_MODEL = (
    "eidata text-embed: text embeddings need a model. Pass --model DIR, a local Qwen3-VL folder (the VLM "
    "whose text hidden states embed each task); nothing is downloaded."
)


class TextEmbedJob(RayJob):
    root: CorpusRoot
    model: Path = Field(description="local Qwen3-VL folder")
    layer: int = Field(-1, description="index into the text model's hidden states (0: embeddings, -1: last, normed)")
    dtype: Literal["bfloat16", "float16"] = Field("bfloat16", description="stored dtype")
    batch_size: int = Field(64, gt=0, description="texts per model call")
    force: bool = Field(False, description="recompute files that are up to date")


@dataclass
class TextEmbedReport(StageReport):
    model: str = ""
    layer: int = -1
    written: int = 0
    tokens: int = 0
    skipped: int = 0

    def summary(self) -> str:
        lines = [
            f"text-embed ({self.model}, layer {self.layer}): {self.written} tasks written ({self.tokens} tokens), "
            f"{self.skipped} up to date, {len(self.failed)} failed, {self.seconds:.1f} s"
        ]
        return "\n".join(lines + self.failures())


def _same(meta: dict[str, str], model: str, layer: int, text: str) -> bool:
    """Whether a file's metadata says it embeds `text` by `model` at `layer` (a task's text never changes, but a
    dataset rebuilt from scratch may renumber its tasks, so the text is compared too)."""
    try:
        have = TextEmbeddingMeta.model_validate(meta)
    except ValueError:
        return False
    return (have.model, have.layer, have.text) == (model, layer, text)


def load_vlm(model: str, device: str, threads: int | None) -> QwenVL:
    """An actor's VLM (caption's and text-embed's), without download progress bars, on `threads` CPU threads."""
    import torch
    from transformers.utils import logging as hf_logging

    from ingest.encoders.qwen_vl.model import QwenVL

    hf_logging.disable_progress_bar()
    if threads:
        torch.set_num_threads(threads)
    return QwenVL(Path(model), device=device)


class TextEmbedActor:
    """One VLM per actor: embeds a batch of texts and writes their files."""

    def __init__(self, model: str, device: str, layer: int, dtype: str, threads: int | None) -> None:
        self.vlm = load_vlm(model, device, threads)
        self.vlm.check_layer(layer)
        self.layer, self.dtype = layer, dtype

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        tokens, errors = [0] * len(texts), [""] * len(texts)
        try:
            embedded = self.vlm.embed(texts, self.layer)
        except Exception as e:  # one bad batch (e.g. a text with no tokens) costs its texts only
            embedded, errors = [], [f"{type(e).__name__}: {e}"] * len(texts)
        for i, (ids, hidden) in enumerate(embedded):
            meta = TextEmbeddingMeta(model=self.vlm.name, layer=self.layer, text=texts[i], dtype=self.dtype)
            try:
                write_text_embedding(Path(str(batch["path"][i])), ids, hidden, meta)
                tokens[i] = len(ids)
            except (OSError, ValueError) as e:
                reraise_environment(e)
                errors[i] = f"{type(e).__name__}: {e}"
        return {
            "path": batch["path"],
            "tokens": np.array(tokens, dtype=np.int64),
            "error": np.array(errors, dtype=object),
        }


def vlm_errors() -> tuple[type[BaseException], ...]:
    """A model folder or a layer that cannot work: a bad call (named lazily: the model module imports torch)."""
    from ingest.encoders.qwen_vl.image import VLMError

    return (VLMError,)


class TextEmbedStage(CorpusStage[TextEmbedJob, TextEmbedReport]):
    command = "text-embed"
    unit = "task"
    Model = TextEmbedActor
    usage_errors = vlm_errors

    def __init__(self, job: TextEmbedJob) -> None:
        from ingest.encoders.qwen_vl.model import model_name

        super().__init__(job, TextEmbedReport(job.root, model=model_name(job.model), layer=job.layer))

    def check(self) -> None:
        """Fail before starting Ray when the model has no such layer (reads config.json only)."""
        from transformers import AutoConfig

        from ingest.encoders.qwen_vl.model import check_layer

        job = self.job
        check_layer(job.layer, int(AutoConfig.from_pretrained(job.model).text_config.num_hidden_layers), str(job.model))

    def plan(self, corpus: Corpus) -> list[dict[str, Any]]:
        """A row {path, text} for every task whose file is missing or made otherwise, shortest texts first."""
        job, model = self.job, self.report.model
        rows, replaced = [], []  # replaced: files the corpus holds that this run writes again
        for ds in settled_datasets(corpus.root):
            if not (ds / TASKS_PATH).exists():
                continue
            remove_stale_text_temps(ds)
            tasks = {int(t["task_index"]): str(t["task"]) for _, t in read_jsonl(ds / TASKS_PATH)}
            done = corpus.committed(ds, map(text_embedding_file, tasks))
            for index, text in tasks.items():
                path, have = text_embedding_path(ds, index), done.get(text_embedding_file(index))
                if have is not None and not job.force and _same(have, model, job.layer, text):
                    self.report.skipped += 1
                    continue
                rows.append({"path": str(path), "text": text})
                if have is not None:
                    replaced.append(f"{path}: made by model {have.get('model')} layer {have.get('layer')}")
        what = "--force" if job.force else f"{len(replaced)} text embeddings were made otherwise"
        if replaced and (refused := corpus.storage.refusal("replaces", what)):  # a bucket's objects stay as they are
            raise (Usage if job.force else Failed)(
                f"eidata text-embed: {refused} (this run: {model}, layer {job.layer}); rerun with their model and "
                "layer or write another output:\n  " + "\n  ".join(replaced[:5])
            )
        return sorted(rows, key=lambda r: (len(r["text"]), r["path"]))

    def model_args(self, place: Placement) -> dict[str, Any]:
        job = self.job
        return {
            "model": str(job.model),
            "device": place.device,
            "layer": job.layer,
            "dtype": job.dtype,
            "threads": place.threads,
        }

    def accept(self, batch: dict[str, np.ndarray], corpus: Corpus) -> tuple[int, int]:
        report, ok = self.report, [not err for err in batch["error"]]
        for path, tokens, err in zip(batch["path"], batch["tokens"], batch["error"], strict=True):
            if err:
                report.failed.append(f"{path}: {err}")
            else:
                report.written += 1
                report.tokens += int(tokens)
        corpus.publish_files([str(p) for p, good in zip(batch["path"], ok, strict=True) if good], self.command)
        return len(ok), 0


# `eidata text-embed ROOT --model DIR`, in the flags' order. Exit 0 when every task has its embedding, 1 when some
# failed or the job could not run, 2 for usage errors (no corpus, no --model, a folder that is not a model, a layer
# the model does not have)
OPTIONS = (
    Opt(TextEmbedJob, "root", flags=("root",)),
    *opts(TextEmbedJob, "model", "layer", "dtype"),
    Opt(TextEmbedJob, "batch_size", flags=("--batch",)),
    *placement_options(TextEmbedJob),
    *opts(TextEmbedJob, "force"),
    ADDRESS,
)


def build_job(args: argparse.Namespace) -> TextEmbedJob:
    values = job_values(args, OPTIONS, TextEmbedJob)
    if values["model"] is None:
        raise Usage(NO_MODEL)
    if not (Path(values["model"]) / "config.json").is_file():
        raise Usage(f"eidata text-embed: {values['model']}: not a model folder (no config.json)")
    return TextEmbedJob.model_validate(values)


STAGE = TextEmbedStage.cli(build_job)
