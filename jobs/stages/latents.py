"""`eidata latents ROOT`: DINOv3 patch latents for every episode that lacks them, a stage on Ray Data
(`jobs.runtime.stage`; usage, and placement on a cluster: jobs/stages/README.md).

    plan: a row per episode and camera, from each dataset's meta
      -> decode_episode     CPU tasks: the frames at the latent rate, resized (the wire format)
      -> LatentsEncoder     actor pool, one model per GPU (or one CPU actor): encode, write the files
      -> accept             progress, failures, each batch's files published; then the catalog

A row is a whole episode, so an actor holds every frame of the episodes it writes: a file is complete by construction
and written atomically. Frames travel as uint8 [n, 3, 224, 224] (150 KB a frame) and are normalized on the actor's
device (`ingest.encoders.dinov3.stream`). An actor takes whole episodes, about `4 x batch_size` frames a call, and
runs fixed `batch_size` batches across episode boundaries, the copies to and from the GPU on a second CUDA stream;
a thread pool writes each episode's file from the (pinned) output buffer once its last batch is on the host.

`--manifest` and `--where` scope the run (`jobs.catalog.selection`). A file made with another model, rate, dtype or size
stops the job unless `--overwrite` (never in a bucket, whose objects are not replaced).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import Field

from adapters.lerobot_format.files import load_info
from adapters.storage.corpus import Corpus
from adapters.storage.location import Location
from ingest.encoders.dinov3.frames import LatentsInputError, PreprocessConfig, decode_resized
from ingest.encoders.dinov3.model import EncoderLoadError, EncoderSpec, encoder_config
from ingest.encoders.dinov3.stream import FrameEncoder
from ingest.files.latents import LatentsFile, LatentsFileError, remove_stale_temps, write_latents
from ingest.lerobot.settled import settled_datasets
from ingest.progress import per_second
from jobs.catalog.selection import Scoped, SelectionError, select
from jobs.runtime.options import Opt, job_values, opts
from jobs.runtime.ray_pool import Placement
from jobs.runtime.stage import ADDRESS, CorpusRoot, CorpusStage, Failed, RayJob, StageReport, Usage, placement_options
from jobs.stages.latents_plan import PlannedLatents
from schemas.canonical import IMAGE_PREFIX, main_video_key
from schemas.faults import reraise_environment
from schemas.image_latents import LatentsMeta, latent_frame_indices, latents_file
from schemas.lerobot import EPISODES_PATH, INFO_PATH

log = logging.getLogger(__name__)

NO_MODEL = (
    "eidata latents: no encoder weights. Pass --model DIR, a local DINOv3 ViT-S/16 folder holding config.json "
    "and model.safetensors (e.g. facebook/dinov3-vits16-pretrain-lvd1689m saved with save_pretrained); "
    "nothing is downloaded. (--random-init, random weights, exists for tests and benchmarks only.)"
)
FRAMES_PER_CALL = 4  # x batch_size frames per actor call: the short last chunk of a call costs <= 1/4 of a batch
WRITE_THREADS = 4
# scheduling reservation per decode task: a 3-minute episode at 3 Hz is 540 frames, 81 MB of uint8 224x224 frames,
# plus the decoder's own buffers
DECODE_TASK_MEMORY = 256 * 1024**2
# a decode task's Ray resources: no GPU, so on a cluster decoding also runs on CPU-only nodes; the memory reservation
# also keeps Ray Data from fusing decoding into the actors (it fuses maps with equal resource args): decoding must
# stay in CPU tasks that scale apart from the GPUs
DECODE_RESOURCES: dict[str, Any] = {"num_cpus": 1, "memory": DECODE_TASK_MEMORY}


class LatentsJob(RayJob, Scoped):
    root: CorpusRoot
    encoder: EncoderSpec
    preprocess: PreprocessConfig = Field(default_factory=PreprocessConfig)
    # 2.5 Hz: a stride of 4 frames of the 10 Hz stream divides `eidata train`'s 16-step chunk, so every anchor has a
    # latent frame at its chunk's end (training.episodes.exact_future); 3 Hz gave one anchor in three its future
    rate_hz: float = Field(2.5, gt=0, description="latent frames per second: nearest frames of the episode stream")
    camera: str = Field("main", description="'main', 'all', or comma-separated camera names / video keys")
    overwrite: bool = Field(False, description="recompute episodes whose file exists")
    frames_per_call: int | None = Field(
        None,
        gt=0,
        description="frames an actor gets per call, in whole episodes "
        "(default: 4 x batch_size on CUDA, batch_size on CPU)",
    )
    object_store_mb: int = Field(2048, gt=0, description="embedded Ray's object store")
    dry_run: bool = Field(False, description="say what would be computed (episodes, frames), write nothing")


@dataclass
class LatentsReport(StageReport):
    written: int = 0
    frames: int = 0
    skipped: int = 0
    fetched: int = 0  # bytes of the videos fetched from a bucket (0 locally)
    used: int = 0  # bytes of them the decoder read
    selected: int = 0  # episodes the run covers (--manifest / --where, else every episode with video)
    chosen: str = ""  # how they were chosen, as said ("manifest m"), "" for every episode
    dry_run: bool = False
    planned: tuple[int, int, int] = (0, 0, 0)  # a dry run's files to write, their frames, their datasets

    def summary(self) -> str:
        rate = f", {per_second(self.frames, self.seconds, 'frames')}" if self.frames and self.seconds else ""
        scope = f"{self.selected} episodes " + (f"selected ({self.chosen})" if self.chosen else "(all)")
        if self.dry_run:
            files, frames, datasets = self.planned
            done = f"{self.skipped} already done; dry run: nothing written"
            return f"latents: {scope}: would compute {files} episodes ({frames} frames) in {datasets} datasets, {done}"
        lines = [
            f"latents: {scope}: {self.written} episodes written ({self.frames} frames{rate}), "
            f"{self.skipped} already done, {len(self.failed)} failed, {self.seconds:.1f} s"
        ]
        if self.fetched:
            ratio = self.fetched / self.used if self.used else float("inf")
            lines.append(
                f"  videos read from the bucket: {self.fetched} bytes fetched for {self.used} bytes decoded "
                f"({ratio:.2f} fetched per byte used)"
            )
        return "\n".join(lines + self.failures())


def select_video_keys(video_keys: list[str], camera: str) -> list[str]:
    """The cameras to encode in a dataset with `video_keys` (info.json order) for the `--camera` choice."""
    if camera == "all":
        return list(video_keys)
    if camera == "main":
        key = main_video_key(video_keys)
        return [key] if key else []
    wanted = [c.strip() for c in camera.split(",") if c.strip()]
    keys = [c if c.startswith(IMAGE_PREFIX) else IMAGE_PREFIX + c for c in wanted]
    return [k for k in keys if k in video_keys]


# -- decode tasks (CPU) -------------------------------------------------------------------------------------------
def decode_episode(
    row: dict[str, Any], *, rate_hz: float, preprocess: dict[str, Any], corpus: Corpus
) -> dict[str, Any]:
    """One episode's frames at the latent rate, resized to uint8 [n, 3, S, S] (the wire format). A bad video becomes
    an `error`, never an exception. The video is read where the corpus keeps it (`Corpus.open_file`: a bucket's by
    ranges, never copied); `fetched` and `used` count bytes fetched and decoded."""
    cfg = PreprocessConfig.model_validate(preprocess)
    out = {k: row[k] for k in ("dataset", "episode_index", "video_key", "out")}
    with Location.metering() as meter:
        try:
            idx = latent_frame_indices(int(row["length"]), float(row["fps"]), rate_hz)
            if idx.size == 0:
                raise LatentsInputError(f"{corpus.source(Path(row['video']))}: the episode has no frames")
            with corpus.open_file(Path(row["video"])) as video:  # a video eidata wrote: trusted, read uncapped
                frames = decode_resized(video, idx, cfg).numpy()
            result = {**out, "frame_index": idx, "frames": frames, "error": ""}
        except (LatentsInputError, ValueError, OSError) as e:
            empty = np.zeros((0, 3, cfg.size, cfg.size), dtype=np.uint8)
            result = {**out, "frame_index": np.zeros(0, dtype=np.int64), "frames": empty, "error": str(e)}
    return {**result, "fetched": meter.fetched, "used": meter.used}


# -- encoder actors -----------------------------------------------------------------------------------------------
class LatentsEncoder:
    """Ray Data callable class: one model per actor (per GPU), loaded once; encodes and writes whole episodes."""

    def __init__(
        self, encoder: dict[str, Any], preprocess: dict[str, Any], meta: dict[str, Any], threads: int | None
    ) -> None:
        if threads:
            torch.set_num_threads(threads)
        self.spec = EncoderSpec.model_validate(encoder)
        self.meta = meta
        self.encoder = FrameEncoder(self.spec, PreprocessConfig.model_validate(preprocess))
        self.pool = ThreadPoolExecutor(max_workers=WRITE_THREADS)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["out"])
        errors = [str(e) for e in batch["error"]]
        good = [i for i in range(n) if not errors[i]]
        frames = [batch["frames"][i] for i in good]
        ends = np.cumsum([0, *(int(f.shape[0]) for f in frames)])
        patches, cls = self.encoder.outputs(int(ends[-1]))
        writes: dict[int, Future[Any]] = {}
        nxt = 0  # next episode (position in `good`) whose file is not yet submitted
        for stop, ready in self.encoder.encode(frames):
            while nxt < len(good) and ends[nxt + 1] <= stop:
                a, b = int(ends[nxt]), int(ends[nxt + 1])
                writes[good[nxt]] = self.pool.submit(self._write, batch, good[nxt], patches[a:b], cls[a:b], ready)
                nxt += 1
        for i, fut in writes.items():  # all done before the output buffer is reused by the next call
            try:
                fut.result()
            except (OSError, LatentsFileError) as e:
                reraise_environment(e)
                errors[i] = f"{batch['out'][i]}: cannot write ({e})"
        counts = np.array([np.asarray(f).shape[0] for f in batch["frame_index"]], dtype=np.int64)
        keys = [k for k in ("dataset", "episode_index", "video_key", "out", "fetched", "used") if k in batch]
        return {**{k: np.asarray(batch[k]) for k in keys}, "frames": counts, "error": np.array(errors, dtype=object)}

    def _write(
        self, batch: dict[str, np.ndarray], i: int, patches: torch.Tensor, cls: torch.Tensor, ready: Callable[[], None]
    ) -> Path:
        """Write episode `i` once its rows are on the host (`ready`), straight from the output buffer's rows."""
        frame_index = torch.from_numpy(np.asarray(batch["frame_index"][i], dtype=np.int64).copy())
        meta = LatentsMeta.model_validate(
            {**self.meta, "video_key": str(batch["video_key"][i]), "episode_index": int(batch["episode_index"][i])}
        )
        ready()
        return write_latents(Path(str(batch["out"][i])), LatentsFile(patches, cls, frame_index, meta))


