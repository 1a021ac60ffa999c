"""`eidata latents ROOT`: DINOv3 patch latents for every episode that lacks them, as a Ray Data pipeline.

    work rows (one per episode and camera, from each dataset's meta)
      -> map(decode_episode)            CPU tasks: decode frames at the latent rate, preprocess (latents_frames)
      -> map_batches(LatentsEncoder)    actor pool, one model per GPU (or one CPU actor): encode, write the files
      -> driver                         progress, failures, then the catalog's latents_ready

A row of the stream is a whole episode (its frames as one ragged array), so an actor always holds every frame of
the episodes it writes: a file is complete by construction and written atomically. Frames travel resized, as uint8
[n, 3, 224, 224] (150 KB a frame); the actor normalizes them on its device (`ingest.encoders.dinov3.stream`). GPU
throughput comes from an actor taking `episodes_per_call` rows (chosen from the mean episode length to give about
`4 x batch_size` frames) and running the model on fixed `batch_size` batches across episode boundaries, gathered
straight from the rows' arrays (no concatenation of the call), with the copies to and from the GPU on a second CUDA
stream beside the model. Results land in one output buffer (pinned on CUDA) at their final rows, and a small thread
pool writes each episode's file from it as soon as its last batch is on the host.

Placement: decode tasks ask for one CPU and no GPU, an encoder actor for one GPU (and one CPU) on CUDA, so on a
cluster joined with `--address` Ray runs the decoding on any node with free CPUs, CPU-only nodes included, and the
actors only on GPU nodes (`DECODE_RESOURCES`, `jobs.runtime.ray_pool.place_actors`).

Resumable: an episode whose file exists is skipped (files are written atomically, so an existing one is whole); a
file made with another model, rate, dtype or size stops the job unless `--overwrite`. Decode failures (unreadable or
short videos) cost that episode only and are reported, exit status 1.

In a bucket (`eidata latents s3://bucket/corpus`): the job runs on the bucket's scratch corpus under the output's
lease (`jobs.runtime.bucket_stage`); decode tasks read each video from the bucket by ranged reads (PyAV on a seekable
file object), the actors write the files in the scratch, and the driver publishes each batch as it lands (its files at
their final keys with If-None-Match, then one commit record: `ingest.storage.derived`), so the scratch holds only the
batches in flight. What is done comes from the records; objects are never replaced (no --overwrite there).
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from adapters.storage.location import locate, metering, readable
from adapters.storage.urls import StorageError
from ingest.encoders.dinov3.frames import LatentsInputError, PreprocessConfig, decode_resized, latent_frame_indices
from ingest.encoders.dinov3.model import EncoderLoadError, EncoderSpec, encoder_config
from ingest.encoders.dinov3.stream import FrameEncoder
from ingest.files.latents import LatentsFile, LatentsFileError, read_meta, remove_stale_temps, write_latents
from ingest.storage.lease import OutputLeasedError
from jobs.runtime.bucket_stage import CorpusWhere, ScratchCorpus, stage_corpus, stage_values
from jobs.runtime.job_lock import JobLock, JobLockedError
from jobs.runtime.options import Opt
from jobs.runtime.ray_pool import PoolError, cluster_resources, place_actors
from jobs.runtime.shared_fs import SharedFsError
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
    refresh_catalog,
)
from schemas.canonical import IMAGE_PREFIX, main_video_key
from schemas.corpus import find_datasets
from schemas.image_latents import LatentsMeta, latents_file
from schemas.lerobot import EPISODES_PATH, INFO_PATH, load_info, read_jsonl
from schemas.storage import StorageOptions, is_remote

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
# a decode task's Ray resources: no GPU, so on a cluster decoding also runs on CPU-only nodes
DECODE_RESOURCES: dict[str, Any] = {"num_cpus": 1, "memory": DECODE_TASK_MEMORY}


class LatentsJobError(RuntimeError):
    """The job cannot run: files made with another encoding are in the way."""


class LatentsUsageError(LatentsJobError):
    """The request itself is wrong: not a corpus, a rate above a dataset's fps."""


