"""`eidata text-embed ROOT --model DIR [--layer -1]`: the VLM's hidden states of every task text, for training.

Every task of every dataset's `meta/tasks.jsonl` (original instructions and captions alike) gets
`latents/text/task_XXXXXX.safetensors` (`schemas.captions`): the text alone, tokenized without a chat template or
special tokens, through the VLM's text model; the hidden states at `--layer` (an index into the L+1 hidden states:
0 the token embeddings, -1 the last layer after its final norm) are stored in bfloat16 without padding. A Ray actor
pool (one model per GPU, or one CPU actor) embeds batches of texts sorted by length (little padding) and writes each
file atomically itself. Resumable: a file made by the same model and layer for the same text is skipped (`--force`
redoes them); one made otherwise is replaced.

In a bucket (`eidata text-embed s3://bucket/corpus`) the job runs on the scratch corpus under the output's lease
(`jobs.runtime.bucket_stage`): the driver publishes each batch of files as it lands (final keys with If-None-Match,
then one commit record: `ingest.storage.derived`), the records say what is done, and a committed file made otherwise
stops the job, since objects there are never replaced (no `--force`).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from adapters.storage.urls import StorageError
from ingest.files.text_embeddings import is_current, remove_stale_temps, text_embedding_path
from ingest.storage.lease import OutputLeasedError
from jobs.runtime.bucket_stage import CorpusWhere, ScratchCorpus, stage_corpus, stage_values
from jobs.runtime.job_lock import JobLock, JobLockedError
from jobs.runtime.options import Opt
from jobs.runtime.ray_pool import PoolError, place_actors
from jobs.runtime.stage import (
    ADDRESS,
    DeviceChoice,
    ModelActors,
    RayCpus,
    Stage,
    Usage,
    drain,
    placement_options,
    ray_session,
)
from schemas.captions import TextEmbeddingMeta, text_embedding_file
from schemas.corpus import find_datasets
from schemas.lerobot import TASKS_PATH, read_jsonl
from schemas.storage import StorageOptions, is_remote

log = logging.getLogger(__name__)

NO_MODEL = (
    "eidata text-embed: text embeddings need a model. Pass --model DIR, a local Qwen3-VL folder (the VLM "
    "whose text hidden states embed each task); nothing is downloaded."
)


class TextEmbedJob(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    root: CorpusWhere
    model: Path = Field(description="local Qwen3-VL folder")
    layer: int = Field(-1, description="index into the text model's hidden states (0: embeddings, -1: last, normed)")
    dtype: Literal["bfloat16", "float16"] = Field("bfloat16", description="stored dtype")
    batch_size: int = Field(64, gt=0, description="texts per model call")
    force: bool = Field(False, description="recompute files that are up to date")
    device: DeviceChoice
    actors: ModelActors
    num_cpus: RayCpus
    object_store_mb: int = Field(1024, gt=0)


@dataclass
class TextEmbedReport:
    root: Path | str
    model: str = ""
    layer: int = -1
    written: int = 0
    tokens: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"text-embed ({self.model}, layer {self.layer}): {self.written} tasks written ({self.tokens} tokens), "
            f"{self.skipped} up to date, {len(self.failed)} failed, {self.seconds:.1f} s"
        ]
        return "\n".join(lines + [f"  failed: {m}" for m in self.failed[:20]])


class TextEmbedJobError(RuntimeError):
    """The job cannot run: embeddings made otherwise are committed in the bucket, where objects are never replaced."""


def plan(
    root: Path, model: str, layer: int, force: bool, corpus: ScratchCorpus | None = None
) -> tuple[list[dict[str, Any]], int]:
    """(rows {path, text}, how many are up to date) over every task of every dataset, shortest texts first. On a
    bucket's scratch corpus (`corpus`) the commit records say what is done, and a committed file of another model,
    layer or text stops the job (TextEmbedJobError)."""
    corpus = corpus or ScratchCorpus(root, "text-embed")
    rows, skipped, stale = [], 0, []
    for ds in find_datasets(root):
        if not (ds / TASKS_PATH).exists():
            continue
        remove_stale_temps(ds)
        committed = corpus.committed(ds)
        for _, t in read_jsonl(ds / TASKS_PATH):
            path, text = text_embedding_path(ds, int(t["task_index"])), str(t["task"])
            have = None if committed is None else committed.get(text_embedding_file(int(t["task_index"])))
            if committed is None:
                current = not force and is_current(path, model, layer, text)
            elif have is not None and not _same(have, model, layer, text):
                stale.append(f"{path}: committed by model {have.get('model')} layer {have.get('layer')}")
                continue
            else:
                current = have is not None
            if current:
                skipped += 1
            else:
                rows.append({"path": str(path), "text": text})
    if stale:
        shown = "\n  ".join(stale[:5])
        raise TextEmbedJobError(
            f"{len(stale)} text embeddings in the bucket were made otherwise (this run: {model}, layer {layer}); "
            f"objects in a bucket are never replaced: rerun with their model and layer or write another output:\n"
            f"  {shown}"
        )
    rows.sort(key=lambda r: (len(r["text"]), r["path"]))
    return rows, skipped


def _same(committed: dict[str, str], model: str, layer: int, text: str) -> bool:
    """Whether a committed file's metadata says it embeds `text` by `model` at `layer`."""
    try:
        meta = TextEmbeddingMeta.model_validate(committed)
    except ValueError:
        return False
    return (meta.model, meta.layer, meta.text) == (model, layer, text)