def expected_meta(job: LatentsJob) -> LatentsMeta:
    """The metadata this run writes (episode fields are filled per file). Raises EncoderLoadError."""
    cfg = encoder_config(job.encoder)
    patch = cfg.patch_size if isinstance(cfg.patch_size, int) else cfg.patch_size[0]
    return LatentsMeta(
        model=job.encoder.model_name,
        image_size=job.preprocess.size,
        rate_hz=job.rate_hz,
        dtype=job.encoder.stored_dtype,
        video_key="",
        episode_index=0,
        patch_size=patch,
        num_register_tokens=cfg.num_register_tokens,
    )


# -- the stage ----------------------------------------------------------------------------------------------------
class LatentsStage(CorpusStage[LatentsJob, LatentsReport]):
    command = "latents"
    Model = LatentsEncoder
    decode = staticmethod(decode_episode)
    decode_resources = DECODE_RESOURCES
    catalog: str | None = "latents"
    usage_errors = (EncoderLoadError, SelectionError)

    def __init__(self, job: LatentsJob) -> None:
        super().__init__(job, LatentsReport(job.root, dry_run=job.dry_run))
        self.expected = expected_meta(job)  # the metadata this run writes; EncoderLoadError before any work
        self.catalog = None if job.dry_run else "latents"  # a dry run leaves the catalog as it is

    def plan(self, corpus: Corpus) -> list[dict[str, Any]]:
        """A row for every (episode, selected camera) whose latents file is missing (or stale, with --overwrite);
        a file the corpus holds is done when its metadata says this run's encoding, else the job stops."""
        job = self.job
        chosen = select(corpus.root, job.manifest, job.where)  # SelectionError: a usage error (exit 2)
        datasets = settled_datasets(corpus.root)
        datasets = datasets if chosen is None else chosen.datasets(corpus.root, datasets)
        self.report.chosen = chosen.said if chosen is not None else ""
        rows: list[dict[str, Any]] = []
        stale: list[str] = []  # files the corpus holds, made otherwise: in the way unless --overwrite
        planned = PlannedLatents(corpus, datasets)  # the catalog's lengths and files, where it describes a dataset
        for ds in datasets:
            info = load_info(ds / INFO_PATH)
            if info.video_path is None or not (ds / EPISODES_PATH).exists():
                log.warning("%s: no videos or no %s; skipped", ds, EPISODES_PATH)
                continue
            keys = select_video_keys(info.video_keys, job.camera)
            if not keys:
                log.warning("%s: no camera matches --camera %s (has %s); skipped", ds, job.camera, info.video_keys)
                continue
            if job.rate_hz > info.fps:
                raise Usage(f"eidata latents: {ds}: --rate {job.rate_hz} Hz is above the dataset's {info.fps} fps")
            if not job.dry_run:
                remove_stale_temps(ds)
            lengths, lines = planned.episodes(ds, info)
            lengths = lengths if chosen is None else chosen.keep(corpus.root, ds, lengths)
            self.report.selected += len(lengths)
            names = {(i, key): latents_file(info, i, key) for i in lengths for key in keys}
            done = planned.committed(ds, names, lines)
            for (index, key), name in names.items():
                if name in done and not job.overwrite:
                    self._done(ds / name, done[name], stale)
                    continue
                if name in done:
                    stale.append(f"{ds / name}: held already")
                rows.append(
                    {
                        "dataset": ds.relative_to(corpus.root).as_posix(),
                        "episode_index": index,
                        "video_key": key,
                        "length": lengths[index],
                        "fps": float(info.fps),
                        "video": str(ds / info.video_file(index, key)),
                        "out": str(ds / name),
                    }
                )
        what = "--overwrite" if job.overwrite else f"{len(stale)} latents files were made differently"
        if stale and (refused := corpus.storage.refusal("replaces", what)):  # a bucket's objects stay as they are
            shown = "\n  ".join(stale[:5])
            raise (Usage if job.overwrite else Failed)(
                f"eidata latents: {refused}; rerun with their settings or write another output:\n  {shown}"
            )
        if stale and not job.overwrite:
            shown = "\n  ".join(stale[:5])
            raise Failed(
                f"eidata latents: {len(stale)} latents files were made differently; rerun with --overwrite to "
                f"recompute them, or with their settings:\n  {shown}"
            )
        if job.dry_run:  # what it would compute, counted; nothing for Ray
            frames = sum(len(latent_frame_indices(r["length"], r["fps"], job.rate_hz)) for r in rows)
            self.report.planned = (len(rows), frames, len({r["dataset"] for r in rows}))
            return []
        return rows

    def _done(self, out: Path, meta: dict[str, str], stale: list[str]) -> None:
        """Count a file the corpus holds (its `meta`) as done, or as in the way when made with another encoding."""
        try:
            have = LatentsMeta.model_validate(meta)
        except ValueError as e:
            stale.append(f"{out}: bad latents metadata ({e})")
            return
        if have.same_encoding(self.expected):
            self.report.skipped += 1
            return
        want = self.expected
        stale.append(
            f"{out}: made with model {have.model}, {have.rate_hz} Hz, {have.dtype}, {have.image_size} px; "
            f"this run: {want.model}, {want.rate_hz} Hz, {want.dtype}, {want.image_size} px"
        )

    def decode_args(self, corpus: Corpus) -> dict[str, Any]:
        return {"rate_hz": self.job.rate_hz, "preprocess": self.job.preprocess.model_dump(), "corpus": corpus}

    def batch_size(self, rows: list[dict[str, Any]], place: Placement) -> int:
        """Whole episodes per actor call, about `frames_per_call` frames (default: 4 batches on CUDA, 1 on CPU)."""
        job, batch = self.job, self.job.encoder.batch_size
        per_call = job.frames_per_call or (FRAMES_PER_CALL * batch if place.device == "cuda" else batch)
        mean = float(np.mean([len(latent_frame_indices(r["length"], r["fps"], job.rate_hz)) for r in rows]))
        episodes = max(1, round(per_call / max(mean, 1.0)))
        log.info("latents: %d episodes (~%.0f frames) per call", episodes, episodes * mean)
        return episodes

    def model_args(self, place: Placement) -> dict[str, Any]:
        return {
            "encoder": self.job.encoder.model_copy(update={"device": place.device}).model_dump(),
            "preprocess": self.job.preprocess.model_dump(),
            "meta": self.expected.model_dump(exclude={"video_key", "episode_index"}),
            "threads": place.threads,
        }

    def accept(self, batch: dict[str, np.ndarray], corpus: Corpus) -> tuple[int, int]:
        report, ok = self.report, [not err for err in batch["error"]]
        for err, frames in zip(batch["error"], batch["frames"], strict=True):
            if err:
                report.failed.append(str(err))
            else:
                report.written += 1
                report.frames += int(frames)
        corpus.publish_files([str(p) for p, good in zip(batch["out"], ok, strict=True) if good], self.command)
        report.fetched += int(np.sum(batch["fetched"]))
        report.used += int(np.sum(batch["used"]))
        return len(ok), int(np.sum(batch["frames"]))

    def finish(self, corpus: Corpus, *, address: str | None, progress: bool | None) -> bool:
        return True  # always: a run killed after its last file left the catalog behind, and its rerun writes none