class LatentsJob(BaseModel):
    """Everything a latents run needs; validated before any work starts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: CorpusWhere
    encoder: EncoderSpec
    preprocess: PreprocessConfig = Field(default_factory=PreprocessConfig)
    rate_hz: float = Field(3.0, gt=0, description="latent frames per second: nearest frames of the episode stream")
    camera: str = Field("main", description="'main', 'all', or comma-separated camera names / video keys")
    overwrite: bool = Field(False, description="recompute episodes whose file exists")
    device: DeviceChoice
    actors: ModelActors
    frames_per_call: int | None = Field(
        None,
        gt=0,
        description="frames an actor gets per call, in whole episodes "
        "(default: 4 x batch_size on CUDA, batch_size on CPU)",
    )
    num_cpus: RayCpus
    object_store_mb: int = Field(2048, gt=0, description="embedded Ray's object store")


@dataclass
class LatentsReport:
    root: Path | str
    written: int = 0
    frames: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    catalog_rows: int | None = None
    seconds: float = 0.0
    fetched: int = 0  # bytes of the videos fetched from a bucket (0 locally)
    used: int = 0  # bytes of them the decoder read

    def summary(self) -> str:
        rate = self.frames / self.seconds if self.seconds else 0.0
        lines = [
            f"latents: {self.written} episodes written ({self.frames} frames, {rate:.1f} frames/s), "
            f"{self.skipped} already done, {len(self.failed)} failed, {self.seconds:.1f} s"
        ]
        if self.fetched:
            ratio = self.fetched / self.used if self.used else float("inf")
            lines.append(
                f"  videos read from the bucket: {self.fetched} bytes fetched for {self.used} bytes decoded "
                f"({ratio:.2f} fetched per byte used)"
            )
        lines += [f"  failed: {m}" for m in self.failed[:20]]
        if len(self.failed) > 20:
            lines.append(f"  ... and {len(self.failed) - 20} more")
        return "\n".join(lines)


# -- planning (driver) --------------------------------------------------------------------------------------------
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


@dataclass
class Plan:
    rows: list[dict[str, Any]]  # work rows: one per (episode, camera) to encode
    skipped: int
    stale: list[str]  # existing files made with another encoding


def plan(job: LatentsJob, expected: LatentsMeta, corpus: ScratchCorpus | None = None) -> Plan:
    """Work rows for every (episode, selected camera) whose latents file is missing (or stale, with overwrite).

    `expected` is the metadata this run writes (episode fields are placeholders); an existing file is done when its
    encoding matches. On a bucket's scratch corpus (`corpus`) the files are the records' and the videos are read
    from the bucket."""
    corpus = corpus or ScratchCorpus(Path(job.root), "latents")
    rows: list[dict[str, Any]] = []
    skipped, stale = 0, []
    for ds in find_datasets(Path(job.root)):
        info = load_info(ds / INFO_PATH)
        if info.video_path is None or not (ds / EPISODES_PATH).exists():
            log.warning("%s: no videos or no %s; skipped", ds, EPISODES_PATH)
            continue
        keys = select_video_keys(info.video_keys, job.camera)
        if not keys:
            log.warning("%s: no camera matches --camera %s (has %s); skipped", ds, job.camera, info.video_keys)
            continue
        if job.rate_hz > info.fps:
            raise LatentsUsageError(f"{ds}: --rate {job.rate_hz} Hz is above the dataset's {info.fps} fps")
        remove_stale_temps(ds)
        rel = ds.relative_to(job.root).as_posix()
        committed = corpus.committed(ds)
        for _, line in read_jsonl(ds / EPISODES_PATH):
            index, length = int(line["episode_index"]), int(line["length"])
            for key in keys:
                name = latents_file(info, index, key)
                out = ds / name
                done = out.exists() if committed is None else name in committed
                if done and not job.overwrite:
                    try:
                        have = existing(out, None if committed is None else committed[name])
                    except LatentsFileError as e:
                        stale.append(str(e))
                        continue
                    if have.same_encoding(expected):
                        skipped += 1
                    else:
                        stale.append(
                            f"{out}: made with model {have.model}, {have.rate_hz} Hz, {have.dtype}, "
                            f"{have.image_size} px; this run: {expected.model}, {expected.rate_hz} Hz, "
                            f"{expected.dtype}, {expected.image_size} px"
                        )
                    continue
                rows.append(
                    {
                        "dataset": rel,
                        "episode_index": index,
                        "video_key": key,
                        "length": length,
                        "fps": float(info.fps),
                        "video": corpus.source(ds / info.video_file(index, key)),
                        "out": str(out),
                    }
                )
    return Plan(rows, skipped, stale)


def existing(out: Path, committed: dict[str, str] | None) -> LatentsMeta:
    """The metadata of a latents file that exists: read from its header, or in a bucket from its commit record."""
    if committed is None:
        return read_meta(out)
    try:
        return LatentsMeta.model_validate(committed)
    except ValueError as e:
        raise LatentsFileError(f"{out}: bad latents metadata in its commit record ({e})") from e


# -- decode tasks (CPU) -------------------------------------------------------------------------------------------
def decode_episode(
    row: dict[str, Any], *, rate_hz: float, preprocess: dict[str, Any], storage: StorageOptions | None = None
) -> dict[str, Any]:
    """One episode's frames at the latent rate, resized to uint8 [n, 3, S, S] (the wire format). A bad video becomes
    an `error`, never an exception. A video in a bucket (its URL; `storage`: the job's options, else the AWS
    environment) is decoded from a seekable file object read by ranges (`adapters.storage.location.readable`), never
    copied; `fetched` and `used` count its bytes fetched and decoded."""
    cfg = PreprocessConfig.model_validate(preprocess)
    out = {k: row[k] for k in ("dataset", "episode_index", "video_key", "out")}
    with metering() as meter:
        try:
            idx = latent_frame_indices(int(row["length"]), float(row["fps"]), rate_hz)
            if idx.size == 0:
                raise LatentsInputError(f"{row['video']}: the episode has no frames")
            with readable(locate(str(row["video"]), storage)) as video:
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


# -- driver -------------------------------------------------------------------------------------------------------
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


def run_latents(
    job: LatentsJob,
    *,
    address: str | None = None,
    progress: bool | None = None,
    storage: StorageOptions | None = None,
) -> LatentsReport:
    """Plan, encode on Ray, update the catalog. Raises LatentsJobError / EncoderLoadError before any work. A corpus
    in a bucket (`job.root` a URL; `storage`: its options, else the AWS environment) runs on its scratch corpus under
    the output's lease (`jobs.runtime.bucket_stage`), each batch of files published as it lands."""
    t0 = time.perf_counter()
    if job.overwrite and is_remote(str(job.root)):
        raise LatentsUsageError(
            f"{job.root}: --overwrite: objects in a bucket are never replaced; write another output"
        )
    with stage_corpus(job.root, storage, "latents") as root:
        report = _run(job.model_copy(update={"root": root}), address, progress, storage)
    report.root = job.root
    report.seconds = time.perf_counter() - t0
    return report