class TextEmbedActor:
    """One VLM per actor: embeds a batch of texts and writes their files."""

    def __init__(self, model: str, device: str, layer: int, dtype: str, threads: int | None) -> None:
        import torch
        from transformers.utils import logging as hf_logging

        from ingest.encoders.qwen_vl.model import QwenVL

        hf_logging.disable_progress_bar()
        if threads:
            torch.set_num_threads(threads)
        self.vlm = QwenVL(Path(model), device=device)
        self.vlm.check_layer(layer)
        self.layer, self.dtype = layer, dtype

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from ingest.files.text_embeddings import write_text_embedding
        from schemas.captions import TextEmbeddingMeta

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
                errors[i] = f"{type(e).__name__}: {e}"
        return {
            "path": batch["path"],
            "tokens": np.array(tokens, dtype=np.int64),
            "error": np.array(errors, dtype=object),
        }


def _stream(job: TextEmbedJob, rows: list[dict[str, Any]], resources: dict[str, float]) -> Iterator[dict[str, Any]]:
    import ray.data

    placement = place_actors(job.device, job.actors, resources)
    ds = ray.data.from_items(rows).map_batches(
        TextEmbedActor,
        batch_size=job.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=placement.actors),
        fn_constructor_kwargs={
            "model": str(job.model),
            "device": placement.device,
            "layer": job.layer,
            "dtype": job.dtype,
            "threads": placement.threads,
        },
        **placement.resources,
    )
    yield from ds.iter_batches(batch_size=None, batch_format="numpy")


def run_text_embed(
    job: TextEmbedJob,
    *,
    address: str | None = None,
    progress: bool | None = None,
    storage: StorageOptions | None = None,
) -> TextEmbedReport:
    """Embed every task whose file is missing or stale; joins the running Ray session when there is one. A corpus
    in a bucket (`job.root` a URL; `storage`: its options, else the AWS environment) runs on its scratch corpus under
    the output's lease (`jobs.runtime.bucket_stage`), each batch of files published as it lands."""
    t0 = time.perf_counter()
    if job.force and is_remote(str(job.root)):
        raise PoolError(f"{job.root}: --force: objects in a bucket are never replaced; write another output")
    check_layer(job)  # a bad call, before the lease
    with stage_corpus(job.root, storage, "text-embed") as root:
        report = _run(job.model_copy(update={"root": root}), address, progress)
    report.root = job.root
    report.seconds = time.perf_counter() - t0
    return report


def _run(job: TextEmbedJob, address: str | None, progress: bool | None) -> TextEmbedReport:
    import ray

    from ingest.encoders.qwen_vl.model import model_name

    root = Path(job.root)
    if not (root / "datasets").is_dir():
        raise PoolError(f"{root}: no datasets/ folder; not a corpus")
    report = TextEmbedReport(root, model=model_name(job.model), layer=job.layer)
    with JobLock(root, "text-embed"):
        corpus = ScratchCorpus(root, "text-embed")
        rows, report.skipped = plan(root, report.model, job.layer, job.force, corpus)
        if rows:
            with ray_session(address, job.num_cpus, job.object_store_mb):
                drain(
                    _stream(job, rows, ray.cluster_resources()),
                    len(rows),
                    "text-embed",
                    "task",
                    progress,
                    lambda out: _take(out, report, corpus),
                )
    return report


def _take(out: dict[str, np.ndarray], report: TextEmbedReport, corpus: ScratchCorpus) -> tuple[int, int]:
    """Count a batch of embedded tasks; in a bucket, publish their files (one record per dataset)."""
    for path, tokens, err in zip(out["path"], out["tokens"], out["error"], strict=True):
        if err:
            report.failed.append(f"{path}: {err}")
        else:
            report.written += 1
            report.tokens += int(tokens)
    corpus.publish(str(p) for p, err in zip(out["path"], out["error"], strict=True) if not err)
    return len(out["path"]), 0


# `eidata text-embed ROOT --model DIR`, in the flags' order. Exit 0 when every task has its embedding, 1 when some
# failed or the job could not run, 2 for usage errors (no corpus, no --model, a folder that is not a model, a layer
# the model does not have)
OPTIONS = (
    Opt(TextEmbedJob, "root", flags=("root",)),
    Opt(TextEmbedJob, "model"),
    Opt(TextEmbedJob, "layer"),
    Opt(TextEmbedJob, "dtype"),
    Opt(TextEmbedJob, "batch_size", flags=("--batch",)),
    *placement_options(TextEmbedJob),
    Opt(TextEmbedJob, "force"),
    ADDRESS,
)


def build_job(args: argparse.Namespace) -> TextEmbedJob:
    values = stage_values("text-embed", args, OPTIONS, TextEmbedJob)
    if values["model"] is None:
        raise Usage(NO_MODEL)
    if not (Path(values["model"]) / "config.json").is_file():
        raise Usage(f"eidata text-embed: {values['model']}: not a model folder (no config.json)")
    return TextEmbedJob.model_validate(values)


def _usage_errors() -> tuple[type[BaseException], ...]:
    from ingest.encoders.qwen_vl.model import VLMError

    return (VLMError, PoolError)  # a model folder, a layer or a placement that cannot work


STAGE = Stage(
    "text-embed",
    build_job,
    lambda job, args: run_text_embed(job, address=args.address),
    TextEmbedReport.summary,
    lambda report: bool(report.failed),
    usage_errors=_usage_errors,
    job_errors=(JobLockedError, OutputLeasedError, StorageError, TextEmbedJobError),
)


def check_layer(job: TextEmbedJob) -> None:
    """Fail before starting Ray when the model has no such layer (reads config.json only)."""
    from transformers import AutoConfig

    from ingest.encoders.qwen_vl.model import check_layer

    check_layer(job.layer, int(AutoConfig.from_pretrained(job.model).text_config.num_hidden_layers), str(job.model))
