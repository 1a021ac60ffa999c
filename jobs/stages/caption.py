"""`eidata caption ROOT`: one normalized imperative instruction per episode, next to its original text.

With `--model DIR` (a local Qwen3-VL folder) a Ray Data pipeline captions with the VLM:

    work rows (episodes without a caption by this model, from each dataset's meta)
      -> map(decode_for_caption)     CPU tasks: a few frames spread over the episode, Qwen-preprocessed
      -> map_batches(CaptionActor)   actor pool, one model per GPU (bf16) or one CPU actor (fp32): greedy answers
      -> driver                      normalize each answer (ingest.encoders.caption_rules), write captions per dataset
                                     under its writer lock every `flush_every` episodes, then the catalog

The VLM sees the frames and the episode's original text (instruction or narration, as the rules clean it: no
"#C C" tags, no "unspecified") and answers one instruction; the same rules then normalize its answer, so both kinds
read alike. An empty answer falls back
to the rules (kind "rule", `fallback_from` the VLM). Without `--model` the rules alone caption, on the driver (text
only, no Ray). Resumable: episodes captioned by the same model and kind are skipped (`--force` redoes them), and a
rule run never replaces a VLM caption. `--text-embeddings` then runs `eidata text-embed` with the same model.

ROOT may be a corpus in a bucket (`s3://bucket/corpus`, DESIGN.md 3.2; the credential the standard way: AWS_*
variables, AWS config files): the stage runs on the scratch corpus standing for it under the output's lease
(`jobs.runtime.bucket_stage.bucket_corpus`), and its meta edits reach the bucket as one commit record per dataset when
the run ends. The scratch holds the meta but no episode file: the VLM's decode tasks read each episode's mp4 from the
bucket by ranged reads (`open_episode_file`), never copying it whole. `--text-embeddings` there is text-embed on the
same scratch, which publishes its files batch by batch (`ScratchCorpus.publish`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from adapters.storage.location import options_for
from ingest.encoders.caption_rules import RULES_VERSION, normalize_instruction
from ingest.storage.digests import CatalogError
from jobs.runtime.bucket_stage import ScratchCorpus, open_episode_file
from jobs.runtime.job_lock import JobLock, JobLockedError
from jobs.runtime.options import Opt, job_values
from jobs.runtime.ray_pool import PoolError, cluster_resources, place_actors
from jobs.runtime.shared_fs import SharedFsError
from jobs.runtime.stage import (
    ADDRESS,
    DeviceChoice,
    ModelActors,
    RayCpus,
    Stage,
    Usage,
    corpus_job_values,
    drain,
    placement_options,
    ray_session,
    refresh_catalog,
)
from jobs.stages.caption_store import CaptionStoreError, CaptionWork, NewCaption, apply_captions, plan_dataset
from schemas.corpus import find_datasets
from schemas.storage import StorageOptions, is_remote, protocol_of

log = logging.getLogger(__name__)

NO_MODEL = (
    "eidata caption: no --model given, so captions come from the rule-based normalizer alone (kind 'rule', "
    "text only). For VLM captions pass --model DIR, a local Qwen3-VL folder (config.json, weights, tokenizer, "
    "preprocessor_config.json as save_pretrained writes them); nothing is downloaded."
)


def _root(value: Any) -> Any:
    """A bucket URL stays a string (a Path would fold its `//`); a folder becomes a Path."""
    if isinstance(value, str) and is_remote(value):
        if protocol_of(value) not in ("s3", "s3a"):  # the stage's commit protocol stands on S3's conditional create
            raise ValueError(f"{value}: a corpus in a bucket must be s3:// (an S3-compatible store)")
        return value.rstrip("/")
    return Path(value) if isinstance(value, str) else value


CaptionRoot = Annotated[
    Path | str,
    BeforeValidator(_root),
    Field(description="corpus folder (holding datasets/), or its bucket URL (s3://bucket/corpus)"),
]


class CaptionJob(BaseModel):
    """Everything a caption run needs; validated before any work starts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: CaptionRoot
    model: Path | None = Field(None, description="local Qwen3-VL folder; None: rule-based captions only")
    camera: str | None = Field(None, description="camera shown to the VLM (default: head, else the first camera)")
    frames: int = Field(4, ge=0, le=32, description="frames per episode shown to the VLM, spread over the episode")
    max_pixels: int = Field(448 * 448, gt=0, description="pixel budget per frame (caps the model's own setting)")
    max_new_tokens: int = Field(32, gt=0, le=256)
    batch_size: int = Field(8, gt=0, description="episodes per model call")
    device: DeviceChoice
    actors: ModelActors
    force: bool = Field(False, description="recaption episodes this model (or the rules) captioned already")
    flush_every: int = Field(256, gt=0, description="write a dataset's captions every this many episodes")
    lock_timeout_s: float = Field(60.0, ge=0, description="how long to wait for a dataset another writer holds")
    text_embeddings: bool = Field(False, description="then embed every task with the same model (text-embed)")
    layer: int = Field(-1, description="hidden-state layer for --text-embeddings")
    num_cpus: RayCpus
    object_store_mb: int = Field(1024, gt=0)

    @model_validator(mode="after")
    def _embeddings_need_a_model(self) -> CaptionJob:
        if self.text_embeddings and self.model is None:
            raise ValueError("text_embeddings needs a model (the VLM whose hidden states embed the tasks)")
        return self


