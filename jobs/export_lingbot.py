"""`eidata export ROOT --format lingbot-va --out DIR`: each canonical dataset as a LeRobot v2.1 dataset LingBot-VA's
post-training reads (seed 004, "Post-training"), with Wan2.2 VAE latents per segment, on Ray.

Per dataset `ROOT/datasets/<rel>` the export writes `DIR/datasets/<rel>`:
- `data/`: each episode's frame table with `action` as the 30-dim LingBot-VA vector (`ingest.lingbot_action`), and
  `info.json`'s `action` feature (names, mask of the real dims) and per-episode stats recomputed for it; videos are
  hard links (copies across file systems); tasks and other stats are the source's.
- `meta/episodes.jsonl`: every episode gets `action_config` segments: the source's own (AgiBot's, English text where
  the source has it), else one segment [0, length) with the episode's caption (caption lineage), else its task.
- `latents/chunk-XXX/<video_key>/episode_{index:06d}_{start}_{end}.pth`: one file per segment and camera, exactly the
  README's keys (`schemas.lingbot.LatentRecord`), frames every `ori_fps / fps` of the segment trimmed to 1 + 4k.
Segments shorter than 1 + 4 sampled frames get no latent file (LingBot-VA's loader skips a segment without one).
`DIR/empty_emb.pt` holds the text embedding of "" (LingBot-VA's `empty_emb_path`). Datasets without any EEF or
gripper dim (actionless video) are not exported.

Resumable: an existing frame table, video link or latent file that matches the plan (same text, frames, shapes) is
kept, meta files are rewritten only when their bytes change, so a finished export's rerun writes nothing. The
settings (fps, size, text length, model fingerprints) are kept in `DIR/job/lingbot_export.json`; a rerun with other
settings is refused rather than mixing latents of two encoders.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ingest.lingbot_action import lingbot_mask
from ingest.lingbot_dataset import NotCanonicalError, dataset_mask, english_segments, episode_mask, lingbot_info
from ingest.lingbot_store import record_matches
from ingest.wan_latents import (
    TEXT_LEN,
    WanModelError,
    check_wan22_vae,
    latent_grid,
    read_model_config,
    sample_frame_ids,
    tokenizer_dir,
)
from jobs.atomic import write_text_atomic
from jobs.catalog import LINEAGE_KEY, _caption, find_datasets
from jobs.job_lock import JobLock, JobLockedError
from jobs.progress import Progress
from jobs.ray_pool import Device, PoolError, init_ray, place_actors
from schemas.canonical import ACTION
from schemas.lerobot import (
    EPISODES_PATH,
    EPISODES_STATS_PATH,
    INFO_PATH,
    TASKS_PATH,
    ActionSegment,
    EpisodeEntry,
    EpisodeStatsEntry,
    FeatureStats,
    InfoJson,
    dump_info,
    dump_lines,
    load_entries,
    load_info,
)
from schemas.lingbot import LINGBOT_ACTION_DIM, LatentPlan, latent_file

log = logging.getLogger(__name__)

FORMAT = "lingbot-va"
EMPTY_EMB = "empty_emb.pt"
SETTINGS_PATH = "job/lingbot_export.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".model", ".json")


class ExportError(ValueError):
    """The export cannot start as asked (bad folders, settings that differ from an earlier run)."""


class LingbotExportSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root: Path = Field(description="the corpus (ROOT/datasets/...)")
    out: Path = Field(description="where the LingBot-VA datasets go (DIR/datasets/...)")
    vae: Path | None = Field(None, description="local Wan2.2 VAE folder (diffusers AutoencoderKLWan)")
    text_encoder: Path | None = Field(None, description="local UMT5 encoder folder (Wan2.2's text_encoder)")
    tokenizer: Path | None = Field(None, description="tokenizer folder (default: in or beside the text encoder)")
    fps: int = Field(5, ge=1, description="latent sampling rate; must divide the dataset fps (10 -> 10, 5, 2, 1)")
    height: int = Field(256, ge=1)
    width: int = Field(256, ge=1)
    text_len: int = Field(TEXT_LEN, ge=1, description="text tokens kept; text_emb is zero-padded to this length")
    cameras: list[str] | None = Field(None, description="video keys or short names (default: every camera)")
    device: Device = "auto"
    actors: int | None = Field(None, ge=1, description="encoder actors (default: one per GPU, 1 on CPU)")
    num_cpus: int | None = Field(None, ge=1, description="CPUs of an embedded Ray cluster")
    max_in_flight: int = Field(4, ge=1, description="episodes decoded or encoded at once (memory bound)")
    object_store_mb: int = Field(1024, ge=64)
    task_retries: int = Field(3, ge=0)


@dataclass
class DatasetTally:
    episodes: int = 0
    segments: int = 0
    written: int = 0  # latent files made by this run
    kept: int = 0  # latent files an earlier run made
    short: int = 0  # segment x camera pairs too short for a latent file
    skipped: str | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class ExportReport:
    out: Path
    tallies: dict[str, DatasetTally] = field(default_factory=dict)
    seconds: float = 0.0
    dry_run: bool = False  # `written` then counts the latent files a real run would make

    @property
    def errors(self) -> int:
        return sum(len(t.errors) for t in self.tallies.values())

    def table(self) -> str:
        rows = [f"{'dataset':36s} {'episodes':>8s} {'segments':>8s} {'written':>8s} {'kept':>6s} {'short':>6s}  note"]
        for rel, t in self.tallies.items():
            note = t.skipped or (f"{len(t.errors)} error(s): {t.errors[0]}" if t.errors else "")
            rows.append(f"{rel:36s} {t.episodes:8d} {t.segments:8d} {t.written:8d} {t.kept:6d} {t.short:6d}  {note}")
        dry = " (dry run: nothing written; 'written' = to make)" if self.dry_run else ""
        rows.append(f"{FORMAT} -> {self.out}: {self.errors} error(s), {self.seconds:.1f} s{dry}")
        return "\n".join(rows)


@dataclass
class DatasetPlan:
    rel: str
    src: Path
    out: Path
    info_src: InfoJson
    info_out: InfoJson
    entries: list[EpisodeEntry]
    cameras: list[str]
    latents: dict[int, list[LatentPlan]]
    action_stats: dict[int, dict[str, Any]]  # episode -> 30-dim action stats already exported
    pending: set[int] = field(default_factory=set)
    failed: bool = False


# -- planning -------------------------------------------------------------------------------------------------------
def export_segments(entry: EpisodeEntry) -> list[ActionSegment]:
    """The source's own segments (English text where given), else one [0, length) with the caption or task."""
    if entry.action_config:
        return english_segments(entry.action_config)
    lineage = (entry.model_extra or {}).get(LINEAGE_KEY) or {}
    text = _caption(lineage) or (entry.tasks[0] if entry.tasks else "")
    return [ActionSegment(start_frame=0, end_frame=entry.length, action_text=text)]


