"""The Ray side of the LingBot-VA export: one task per episode (its 30-dim frame table, its videos, the frames of
every latent file still to make) feeding encoder actors that hold the Wan2.2 VAE and text encoder and write the
latent files. Payloads are plain dicts; a task never raises for bad input, its error travels with the episode.

On Ray Data (`jobs.export.lingbot.job`), a row is one episode's payload pickled into one column (`PAYLOAD`): the
payloads are nested dicts of another shape per dataset and hold ragged frame arrays, which Arrow would reshape
(missing keys filled with nulls) or refuse; pickled, they arrive exactly as they left."""

from __future__ import annotations

import logging
import pickle
from collections import defaultdict
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch

from adapters.lerobot_format.stats import numeric_stats
from adapters.storage.atomic import atomic_write
from adapters.storage.corpus import Corpus
from ingest.encoders.wan import encode_text, encode_video, load_text_encoder, load_vae, pick_device, resize_frames
from ingest.files.lingbot import write_record
from ingest.lerobot.video_read import decode_frames
from ingest.lingbot.dataset import lingbot_table, vectors
from jobs.catalog.parts import write_parquet_atomic
from jobs.export.lingbot.plan import EMPTY_EMB, check_settings
from schemas.canonical import ACTION
from schemas.lerobot import InfoJson
from schemas.lingbot import LINGBOT_ACTION_DIM, LatentPlan

log = logging.getLogger(__name__)

TEXT_CACHE = 32  # text embeddings kept per actor (512 x 4096 bf16 = 4 MiB each for Wan2.2)
PAYLOAD = "payload"  # the one column of the Ray Data rows: a pickled dict


def _decode_resized(video: Path, frame_ids: set[int], height: int, width: int) -> dict[int, np.ndarray]:
    """The wanted frames of one mp4, each resized as soon as it is decoded (memory: resized frames only)."""
    out = {i: resize_frames(rgb[None], height, width)[0] for i, rgb in decode_frames(video, frame_ids)}
    missing = sorted(frame_ids - set(out))
    if missing:
        raise ValueError(f"{video}: frames {missing[:5]} are past the end of the video ({len(out)} decoded)")
    return out


def prepare_episode(item: dict[str, Any]) -> dict[str, Any]:
    """Frame table (when not yet exported), video links (`Corpus.copy_to`: a hard link, or a copy of a bucket's
    object), and resized frames of each latent plan of one episode (decoded from the linked video); the source's files
    are read through its corpus (a bucket's by ranged GETs where they lie)."""
    corpus: Corpus = item["corpus"]
    src, out, ep = Path(item["src"]), Path(item["out"]), int(item["episode_index"])
    info_src = InfoJson.model_validate(item["info_src"])
    result: dict[str, Any] = {
        "dataset": item["dataset"],
        "out": item["out"],
        "episode_index": ep,
        "latents": [],
        "stats": None,
        "error": None,
    }
    stage = "table"
    try:
        data_rel = info_src.data_file(ep)
        if item["write_table"]:
            info_out = InfoJson.model_validate(item["info_out"])
            with corpus.open_file(src / data_rel) as f:
                source = pq.read_table(f)
            table, actions = lingbot_table(source, info_out, np.asarray(item["mask"], bool))
            write_parquet_atomic(table, out / data_rel)
        else:
            actions = vectors(pq.read_table(out / data_rel, columns=[ACTION]), ACTION, LINGBOT_ACTION_DIM)
        result["stats"] = numeric_stats(actions.astype(np.float32)).to_json()
        stage = "videos"
        for key in item["link_videos"]:
            rel = info_src.video_file(ep, key)
            corpus.copy_to(src / rel, out / rel, link=True)
        stage = "frames"
        plans = [LatentPlan.model_validate(p) for p in item["latents"]]
        by_key: dict[str, list[LatentPlan]] = defaultdict(list)
        for p in plans:
            by_key[p.video_key].append(p)
        height, width = item["size"]
        for key, key_plans in by_key.items():
            # the video linked into the output (the source's bytes; a bucket's fetched once, above)
            video = out / info_src.video_file(ep, key)
            frames = _decode_resized(video, {i for p in key_plans for i in p.frame_ids}, height, width)
            for p in key_plans:
                result["latents"].append(
                    {"plan": p.model_dump(mode="json"), "pixels": np.stack([frames[i] for i in p.frame_ids])}
                )
    except Exception as e:  # this episode only: the job reports it and goes on
        result["error"] = f"{stage}: {type(e).__name__}: {e}"
        result["latents"] = []
    return result