@dataclass
class CaptionReport:
    root: Path | str  # the corpus folder or its bucket URL
    kind: Literal["vlm", "rule"] = "rule"
    model: str = RULES_VERSION
    vlm: int = 0  # captions written by the VLM
    rule: int = 0  # captions written by the rules (all of them without a model; fallbacks with one)
    no_text: int = 0  # episodes neither could caption (no original text, empty answer)
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    catalog_rows: int | None = None
    seconds: float = 0.0
    text: Any = None  # the TextEmbedReport of --text-embeddings

    def summary(self) -> str:
        head = f"caption ({self.kind}: {self.model}): {self.vlm} by the VLM, {self.rule} by the rules"
        lines = [
            f"{head}, {self.skipped} already done, {self.no_text} without any text, {len(self.failed)} failed, "
            f"{self.seconds:.1f} s"
        ]
        lines += [f"  failed: {m}" for m in self.failed[:20]]
        if self.text is not None:
            lines.append(self.text.summary())
        return "\n".join(lines)


# -- planning and writing (driver) ----------------------------------------------------------------------------------
def plan(job: CaptionJob, kind: Literal["vlm", "rule"], model: str) -> tuple[list[CaptionWork], int]:
    work, skipped = [], 0
    for ds in find_datasets(job.root):
        rows, n = plan_dataset(ds, kind, model, force=job.force, camera=job.camera)
        work += rows
        skipped += n
    return work, skipped


class _Pending:
    """Captions waiting to be written, per dataset; a dataset is written when it has `flush_every` of them."""

    def __init__(self, job: CaptionJob, report: CaptionReport) -> None:
        self.job, self.report = job, report
        self.by_dataset: dict[str, list[NewCaption]] = defaultdict(list)

    def add(self, dataset: str, caption: NewCaption) -> None:
        self.by_dataset[dataset].append(caption)
        if caption.kind == "vlm":
            self.report.vlm += 1
        else:
            self.report.rule += 1
        if len(self.by_dataset[dataset]) >= self.job.flush_every:
            self.flush(dataset)

    def flush(self, dataset: str | None = None) -> None:
        for ds in [dataset] if dataset else list(self.by_dataset):
            captions = self.by_dataset.pop(ds, [])
            try:
                apply_captions(Path(ds), captions, lock_timeout_s=self.job.lock_timeout_s)
            except (CaptionStoreError, OSError, ValueError) as e:
                self.report.failed.append(f"{ds}: {len(captions)} captions not written ({e})")
                self.report.vlm -= sum(c.kind == "vlm" for c in captions)
                self.report.rule -= sum(c.kind == "rule" for c in captions)


def rule_caption(w: CaptionWork, fallback_from: str | None = None) -> NewCaption | None:
    text = normalize_instruction(w.original)
    if text is None:
        return None
    return NewCaption(w.episode_index, text, "rule", RULES_VERSION, w.original, fallback_from)