def _run(job: LatentsJob, address: str | None, progress: bool | None, storage: StorageOptions | None) -> LatentsReport:
    root = Path(job.root)
    report = LatentsReport(root)
    if not (root / "datasets").is_dir():
        raise LatentsUsageError(f"{root}: no datasets/ folder; not a corpus")
    with JobLock(root, "latents"):
        corpus = ScratchCorpus(root, "latents")
        expected = expected_meta(job)
        work = plan(job, expected, corpus)
        if work.stale:
            shown = "\n  ".join(work.stale[:5])
            redo = (
                "objects in a bucket are never replaced: rerun with their settings or write another output"
                if corpus.url
                else "rerun with --overwrite to recompute them, or with their settings"
            )
            raise LatentsJobError(f"{len(work.stale)} latents files were made differently; {redo}:\n  {shown}")
        report.skipped = work.skipped
        if work.rows:
            # every node writes latents into the corpus (a bucket's scratch: the driver publishes them)
            with ray_session(address, job.num_cpus, job.object_store_mb, shared_output=root):
                drain(
                    _stream(job, work.rows, expected, cluster_resources(), storage),
                    len(work.rows),
                    "latents",
                    "ep",
                    progress,
                    lambda out: _take(out, report, corpus),
                )
        # in a bucket always (from the records, no byte fetched): a run killed after its last record has no catalog yet
        changed = bool(report.written) or corpus.url is not None
        report.catalog_rows = refresh_catalog(root, changed, "latents", log)
    return report


def _take(out: dict[str, np.ndarray], report: LatentsReport, corpus: ScratchCorpus) -> tuple[int, int]:
    """Count a batch of finished episodes; in a bucket, publish their files (one record per dataset)."""
    for err, frames in zip(out["error"], out["frames"], strict=True):
        if err:
            report.failed.append(str(err))
        else:
            report.written += 1
            report.frames += int(frames)
    corpus.publish(str(p) for p, err in zip(out["out"], out["error"], strict=True) if not err)
    report.fetched += int(np.sum(out.get("fetched", 0)))
    report.used += int(np.sum(out.get("used", 0)))
    return len(out["error"]), int(np.sum(out["frames"]))