class LatentEncoder:
    """Ray actor: Wan2.2 VAE + UMT5 loaded once; `encode` turns an episode's prepared frames into latent files."""

    def __init__(
        self,
        vae: str,
        text_encoder: str,
        tokenizer: str | None,
        *,
        device: str = "auto",
        text_len: int = 512,
        threads: int | None = None,
    ) -> None:
        if threads:
            torch.set_num_threads(threads)
        self.device = pick_device(device)
        self.vae = load_vae(Path(vae), self.device)
        self.text_model, self.tokenizer = load_text_encoder(
            Path(text_encoder), tokenizer and Path(tokenizer), self.device
        )
        self.text_len = text_len
        # the last TEXT_CACHE texts' embeddings
        self.text_embedding = lru_cache(TEXT_CACHE)(
            partial(encode_text, self.text_model, self.tokenizer, text_len=text_len)
        )

    def encode(self, prepared: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in prepared.items() if k != "latents"}
        written = frames = 0
        if prepared["error"] is None:
            try:
                for job in prepared["latents"]:
                    plan = LatentPlan.model_validate(job["plan"])
                    latent, _ = encode_video(self.vae, job["pixels"])
                    write_record(Path(prepared["out"]) / plan.path, plan.record(latent, self.text_embedding(plan.text)))
                    written += 1
                    frames += len(plan.frame_ids)
            except Exception as e:
                out["error"] = f"encode: {type(e).__name__}: {e}"
        out.update(written=written, frames=frames)
        return out


def save_empty_embedding(model: Any, tokenizer: Any, text_len: int, out: str, settings: dict[str, Any]) -> None:
    """Once a text encoder has loaded, and before anything is encoded with it: the job's settings recorded in the
    output, then LingBot-VA's `empty_emb_path` when missing, the embedding of "" that replaces the text for
    classifier-free guidance (the actors of one run write the same bytes, each by rename)."""
    check_settings(Path(out), settings)
    if not (Path(out) / EMPTY_EMB).exists():
        emb = encode_text(model, tokenizer, "", text_len)
        atomic_write(Path(out) / EMPTY_EMB, lambda tmp: torch.save(emb, tmp))


def prepare_row(row: dict[str, Any]) -> dict[str, Any]:
    """`prepare_episode` over a Ray Data row."""
    return {PAYLOAD: pickle.dumps(prepare_episode(pickle.loads(row[PAYLOAD])), protocol=5)}


class EncodeEpisodes:
    """Ray Data callable class: one `LatentEncoder` per actor (`save_empty_embedding` once it has loaded)."""

    def __init__(self, out: str, settings: dict[str, Any], **encoder: Any) -> None:
        enc = self.encoder = LatentEncoder(**encoder)
        log.info("encoder actor on %s", enc.device)
        save_empty_embedding(enc.text_model, enc.tokenizer, enc.text_len, out, settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        done = [self.encoder.encode(pickle.loads(p)) for p in batch[PAYLOAD]]
        return {PAYLOAD: np.array([pickle.dumps(d, protocol=5) for d in done], dtype=object)}


def write_empty_embedding(
    out: str, settings: dict[str, Any], text_encoder: str, tokenizer: str | None, *, device: str, text_len: int
) -> None:
    """A Ray task for a run with no episode left but `EMPTY_EMB` missing: the text encoder alone, then as
    `EncodeEpisodes` does."""
    model, tok = load_text_encoder(Path(text_encoder), tokenizer and Path(tokenizer), pick_device(device))
    save_empty_embedding(model, tok, text_len, out, settings)