# -- Ray stages -----------------------------------------------------------------------------------------------------
def decode_for_caption(
    row: dict[str, Any], *, frames: int, image: dict[str, Any], corpus: str, storage: StorageOptions | None = None
) -> dict[str, Any]:
    """CPU stage: the episode's frames as the VLM's pixel inputs (none without video); errors travel as text. The
    video of a bucket's scratch `corpus` is read from the bucket by ranges (`open_episode_file`; `storage`: the
    job's options, else the AWS environment)."""
    from ingest.encoders.qwen_vl.image import QwenImageConfig
    from ingest.encoders.qwen_vl.model import episode_vision_input

    cfg = QwenImageConfig.model_validate(image)
    try:
        if row.get("video"):
            with open_episode_file(Path(corpus), Path(row["video"]), storage) as video:
                vision = episode_vision_input(video, int(row["length"]), frames, cfg)
        else:
            vision = episode_vision_input(None, int(row["length"]), frames, cfg)
        error = ""
    except Exception as e:  # an unreadable video costs this episode only; named where it was read
        where = ScratchCorpus(Path(corpus), "caption").source(Path(row["video"]))
        vision, error = episode_vision_input(None, 0, 0, cfg), f"{where}: {type(e).__name__}: {e}"
    return {**row, "pixel_values": vision.pixel_values, "grid_thw": vision.grid_thw, "error": error}


class CaptionActor:
    """One VLM per actor: greedy answers for a batch of episodes (rows with a decode error pass through)."""

    def __init__(self, model: str, device: str, max_new_tokens: int, threads: int | None) -> None:
        import torch
        from transformers.utils import logging as hf_logging

        from ingest.encoders.qwen_vl.model import QwenVL

        hf_logging.disable_progress_bar()
        if threads:
            torch.set_num_threads(threads)
        self.vlm = QwenVL(Path(model), device=device)
        self.max_new_tokens = max_new_tokens

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from ingest.encoders.qwen_vl.model import VisionInput

        n = len(batch["episode_index"])
        ok = [i for i in range(n) if not batch["error"][i]]
        requests = []
        for i in ok:
            pixels = np.asarray(batch["pixel_values"][i], np.float32)
            vision = VisionInput(pixels, np.asarray(batch["grid_thw"][i], np.int64).reshape(-1, 3))
            requests.append((batch["hint"][i] or None, vision))
        answers = [""] * n
        errors = [str(e) for e in batch["error"]]
        try:
            for i, a in zip(ok, self.vlm.generate(requests, self.max_new_tokens), strict=True):
                answers[i] = a
        except Exception as e:  # a batch the model cannot take (e.g. out of memory) fails its episodes only
            for i in ok:
                errors[i] = f"{type(e).__name__}: {e}"
        frames = [len(np.asarray(batch["grid_thw"][i]).reshape(-1, 3)) for i in range(n)]
        return {
            "dataset": batch["dataset"],
            "episode_index": batch["episode_index"],
            "frames": np.array(frames),
            "answer": np.array(answers, dtype=object),
            "error": np.array(errors, dtype=object),
        }


def _vlm_stream(job: CaptionJob, work: list[CaptionWork], resources: dict[str, float]) -> Iterator[dict[str, Any]]:
    import ray.data
    from transformers import AutoConfig

    from ingest.encoders.qwen_vl.image import QwenImageConfig

    placement = place_actors(job.device, job.actors, resources)
    cfg = QwenImageConfig.from_model_dir(job.model, AutoConfig.from_pretrained(job.model).vision_config)
    cfg = cfg.model_copy(
        update={"max_pixels": min(cfg.max_pixels, job.max_pixels), "min_pixels": min(cfg.min_pixels, job.max_pixels)}
    )
    log.info(
        "caption: %d episodes on %s, %d actor(s), %d per call",
        len(work),
        placement.device,
        placement.actors,
        job.batch_size,
    )
    url = ScratchCorpus(Path(job.root), "caption").url  # a bucket's scratch: options as `bucket_corpus` registered
    where = {"corpus": str(job.root), "storage": options_for(url) if url else None}
    ds = (
        # the VLM is told the original text after the rules cleaned it (no "#C C", no "unspecified")
        ray.data.from_items([{**w.as_row(), "hint": normalize_instruction(w.original)} for w in work])
        .map(decode_for_caption, num_cpus=1, fn_kwargs={"frames": job.frames, "image": cfg.model_dump(), **where})
        .map_batches(
            CaptionActor,
            batch_size=job.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=placement.actors),
            fn_constructor_kwargs={
                "model": str(job.model),
                "device": placement.device,
                "max_new_tokens": job.max_new_tokens,
                "threads": placement.threads,
            },
            **placement.resources,
        )
    )
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        for i in range(len(batch["episode_index"])):
            yield {k: batch[k][i] for k in ("dataset", "episode_index", "frames", "answer", "error")}