def resolve_cameras(info: InfoJson, wanted: list[str] | None) -> list[str]:
    keys = info.video_keys
    if not wanted:
        return keys
    full = [w if w in keys else f"observation.images.{w}" for w in wanted]
    return [k for k in full if k in keys]


def model_fingerprint(folder: Path) -> dict[str, Any]:
    """What identifies a model folder without hashing gigabytes: its config and its files' names and sizes."""
    folder = Path(folder)
    files = {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file() and p.suffix in WEIGHT_SUFFIXES}
    return {"path": str(folder.resolve()), "files": files}


@dataclass(frozen=True)
class Models:
    vae: dict[str, Any]
    text_dim: int
    tokenizer: Path


def check_models(spec: LingbotExportSpec) -> Models:
    """Read and check the model folders' configs before any work: a clear error instead of a dead actor."""
    vae = read_model_config(spec.vae, "Wan2.2 VAE", "--vae")
    check_wan22_vae(vae, where=f"--vae {spec.vae}")
    text = read_model_config(spec.text_encoder, "UMT5 text encoder", "--text-encoder")
    if "d_model" not in text:
        raise WanModelError(f"--text-encoder {spec.text_encoder}: config.json has no d_model; not a (U)MT5 encoder")
    s = vae["scale_factor_spatial"]
    if spec.height % s or spec.width % s:
        raise WanModelError(f"--size {spec.height}x{spec.width}: both sides must be multiples of {s} (Wan2.2 VAE)")
    return Models(vae=vae, text_dim=int(text["d_model"]), tokenizer=tokenizer_dir(spec.text_encoder, spec.tokenizer))


