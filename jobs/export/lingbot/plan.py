"""Planning the LingBot-VA export (`jobs.export.lingbot.job`): the job's settings, what each dataset's episodes need
(segments, frame table, video links, latent files) and what an earlier run already made."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.lerobot_format.files import load_entries, load_info
from adapters.storage.atomic import atomic_write
from adapters.storage.corpus import Corpus
from ingest.encoders.wan_config import (
    WanModelError,
    check_wan22_vae,
    latent_grid,
    read_model_config,
    sample_frame_ids,
    tokenizer_dir,
)
from ingest.files.lingbot import record_matches
from ingest.lingbot.action import lingbot_mask
from ingest.lingbot.dataset import NotCanonicalError, dataset_mask, english_segments, episode_mask, lingbot_info
from jobs.export.lerobot_v3.cameras import resolve_cameras
from jobs.export.lingbot.spec import LingbotExportSpec
from schemas.canonical import ACTION
from schemas.corpus import EpisodeLineage
from schemas.lerobot import (
    EPISODES_PATH,
    EPISODES_STATS_PATH,
    INFO_PATH,
    ActionSegment,
    EpisodeEntry,
    EpisodeStatsEntry,
    InfoJson,
)
from schemas.lingbot import LINGBOT_ACTION_DIM, LatentPlan, latent_file

FORMAT = "lingbot-va"
EMPTY_EMB = "empty_emb.pt"
SETTINGS_PATH = "job/lingbot_export.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".model", ".json")


class ExportError(ValueError):
    """The export cannot start as asked (bad folders, settings that differ from an earlier run)."""


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
    corpus: Corpus  # the source's corpus, through which its episode files are read
    pending: set[int] = field(default_factory=set)
    failed: bool = False


def export_segments(entry: EpisodeEntry) -> list[ActionSegment]:
    """The source's own segments (English text where given), else one [0, length) with the caption or task."""
    if entry.action_config:
        return english_segments(entry.action_config)
    text = EpisodeLineage.of(entry.model_extra or {}).caption_text() or (entry.tasks[0] if entry.tasks else "")
    return [ActionSegment(start_frame=0, end_frame=entry.length, action_text=text)]


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
    if importlib.util.find_spec("diffusers") is None:
        raise WanModelError("diffusers is not installed; the Wan2.2 VAE needs the extra: pip install 'eidata[lingbot]'")
    folders = (("--vae", "the Wan2.2 VAE", spec.vae), ("--text-encoder", "the UMT5 text encoder", spec.text_encoder))
    missing = [f"{flag} PATH ({what})" for flag, what, given in folders if given is None]
    if len(missing) > 1:  # every folder missing named at once (a dry run needs them too: it plans with their configs)
        raise WanModelError(
            f"no model folders given: pass {' and '.join(missing)}, local folders; nothing is downloaded"
        )
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


def portable(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings without the model folders' paths (a moved model is the same model)."""
    return {k: ({**v, "path": None} if isinstance(v, dict) else v) for k, v in settings.items()}


def check_settings(out: Path, settings: dict[str, Any], *, write: bool = True) -> None:
    """First run: record the settings. Later runs: they must be the same (model paths may move, contents not)."""
    path = out / SETTINGS_PATH
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    a, b = portable(old or settings), portable(settings)
    diff = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    if diff:
        raise ExportError(f"{out} holds an export made with other {', '.join(diff)} ({path}); use another --out")
    if old != settings and write:  # the first record, or the same models moved: keep the record current
        atomic_write(path, json.dumps(settings, indent=2) + "\n")


def _exported_action_stats(out: Path) -> dict[int, dict[str, Any]]:
    path = out / EPISODES_STATS_PATH
    entries = load_entries(path, EpisodeStatsEntry) if path.exists() else []
    return {
        e.episode_index: st.to_json()
        for e in entries
        if (st := e.stats.get(ACTION)) is not None and len(st.mean) == LINGBOT_ACTION_DIM
    }


def plan_dataset(corpus: Corpus, rel: str, spec: LingbotExportSpec, models: Models, tally: DatasetTally) -> DatasetPlan:
    """Segments and latent plans of every episode of the dataset `rel` of `corpus`; raises
    `NotCanonicalError`/`ValueError` to skip the dataset."""
    src = corpus.root / rel
    info = load_info(src / INFO_PATH)
    if not lingbot_mask(dataset_mask(info)).any():
        raise NotCanonicalError("actionless: no EEF or gripper dims to export")
    if not float(info.fps).is_integer() or int(info.fps) % spec.fps:
        raise ValueError(f"--fps {spec.fps} does not divide the dataset's {info.fps} fps")
    ori_fps, stride = int(info.fps), int(info.fps) // spec.fps
    cameras = resolve_cameras(spec.cameras or None, info.video_keys)  # a camera the dataset lacks: named, not dropped
    cameras = info.video_keys if cameras is None else cameras
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
                plans.append(
                    LatentPlan(
                        path=latent_file(info, entry.episode_index, key, seg.start_frame, seg.end_frame),
                        video_key=key,
                        text=seg.action_text,
                        frame_ids=ids,
                        start_frame=seg.start_frame,
                        end_frame=seg.end_frame,
                        fps=spec.fps,
                        ori_fps=ori_fps,
                        video_height=vh,
                        video_width=vw,
                        latent_num_frames=f,
                        latent_height=h,
                        latent_width=w,
                        latent_channels=models.vae["z_dim"],
                        text_emb_shape=(spec.text_len, models.text_dim),
                    )
                )
        latents[entry.episode_index] = plans
        tally.episodes += 1
        tally.segments += len(segments)
    stats = _exported_action_stats(out)
    return DatasetPlan(rel, src, out, info, lingbot_info(info), entries, cameras, latents, stats, corpus)


def work_item(plan: DatasetPlan, entry: EpisodeEntry, spec: LingbotExportSpec, tally: DatasetTally) -> dict | None:
    """What is left of one episode (None: nothing), as the payload of `prepare_episode`."""
    ep = entry.episode_index
    write_table = not (plan.out / plan.info_src.data_file(ep)).exists()
    links = [k for k in plan.info_src.video_keys if not (plan.out / plan.info_src.video_file(ep, k)).exists()]
    todo = [p for p in plan.latents[ep] if not record_matches(plan.out / p.path, p)]
    tally.kept += len(plan.latents[ep]) - len(todo)
    if not (write_table or links or todo or ep not in plan.action_stats):
        return None
    return {
        "dataset": plan.rel,
        "corpus": plan.corpus,  # picklable: its options travel with it
        "src": str(plan.src),
        "out": str(plan.out),
        "episode_index": ep,
        "info_src": plan.info_src.to_json(),
        "info_out": plan.info_out.to_json(),
        "mask": episode_mask(EpisodeLineage.of(entry.model_extra or {}), plan.info_src).astype(int).tolist(),
        "write_table": write_table,
        "link_videos": links,
        "latents": [p.model_dump(mode="json") for p in todo],
        "size": [spec.height, spec.width],
    }
