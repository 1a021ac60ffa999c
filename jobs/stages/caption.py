"""`eidata caption ROOT`: one normalized imperative instruction per episode, next to its original text.

With `--model DIR` (a local Qwen3-VL folder), a stage on Ray Data (`jobs.runtime.stage`):

    plan: episodes without a caption by this model, from each dataset's meta
      -> decode_for_caption     CPU tasks: a few frames spread over the episode, Qwen-preprocessed
      -> CaptionActor           one model per GPU (bf16) or one CPU actor (fp32): greedy answers
      -> accept                 each answer normalized (ingest.encoders.caption_rules), written per dataset every
                                `flush_every` episodes under its writer lock; then the catalog

The VLM sees the frames and the episode's original text as the rules clean it; the same rules normalize its answer,
so both kinds read alike, and an empty answer falls back to the rules. Without `--model` the rules alone caption, on
the driver; a rule run never replaces a VLM caption. `--text-embeddings` then runs `eidata text-embed` with the same
model on the same corpus handle.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from adapters.lerobot_format.files import read_jsonl
from adapters.storage.corpus import Corpus
from ingest.encoders.caption_rules import RULES_VERSION, normalize_instruction
from ingest.lerobot.settled import settled_datasets
from jobs.catalog.selection import Scoped, SelectionError, select
from jobs.runtime.options import Opt, job_values, opts
from jobs.runtime.ray_pool import Placement
from jobs.runtime.stage import ADDRESS, CorpusRoot, CorpusStage, RayJob, StageReport, Usage, placement_options
from jobs.stages.caption_store import CaptionStoreError, CaptionWork, NewCaption, apply_captions, plan_dataset
from jobs.stages.text_embed import TextEmbedJob, TextEmbedReport, TextEmbedStage, load_vlm, vlm_errors
from schemas.faults import reraise_environment
from schemas.lerobot import EPISODES_PATH

NO_MODEL = (
    "eidata caption: no --model given, so captions come from the rule-based normalizer alone (kind 'rule', "
    "text only). For VLM captions pass --model DIR, a local Qwen3-VL folder (config.json, weights, tokenizer, "
    "preprocessor_config.json as save_pretrained writes them); nothing is downloaded."
)


class CaptionJob(RayJob, Scoped):
    root: CorpusRoot
    model: Path | None = Field(None, description="local Qwen3-VL folder; None: rule-based captions only")
    camera: str | None = Field(None, description="camera shown to the VLM (default: head, else the first camera)")
    frames: int = Field(4, ge=0, le=32, description="frames per episode shown to the VLM, spread over the episode")
    max_pixels: int = Field(448 * 448, gt=0, description="pixel budget per frame (caps the model's own setting)")
    max_new_tokens: int = Field(32, gt=0, le=256)
    batch_size: int = Field(8, gt=0, description="episodes per model call")
    force: bool = Field(False, description="recaption episodes this model (or the rules) captioned already")
    flush_every: int = Field(256, gt=0, description="write a dataset's captions every this many episodes")
    lock_timeout_s: float = Field(60.0, ge=0, description="how long to wait for a dataset another writer holds")
    text_embeddings: bool = Field(False, description="then embed every task with the same model (text-embed)")
    layer: int = Field(-1, description="hidden-state layer for --text-embeddings")
    dry_run: bool = Field(False, description="plan and print what would be captioned, write nothing, start no Ray")

    @model_validator(mode="after")
    def _embeddings_need_a_model(self) -> CaptionJob:
        if self.text_embeddings and self.model is None:
            raise ValueError("text_embeddings needs a model (the VLM whose hidden states embed the tasks)")
        return self


@dataclass
class CaptionReport(StageReport):
    kind: Literal["vlm", "rule"] = "rule"
    model: str = RULES_VERSION
    vlm: int = 0  # captions written by the VLM
    rule: int = 0  # captions written by the rules (all of them without a model; fallbacks with one)
    no_text: int = 0  # episodes neither could caption (no original text, empty answer)
    skipped: int = 0
    text: TextEmbedReport | None = None  # the report of --text-embeddings
    planned: dict[str, int] | None = None  # a dry run's episodes to caption per dataset (None: not a dry run)
    embeds: bool = False  # a dry run's --text-embeddings
    chosen: str = ""  # how the episodes were chosen (--manifest / --where), as said; "" for every episode

    def summary(self) -> str:
        if self.planned is not None:
            return self.plan_summary()
        scope = f" of the episodes selected ({self.chosen})" if self.chosen else ""
        head = f"caption ({self.kind}: {self.model}){scope}: {self.vlm} by the VLM, {self.rule} by the rules"
        lines = [
            f"{head}, {self.skipped} already done, {self.no_text} without any text, {len(self.failed)} failed, "
            f"{self.seconds:.1f} s"
        ]
        lines += self.failures()
        if self.text is not None:
            lines.append(self.text.summary())
        return "\n".join(lines)

    def plan_summary(self) -> str:
        planned = self.planned or {}
        by = "the VLM (the rules where it gives no answer)" if self.kind == "vlm" else "the rules"
        lines = [f"to caption  {name}  {n} episodes" for name, n in sorted(planned.items()) if n]
        lines.append(
            f"caption dry run ({self.kind}: {self.model}): {sum(planned.values())} episodes"
            + (f" selected ({self.chosen})" if self.chosen else "")
            + " in "
            f"{sum(1 for n in planned.values() if n)} dataset(s) to caption by {by}, {self.skipped} already done"
            + ("; then every task embedded (text-embed)" if self.embeds else "")
            + "; nothing written, Ray not started"
        )
        return "\n".join(lines)

    def any_failed(self) -> bool:
        return bool(self.failed or (self.text is not None and self.text.failed))


class _Pending:
    """Captions waiting to be written, per dataset; a dataset is written when it has `flush_every` of them."""

    def __init__(self, job: CaptionJob, report: CaptionReport) -> None:
        self.job, self.report = job, report
        self.by_dataset: dict[str, list[NewCaption]] = defaultdict(list)

    def add(self, dataset: str, caption: NewCaption) -> None:
        self.by_dataset[dataset].append(caption)
        self.report.vlm += caption.kind == "vlm"
        self.report.rule += caption.kind == "rule"
        if len(self.by_dataset[dataset]) >= self.job.flush_every:
            self.flush(dataset)

    def flush(self, dataset: str | None = None) -> None:
        for ds in [dataset] if dataset else list(self.by_dataset):
            captions = self.by_dataset.pop(ds, [])
            try:
                apply_captions(Path(ds), captions, lock_timeout_s=self.job.lock_timeout_s)
            except (CaptionStoreError, OSError, ValueError) as e:
                reraise_environment(e)  # a full disk ends the command with 75; its rerun writes these captions
                self.report.failed.append(f"{ds}: {len(captions)} captions not written ({e})")
                self.report.vlm -= sum(c.kind == "vlm" for c in captions)
                self.report.rule -= sum(c.kind == "rule" for c in captions)


def rule_caption(w: CaptionWork, fallback_from: str | None = None) -> NewCaption | None:
    if (text := normalize_instruction(w.original)) is None:
        return None
    return NewCaption(w.episode_index, text, "rule", RULES_VERSION, w.original, fallback_from)


# -- Ray stages -----------------------------------------------------------------------------------------------------
def decode_for_caption(row: dict[str, Any], *, frames: int, image: dict[str, Any], corpus: Corpus) -> dict[str, Any]:
    """CPU stage: the episode's frames as the VLM's pixel inputs (none without video); errors travel as text. The
    video is read where the corpus keeps it (`Corpus.open_file`: a bucket's by ranges)."""
    from ingest.encoders.qwen_vl.image import QwenImageConfig
    from ingest.encoders.qwen_vl.model import episode_vision_input

    cfg = QwenImageConfig.model_validate(image)
    try:
        if row.get("video"):
            with corpus.open_file(Path(row["video"])) as video:  # a video eidata wrote: trusted, read uncapped
                vision = episode_vision_input(video, int(row["length"]), frames, cfg)
        else:
            vision = episode_vision_input(None, int(row["length"]), frames, cfg)
        error = ""
    except Exception as e:  # an unreadable video costs this episode only; named where it was read
        where = corpus.source(Path(row["video"])) if row.get("video") else row["dataset"]
        vision, error = episode_vision_input(None, 0, 0, cfg), f"{where}: {type(e).__name__}: {e}"
    return {**row, "pixel_values": vision.pixel_values, "grid_thw": vision.grid_thw, "error": error}


class CaptionActor:
    """One VLM per actor: greedy answers for a batch of episodes (rows with a decode error pass through)."""

    def __init__(self, model: str, device: str, max_new_tokens: int, threads: int | None) -> None:
        self.vlm = load_vlm(model, device, threads)
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


def _usage_errors() -> tuple[type[BaseException], ...]:
    return (*vlm_errors(), SelectionError)


# -- the stage -----------------------------------------------------------------------------------------------------
class CaptionStage(CorpusStage[CaptionJob, CaptionReport]):
    command = "caption"
    Model = CaptionActor
    decode = staticmethod(decode_for_caption)
    preserve_order = True  # batches in input order: a rerun groups the same episodes
    catalog: str | None = "captions"
    usage_errors = staticmethod(_usage_errors)  # a model folder that cannot work, a selection not made
    job_errors = (CaptionStoreError,)

    def __init__(self, job: CaptionJob) -> None:
        super().__init__(job, CaptionReport(job.root))
        if job.model is not None:
            from ingest.encoders.qwen_vl.model import model_name

            self.report.kind, self.report.model = "vlm", model_name(job.model)
        self.pending = _Pending(job, self.report)
        self.work: dict[tuple[str, int], CaptionWork] = {}
        self.text = None
        if job.dry_run:  # the plan alone: no lock file, no catalog intent, no Ray
            self.locks, self.catalog = False, None
            self.report.planned, self.report.embeds = {}, job.text_embeddings
        elif job.text_embeddings and job.model is not None:
            placement = job.model_dump(include=set(RayJob.model_fields))
            self.text = TextEmbedStage(TextEmbedJob(root=job.root, model=job.model, layer=job.layer, **placement))

    def check(self) -> None:
        if self.text is not None:
            self.text.check()  # the layer, before any captioning

    def plan(self, corpus: Corpus) -> list[dict[str, Any]]:
        """Every episode to caption (of those `--manifest` / `--where` select); rows for the VLM (none for a rule
        run: the rules caption on the driver)."""
        chosen = select(corpus.root, self.job.manifest, self.job.where)  # SelectionError: a usage error (exit 2)
        datasets = settled_datasets(corpus.root)
        self.report.chosen = chosen.said if chosen is not None else ""
        for ds in datasets if chosen is None else chosen.datasets(corpus.root, datasets):
            work, skipped = plan_dataset(
                ds, self.report.kind, self.report.model, force=self.job.force, camera=self.job.camera
            )
            if chosen is not None:  # the selected episodes only; those already captioned among them are skipped
                lengths = {int(line["episode_index"]): 0 for _, line in read_jsonl(ds / EPISODES_PATH)}
                wanted = chosen.keep(corpus.root, ds, lengths)
                skipped = len(wanted) - sum(w.episode_index in wanted for w in work)
                work = [w for w in work if w.episode_index in wanted]
            self.work.update({(w.dataset, w.episode_index): w for w in work})
            self.report.skipped += skipped
            if self.report.planned is not None:
                self.report.planned[ds.relative_to(corpus.root).as_posix()] = len(work)
        if self.job.model is None or self.job.dry_run:
            return []
        # the VLM is told the original text after the rules cleaned it (no "#C C", no "unspecified")
        return [{**asdict(w), "hint": normalize_instruction(w.original)} for w in self.work.values()]

    def decode_args(self, corpus: Corpus) -> dict[str, Any]:
        from transformers import AutoConfig

        from ingest.encoders.qwen_vl.image import QwenImageConfig

        job = self.job
        assert job.model is not None  # work to decode is planned with a model only (`plan`)
        cfg = QwenImageConfig.from_model_dir(job.model, AutoConfig.from_pretrained(job.model).vision_config)
        cfg = cfg.model_copy(
            update={
                "max_pixels": min(cfg.max_pixels, job.max_pixels),
                "min_pixels": min(cfg.min_pixels, job.max_pixels),
            }
        )
        return {"frames": job.frames, "image": cfg.model_dump(), "corpus": corpus}

    def model_args(self, place: Placement) -> dict[str, Any]:
        job = self.job
        return {
            "model": str(job.model),
            "device": place.device,
            "max_new_tokens": job.max_new_tokens,
            "threads": place.threads,
        }

    def accept(self, batch: dict[str, np.ndarray], corpus: Corpus) -> tuple[int, int]:
        """Each episode's answer normalized into its caption (the rules' when it gives none), or its failure."""
        report = self.report
        for i in range(len(batch["episode_index"])):
            w = self.work[(str(batch["dataset"][i]), int(batch["episode_index"][i]))]
            if batch["error"][i]:
                report.failed.append(f"{w.dataset} episode {w.episode_index}: {batch['error'][i]}")
            elif (text := normalize_instruction(str(batch["answer"][i]))) is not None:
                self.pending.add(w.dataset, NewCaption(w.episode_index, text, "vlm", report.model, w.original))
            elif (fallback := rule_caption(w, fallback_from=report.model)) is not None:
                self.pending.add(w.dataset, fallback)
            else:
                report.no_text += 1
        return len(batch["episode_index"]), int(np.sum(batch["frames"]))

    def finish(self, corpus: Corpus, *, address: str | None, progress: bool | None) -> bool:
        """A rule run captions here; every caption left is written; then the text embeddings, in the same Ray
        session when captioning started one."""
        if self.job.dry_run:
            return False
        if self.job.model is None:
            for w in self.work.values():
                caption = rule_caption(w)
                if caption is None:
                    self.report.no_text += 1
                else:
                    self.pending.add(w.dataset, caption)
        self.pending.flush()
        if self.text is not None:
            self.report.text = self.text.run(address=address, progress=progress, corpus=corpus)
        return bool(self.report.vlm or self.report.rule)


# -- CLI ------------------------------------------------------------------------------------------------------------
# `eidata caption ROOT`, in the flags' order. Exit 0 when every planned episode was captioned or had no text, 1 when
# some failed or the job could not run, 2 for usage errors (no corpus, a model folder that is not one,
# --text-embeddings without a model)
OPTIONS = (
    Opt(CaptionJob, "root", flags=("root",)),
    *opts(CaptionJob, "model", "camera", "frames", "max_pixels"),
    Opt(CaptionJob, "batch_size", flags=("--batch",)),
    *placement_options(CaptionJob),
    Opt(CaptionJob, "force", flags=("--force", "--recaption")),
    *opts(CaptionJob, "text_embeddings", "layer", "manifest", "where", "dry_run"),
    ADDRESS,
)


def build_job(args: argparse.Namespace) -> CaptionJob:
    values = job_values(args, OPTIONS, CaptionJob)
    model = values["model"]
    if model is None:
        if values["text_embeddings"]:
            raise Usage("eidata caption: --text-embeddings needs --model (the VLM whose hidden states embed the tasks)")
        print(NO_MODEL, file=sys.stderr)
    elif not (Path(model) / "config.json").is_file():
        raise Usage(f"eidata caption: {model}: not a model folder (no config.json)")
    return CaptionJob.model_validate(values)


STAGE = CaptionStage.cli(build_job)