def settings_record(spec: LingbotExportSpec, models: Models) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "fps": spec.fps,
        "size": [spec.height, spec.width],
        "text_len": spec.text_len,
        "vae": model_fingerprint(spec.vae),  # type: ignore[arg-type]
        "text_encoder": model_fingerprint(spec.text_encoder),  # type: ignore[arg-type]
        "tokenizer": model_fingerprint(models.tokenizer),
    }


def check_settings(out: Path, settings: dict[str, Any], *, write: bool = True) -> None:
    """First run: record the settings. Later runs: they must be the same (model paths may move, contents not)."""
    path = out / SETTINGS_PATH
    if not path.exists():
        if write:
            write_text_atomic(path, json.dumps(settings, indent=2) + "\n")
        return
    old = json.loads(path.read_text(encoding="utf-8"))

    def comparable(s: dict[str, Any]) -> dict[str, Any]:
        return {k: ({**v, "path": None} if isinstance(v, dict) else v) for k, v in s.items()}

    a, b = comparable(old), comparable(settings)
    diff = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    if diff:
        raise ExportError(f"{out} holds an export made with other {', '.join(diff)} ({path}); use another --out")
    if old != settings and write:  # same models, moved: keep the record current
        write_text_atomic(path, json.dumps(settings, indent=2) + "\n")


def _exported_action_stats(out: Path) -> dict[int, dict[str, Any]]:
    path = out / EPISODES_STATS_PATH
    if not path.exists():
        return {}
    found = {}
    for e in load_entries(path, EpisodeStatsEntry):
        st = e.stats.get(ACTION)
        if st is not None and len(st.mean) == LINGBOT_ACTION_DIM:
            found[e.episode_index] = st.to_json()
    return found


def plan_dataset(src: Path, rel: str, spec: LingbotExportSpec, models: Models, tally: DatasetTally) -> DatasetPlan:
    """Segments and latent plans of every episode; raises `NotCanonicalError`/`ValueError` to skip the dataset."""
    info = load_info(src / INFO_PATH)
    if not lingbot_mask(dataset_mask(info)).any():
        raise NotCanonicalError("actionless: no EEF or gripper dims to export")
    if not float(info.fps).is_integer() or int(info.fps) % spec.fps:
        raise ValueError(f"--fps {spec.fps} does not divide the dataset's {info.fps} fps")
    ori_fps, stride = int(info.fps), int(info.fps) // spec.fps
    cameras = resolve_cameras(info, spec.cameras)
    if not cameras:
        raise ValueError(f"none of the cameras {spec.cameras} in {info.video_keys}")
    out = spec.out / rel
    entries, latents = [], {}
    temporal = models.vae["scale_factor_temporal"]
    for entry in load_entries(src / EPISODES_PATH, EpisodeEntry):
        segments = export_segments(entry)
        entries.append(entry.model_copy(update={"action_config": segments}))
        plans = []
        for seg in segments:
            ids = sample_frame_ids(seg.start_frame, seg.end_frame, stride, temporal)
            for key in cameras:
                if not ids:
                    tally.short += 1
                    continue
                f, h, w = latent_grid(len(ids), spec.height, spec.width, models.vae)
                vh, vw = info.features[key].shape[:2]
                plans.append(LatentPlan(
                    path=latent_file(info, entry.episode_index, key, seg.start_frame, seg.end_frame), video_key=key,
                    text=seg.action_text, frame_ids=ids, start_frame=seg.start_frame, end_frame=seg.end_frame,
                    fps=spec.fps, ori_fps=ori_fps, video_height=vh, video_width=vw, latent_num_frames=f,
                    latent_height=h, latent_width=w, latent_channels=models.vae["z_dim"],
                    text_emb_shape=(spec.text_len, models.text_dim),
                ))  # fmt: skip
        latents[entry.episode_index] = plans
        tally.episodes += 1
        tally.segments += len(segments)
    return DatasetPlan(rel, src, out, info, lingbot_info(info), entries, cameras, latents, _exported_action_stats(out))