# -- driver ---------------------------------------------------------------------------------------------------------
def run_caption(
    job: CaptionJob,
    *,
    address: str | None = None,
    progress: bool | None = None,
    storage: StorageOptions | None = None,
) -> CaptionReport:
    """Plan, caption (VLM on Ray, or rules), write per dataset, refresh the catalog; optionally embed the tasks. A
    corpus in a bucket (`job.root` a URL; `storage`: its options, else those registered for it, else the AWS
    environment) runs on its scratch corpus under the output's lease."""
    if isinstance(job.root, str):
        return _caption_bucket(job, job.root, address, progress, storage)
    t0 = time.perf_counter()
    if not (job.root / "datasets").is_dir():
        raise PoolError(f"{job.root}: no datasets/ folder; not a corpus")
    report = CaptionReport(job.root)
    if job.model is not None:
        from ingest.encoders.qwen_vl.model import model_name

        report.kind, report.model = "vlm", model_name(job.model)
    text_job = None
    if job.text_embeddings and job.model is not None:
        from jobs.stages.text_embed import TextEmbedJob, check_layer

        text_job = TextEmbedJob(
            root=job.root,
            model=job.model,
            layer=job.layer,
            device=job.device,
            actors=job.actors,
            num_cpus=job.num_cpus,
            object_store_mb=job.object_store_mb,
        )
        check_layer(text_job)  # before any captioning
    with JobLock(job.root, "caption"):
        work, report.skipped = plan(job, report.kind, report.model)
        pending = _Pending(job, report)
        if job.model is None:
            _caption_by_rules(work, pending, report)
        on_ray = job.model is not None and bool(work)
        # every node reads the corpus's videos; batches in input order, so a rerun groups the same episodes
        session = (
            ray_session(address, job.num_cpus, job.object_store_mb, shared_output=job.root, preserve_order=True)
            if on_ray
            else nullcontext()
        )
        with session:
            if on_ray:
                _caption_by_vlm(job, work, pending, report, progress)
            pending.flush()
            if text_job is not None:  # in the same Ray session when captioning started one
                from jobs.stages.text_embed import run_text_embed

                report.text = run_text_embed(text_job, address=address, progress=progress)
        report.catalog_rows = refresh_catalog(job.root, bool(report.vlm or report.rule), "captions", log)
    report.seconds = time.perf_counter() - t0
    return report


def _caption_bucket(
    job: CaptionJob, url: str, address: str | None, progress: bool | None, storage: StorageOptions | None
) -> CaptionReport:
    """Captions of the corpus at `url`: the local run on the scratch corpus standing for it, under the output's
    lease (a running ingest or stage refuses it); the VLM's frames read from the bucket, text embeddings published by
    batch, the meta edits and catalog published when it ends (`bucket_corpus`)."""
    from jobs.runtime.bucket_stage import bucket_corpus

    t0 = time.perf_counter()
    with bucket_corpus(url, storage or options_for(url), "caption") as scratch:
        report = run_caption(job.model_copy(update={"root": scratch}), address=address, progress=progress)
    report.root, report.seconds = url, time.perf_counter() - t0
    return report


def _caption_by_rules(work: list[CaptionWork], pending: _Pending, report: CaptionReport) -> None:
    for w in work:
        caption = rule_caption(w)
        if caption is None:
            report.no_text += 1
        else:
            pending.add(w.dataset, caption)