# -- CLI ----------------------------------------------------------------------------------------------------------
# `eidata latents ROOT`, in the flags' order; exit 0 when every episode has its latents, 1 when some failed or the job
# could not run (locked corpus, stale files), 2 for usage errors (no corpus, no --model, rate above a dataset's fps)
OPTIONS = (
    Opt(LatentsJob, "root", flags=("root",)),
    *opts(LatentsJob, "encoder.model", "encoder.random_init"),
    Opt(LatentsJob, "rate_hz", flags=("--rate",)),
    Opt(LatentsJob, "camera"),
    Opt(LatentsJob, "encoder.stored_dtype", flags=("--dtype",)),
    Opt(LatentsJob, "encoder.batch_size", flags=("--batch",)),
    *placement_options(LatentsJob),
    Opt(LatentsJob, "encoder.compile", words={"auto": None, "on": True, "off": False}),
    *opts(LatentsJob, "overwrite", "manifest", "where", "dry_run"),
    ADDRESS,
)


def build_job(args: argparse.Namespace) -> LatentsJob:
    values = job_values(args, OPTIONS, LatentsJob)
    encoder = values["encoder"]
    if encoder["model"] is None and not encoder["random_init"]:
        raise Usage(NO_MODEL)
    model = encoder["model"]
    try:
        preprocess = PreprocessConfig.from_model_dir(Path(model) if model else None)
    except ValueError as e:
        raise Usage(f"eidata latents: {e}") from None
    return LatentsJob.model_validate({**values, "preprocess": preprocess})


STAGE = LatentsStage.cli(build_job)