def work_item(plan: DatasetPlan, entry: EpisodeEntry, spec: LingbotExportSpec, tally: DatasetTally) -> dict | None:
    """What is left of one episode (None: nothing), as the payload of `prepare_episode`."""
    ep = entry.episode_index
    write_table = not (plan.out / plan.info_src.data_file(ep)).exists()
    links = [k for k in plan.info_src.video_keys if not (plan.out / plan.info_src.video_file(ep, k)).exists()]
    todo = [p for p in plan.latents[ep] if not record_matches(plan.out / p.path, p)]
    tally.kept += len(plan.latents[ep]) - len(todo)
    if not (write_table or links or todo or ep not in plan.action_stats):
        return None
    lineage = (entry.model_extra or {}).get(LINEAGE_KEY) or {}
    return {
        "dataset": plan.rel, "src": str(plan.src), "out": str(plan.out), "episode_index": ep,
        "info_src": plan.info_src.to_json(), "info_out": plan.info_out.to_json(),
        "mask": episode_mask(lineage, plan.info_src).astype(int).tolist(), "write_table": write_table,
        "link_videos": links, "latents": [p.model_dump(mode="json") for p in todo], "size": [spec.height, spec.width],
    }  # fmt: skip


# -- meta -----------------------------------------------------------------------------------------------------------
def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        write_text_atomic(path, text)


def write_meta(plan: DatasetPlan) -> None:
    """The exported dataset's meta; info.json last, since its presence makes the folder a dataset to loaders."""
    stats = []
    for e in load_entries(plan.src / EPISODES_STATS_PATH, EpisodeStatsEntry):
        e.stats[ACTION] = FeatureStats.model_validate(plan.action_stats[e.episode_index])
        stats.append(e)
    _write_if_changed(plan.out / TASKS_PATH, (plan.src / TASKS_PATH).read_text(encoding="utf-8"))
    _write_if_changed(plan.out / EPISODES_PATH, dump_lines(plan.entries))
    _write_if_changed(plan.out / EPISODES_STATS_PATH, dump_lines(stats))
    _write_if_changed(plan.out / INFO_PATH, dump_info(plan.info_out))


# -- the job --------------------------------------------------------------------------------------------------------
def run_lingbot_export(spec: LingbotExportSpec, *, address: str | None = None, progress: bool | None = None,
                       dry_run: bool = False) -> ExportReport:  # fmt: skip
    t0 = time.perf_counter()
    models = check_models(spec)
    root, out = spec.root.resolve(), spec.out.resolve()
    if out == root or out.is_relative_to(root / "datasets"):
        raise ExportError(f"--out {spec.out} must not be the corpus or inside its datasets/")
    sources = find_datasets(spec.root)
    if not sources:
        raise ExportError(f"no dataset under {spec.root / 'datasets'}")
    report = ExportReport(spec.out, dry_run=dry_run)
    if dry_run:
        check_settings(spec.out, settings_record(spec, models), write=False)
        _plan_all(spec, models, sources, report)
        report.seconds = time.perf_counter() - t0
        return report
    spec.out.mkdir(parents=True, exist_ok=True)
    with JobLock(spec.out, "export-lingbot-va"):
        check_settings(spec.out, settings_record(spec, models))
        plans, works = _plan_all(spec, models, sources, report)
        for plan in plans:
            if not plan.pending:
                write_meta(plan)
        if works or not (spec.out / EMPTY_EMB).exists():
            by_rel = {p.rel: p for p in plans}
            _run_on_ray(spec, models, works, lambda r: _accept(by_rel[r["dataset"]], report, r), address, progress)
    report.seconds = time.perf_counter() - t0
    return report


def _plan_all(spec: LingbotExportSpec, models: Models, sources: list[Path],
              report: ExportReport) -> tuple[list[DatasetPlan], list[dict[str, Any]]]:  # fmt: skip
    """Every dataset's plan and the episodes left to do; a dataset that cannot be exported is tallied as skipped."""
    root = spec.root.resolve()
    plans, works = [], []
    for src in sources:
        rel = src.resolve().relative_to(root).as_posix()
        tally = report.tallies.setdefault(rel, DatasetTally())
        try:
            plan = plan_dataset(src, rel, spec, models, tally)
        except (NotCanonicalError, ValueError) as e:
            tally.skipped = f"skipped: {e}"
            continue
        for entry in plan.entries:
            item = work_item(plan, entry, spec, tally)
            if item is not None:
                works.append(item)
                plan.pending.add(entry.episode_index)
                if report.dry_run:
                    tally.written += len(item["latents"])
        plans.append(plan)
    return plans, works