def _caption_by_vlm(
    job: CaptionJob, work: list[CaptionWork], pending: _Pending, report: CaptionReport, progress: bool | None
) -> None:
    by_key = {(w.dataset, w.episode_index): w for w in work}

    def take(out: dict[str, Any]) -> tuple[int, int]:
        w = by_key[(str(out["dataset"]), int(out["episode_index"]))]
        if out["error"]:
            report.failed.append(f"{w.dataset} episode {w.episode_index}: {out['error']}")
        elif (text := normalize_instruction(str(out["answer"]))) is not None:
            pending.add(w.dataset, NewCaption(w.episode_index, text, "vlm", report.model, w.original))
        elif (fallback := rule_caption(w, fallback_from=report.model)) is not None:
            pending.add(w.dataset, fallback)
        else:
            report.no_text += 1
        return 1, int(out["frames"])

    drain(_vlm_stream(job, work, cluster_resources()), len(work), "caption", "ep", progress, take)


# -- CLI ------------------------------------------------------------------------------------------------------------
# `eidata caption ROOT`, in the flags' order. Exit 0 when every planned episode was captioned or had no text, 1 when
# some failed or the job could not run, 2 for usage errors (no corpus, a model folder that is not one,
# --text-embeddings without a model)
OPTIONS = (
    Opt(CaptionJob, "root", flags=("root",)),
    Opt(CaptionJob, "model"),
    Opt(CaptionJob, "camera"),
    Opt(CaptionJob, "frames"),
    Opt(CaptionJob, "max_pixels"),
    Opt(CaptionJob, "batch_size", flags=("--batch",)),
    *placement_options(CaptionJob),
    Opt(CaptionJob, "force", flags=("--force", "--recaption")),
    Opt(CaptionJob, "text_embeddings"),
    Opt(CaptionJob, "layer"),
    ADDRESS,
)


def build_job(args: argparse.Namespace) -> CaptionJob:
    bucket = is_remote(str(args.root))
    values = (
        job_values(args, OPTIONS, CaptionJob) if bucket else corpus_job_values("caption", args, OPTIONS, CaptionJob)
    )
    model = values["model"]
    if model is None:
        if values["text_embeddings"]:
            raise Usage("eidata caption: --text-embeddings needs --model (the VLM whose hidden states embed the tasks)")
        print(NO_MODEL, file=sys.stderr)
    elif not (Path(model) / "config.json").is_file():
        raise Usage(f"eidata caption: {model}: not a model folder (no config.json)")
    if bucket:
        _check_bucket(str(args.root))
    return CaptionJob.model_validate(values)


def _check_bucket(url: str) -> None:
    """A bucket ROOT's bad call, before any work: not s3://, a wrong credential, a missing bucket or prefix
    (`adapters.storage.urls.preflight`), or a prefix that holds no datasets/."""
    from adapters.storage.urls import StorageError, filesystem, preflight
    from ingest.storage.objects import list_prefixes

    try:
        _root(url)  # an s3:// URL
        preflight(url)
        fs, path = filesystem(url)
        if not list_prefixes(fs, f"{path}/datasets"):
            raise Usage(f"eidata caption: {url}: no datasets/ in the bucket; not a corpus")
    except (StorageError, ValueError) as e:
        raise Usage(f"eidata caption: {e}") from None


def _run(job: CaptionJob, args: argparse.Namespace) -> CaptionReport:
    return run_caption(job, address=args.address)


def _usage_errors() -> tuple[type[BaseException], ...]:
    from ingest.encoders.qwen_vl.model import VLMError

    return (VLMError, PoolError)  # a model folder or a placement that cannot work


def _job_errors() -> tuple[type[BaseException], ...]:
    from adapters.storage.urls import StorageError
    from ingest.storage.lease import OutputLeasedError

    # a bucket corpus: another job holds its lease, or the store failed mid-run
    return (JobLockedError, CaptionStoreError, CatalogError, SharedFsError, OutputLeasedError, StorageError)


STAGE = Stage(
    "caption",
    build_job,
    _run,
    CaptionReport.summary,
    lambda report: bool(report.failed or (report.text is not None and report.text.failed)),
    usage_errors=_usage_errors,
    job_errors=_job_errors,
)