def _stream(
    job: LatentsJob,
    rows: list[dict[str, Any]],
    expected: LatentsMeta,
    resources: dict[str, float],
    storage: StorageOptions | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """The pipeline over `rows`; yields the actors' per-episode summaries as they finish."""
    import pyarrow as pa
    import ray

    place = place_actors(job.device, job.actors, resources)
    device = place.device
    encoder = job.encoder.model_copy(update={"device": device})
    mean_frames = np.mean([len(latent_frame_indices(r["length"], r["fps"], job.rate_hz)) for r in rows])
    per_call = job.frames_per_call or (FRAMES_PER_CALL * encoder.batch_size if device == "cuda" else encoder.batch_size)
    episodes_per_call = max(1, round(per_call / max(float(mean_frames), 1.0)))
    # input blocks of a few episodes: decode parallelism without one object per episode on huge corpora
    per_block = max(1, math.ceil(len(rows) / 20_000))
    table = pa.Table.from_pylist(rows)
    blocks = [table.slice(i, per_block) for i in range(0, len(rows), per_block)]
    log.info(
        "latents: %d episodes on %s, %d actor(s), %d episodes (~%.0f frames) per call",
        len(rows),
        device,
        place.actors,
        episodes_per_call,
        episodes_per_call * mean_frames,
    )
    meta = expected.model_dump(exclude={"video_key", "episode_index"})
    ds = (
        ray.data.from_arrow(blocks)
        # the memory reservation also keeps Ray Data from fusing decoding into the actors (it fuses maps with
        # equal resource args): decoding must stay in CPU tasks that scale apart from the GPUs
        .map(
            decode_episode,
            **DECODE_RESOURCES,
            fn_kwargs={"rate_hz": job.rate_hz, "preprocess": job.preprocess.model_dump(), "storage": storage},
        )
        .map_batches(
            LatentsEncoder,
            batch_size=episodes_per_call,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=place.actors),
            fn_constructor_kwargs={
                "encoder": encoder.model_dump(),
                "preprocess": job.preprocess.model_dump(),
                "meta": meta,
                "threads": place.threads,
            },
            **place.resources,
        )
    )
    yield from ds.iter_batches(batch_size=None, batch_format="numpy")


# -- CLI ----------------------------------------------------------------------------------------------------------
# `eidata latents ROOT`, in the flags' order; exit 0 when every episode has its latents, 1 when some failed or the job
# could not run (locked corpus, stale files), 2 for usage errors (no corpus, no --model, rate above a dataset's fps)
OPTIONS = (
    Opt(LatentsJob, "root", flags=("root",)),
    Opt(LatentsJob, "encoder.model"),
    Opt(LatentsJob, "encoder.random_init"),
    Opt(LatentsJob, "rate_hz", flags=("--rate",)),
    Opt(LatentsJob, "camera"),
    Opt(LatentsJob, "encoder.stored_dtype", flags=("--dtype",)),
    Opt(LatentsJob, "encoder.batch_size", flags=("--batch",)),
    *placement_options(LatentsJob),
    Opt(LatentsJob, "encoder.compile", words={"auto": None, "on": True, "off": False}),
    Opt(LatentsJob, "overwrite"),
    ADDRESS,
)


def build_job(args: argparse.Namespace) -> LatentsJob:
    values = stage_values("latents", args, OPTIONS, LatentsJob)
    encoder = values["encoder"]
    if encoder["model"] is None and not encoder["random_init"]:
        raise Usage(NO_MODEL)
    model = encoder["model"]
    preprocess = PreprocessConfig.from_model_dir(Path(model) if model else None)
    return LatentsJob.model_validate({**values, "preprocess": preprocess})


STAGE = Stage(
    "latents",
    build_job,
    lambda job, args: run_latents(job, address=args.address),
    LatentsReport.summary,
    lambda report: bool(report.failed),
    usage_errors=(EncoderLoadError, LatentsUsageError, PoolError, ValueError),
    job_errors=(LatentsJobError, JobLockedError, SharedFsError, OutputLeasedError, StorageError),
)