def _accept(plan: DatasetPlan, report: ExportReport, result: dict[str, Any]) -> None:
    """One episode came back: count it, keep its action stats, and write the dataset's meta after its last one."""
    tally = report.tallies[plan.rel]
    ep = result["episode_index"]
    tally.written += result.get("written", 0)
    if result.get("error"):
        tally.errors.append(f"episode {ep}: {result['error']}")
    if result.get("stats") is None:  # no frame table: the dataset cannot be loaded, so its meta is not written
        plan.failed = True
    else:
        plan.action_stats[ep] = result["stats"]
    plan.pending.discard(ep)
    if not plan.pending:
        if plan.failed:
            tally.errors.append("meta not written: an episode's frame table or videos failed")
        else:
            write_meta(plan)


def _run_on_ray(spec: LingbotExportSpec, models: Models, works: list[dict[str, Any]], accept: Any,
                address: str | None, progress: bool | None) -> None:  # fmt: skip
    import ray

    from jobs.export_lingbot_work import LatentEncoder, prepare_episode

    started = init_ray(address, spec.num_cpus, spec.object_store_mb)
    try:
        place = place_actors(spec.device, spec.actors, ray.cluster_resources())
        actor_cls = ray.remote(LatentEncoder)
        actors = [actor_cls.options(**place.resources).remote(  # type: ignore[attr-defined]
            str(spec.vae), str(spec.text_encoder), str(models.tokenizer), device=place.device,
            text_len=spec.text_len, threads=place.threads) for _ in range(place.actors)]  # fmt: skip
        devices = ray.get([a.ready.remote() for a in actors])  # a model that fails to load stops the job here
        log.info("%d encoder actor(s) on %s", len(actors), ", ".join(devices))
        if not (spec.out / EMPTY_EMB).exists():
            ray.get(actors[0].write_empty_embedding.remote(str(spec.out / EMPTY_EMB)))
        task = ray.remote(num_cpus=1, max_retries=spec.task_retries)(prepare_episode)
        bar = Progress(len(works), f"export {FORMAT}", unit="ep", enabled=progress)
        pending: dict[Any, dict[str, Any]] = {}

        def collect() -> None:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                item = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as e:  # the task or actor died past its retries: this episode only
                    result = {"dataset": item["dataset"], "episode_index": item["episode_index"], "stats": None,
                              "error": f"worker: {type(e).__name__}: {str(e)[:500]}"}  # fmt: skip
                accept(result)
                bar.update(1, frames=result.get("frames", 0))

        for i, item in enumerate(works):
            while len(pending) >= spec.max_in_flight:
                collect()
            pending[actors[i % len(actors)].encode.remote(task.remote(item))] = item
        while pending:
            collect()
        bar.close()
    finally:
        if started:
            ray.shutdown()


def _size(text: str) -> tuple[int, int]:
    h, _, w = text.lower().partition("x")
    return int(h), int(w or h)


def cli(args: argparse.Namespace) -> int:
    """Exit 0 when every dataset exported fully, 1 when an episode or dataset failed, 2 for a bad call."""
    if not getattr(args, "out", None):
        print(f"eidata export: --format {FORMAT} needs --out DIR", file=sys.stderr)
        return 2
    try:
        height, width = _size(args.size)
        spec = LingbotExportSpec(
            root=Path(args.root), out=Path(args.out), vae=args.vae, text_encoder=args.text_encoder,
            tokenizer=args.tokenizer, fps=args.fps, height=height, width=width, text_len=args.text_len,
            cameras=args.cameras, device=args.device, actors=args.actors, num_cpus=args.num_cpus,
            max_in_flight=args.max_in_flight,
        )  # fmt: skip
        report = run_lingbot_export(spec, address=args.address, dry_run=bool(getattr(args, "dry_run", False)))
    except (ExportError, WanModelError, PoolError, JobLockedError, ValueError) as e:
        print(f"eidata export: {e}", file=sys.stderr)
        return 2
    print(report.table())
    return 1 if report.errors else 0
