"""A small canonical corpus for the training tests, written through the real writer, catalog and curate, with
image latents and text embeddings in the formats of the common contract (DESIGN.md section 5).

Each episode has a hidden world state x (6 numbers) that the recorded actions move: x_{t+1} = x_t + M a_t. The DINO
latents of frame t are base + U x_t, so the future latents depend on the actions (what forward dynamics learns).
Actions are a per-episode command plus jitter, so the history predicts the chunk (what a policy learns).
Latents are stored every second frame (5 Hz) to exercise the frame_index mapping.

Datasets and the cases they cover:
  datasets/sim/arm    franka mask, tiers high and low; one episode without latents (skipped), one too short for a
                      chunk (skipped), one whose task has no text file (null text)
  datasets/ego/video  human_video (no action dims), tier actionless
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from safetensors.torch import save_file

from adapters.lerobot_format.files import load_info, read_jsonl
from adapters.storage.corpus import Corpus
from ingest.lerobot.writer import LeRobotWriter
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.curate import curate
from schemas.canonical import ACTION, CANONICAL_DIM, HAND_KEYPOINTS, STATE, image_key
from schemas.captions import TEXT_FORMAT, text_embedding_file
from schemas.corpus import LINEAGE_KEY, EpisodeLineage, episode_uid
from schemas.image_latents import LATENTS_FORMAT, latents_file
from schemas.lerobot import TASKS_PATH
from schemas.robots.registry import default_registry
from tests.fixtures.episodes import moving_texture
from training.config import DataConfig, LaraConfig, OptimConfig, TrainConfig, config_from_preset

GRID, WIDTH, TEXT_DIM, HIDDEN = 14, 384, 32, 6
LATENT_STRIDE = 2
CAMERA = "head"
MANIFEST = "train_all"


@dataclass(frozen=True)
class Episode:
    name: str
    tier: str
    length: int
    task: str
    latents: bool = True


ARM = [
    Episode("arm-0", "high", 40, "push the block"),
    Episode("arm-1", "high", 40, "push the block"),
    Episode("arm-2", "low", 40, "lift the cup"),
    Episode("arm-3", "high", 40, "open the drawer"),
    Episode("arm-4", "low", 36, "lift the cup"),
    Episode("arm-5", "high", 40, "stack the rings"),  # its task gets no text file
    Episode("arm-6", "high", 40, "push the block", latents=False),
    Episode("arm-7", "high", 14, "push the block"),  # shorter than a chunk
]
EGO = [Episode(f"ego-{i}", "actionless", 40, "wash the dishes") for i in range(3)]
NO_TEXT_TASK = "stack the rings"


def world(seed: int = 1234) -> dict[str, np.ndarray]:
    """The fixed maps of the synthetic world: action -> state change, state -> latents."""
    rng = np.random.default_rng(seed)
    return {
        "M": rng.normal(size=(HIDDEN, CANONICAL_DIM)).astype(np.float32) * 0.3,
        "U": rng.normal(size=(GRID * GRID, WIDTH, HIDDEN)).astype(np.float32),
        "base": rng.normal(size=(GRID * GRID, WIDTH)).astype(np.float32),
    }


def _episode_arrays(ep_seed: int, length: int, mask: np.ndarray, w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(ep_seed)
    # smooth actions: a per-episode command plus jitter, so past actions tell a policy what comes next
    command = rng.normal(size=CANONICAL_DIM)
    actions = ((command + 0.2 * rng.normal(size=(length, CANONICAL_DIM))) * mask).astype(np.float32)
    driving = actions if mask.any() else rng.normal(size=(length, CANONICAL_DIM)).astype(np.float32)
    x = np.zeros((length, HIDDEN), np.float32)
    x[0] = rng.normal(size=HIDDEN)
    for t in range(1, length):
        x[t] = x[t - 1] + w["M"] @ driving[t - 1]
    state = np.zeros((length, CANONICAL_DIM), np.float32)
    state[:, : 2 * HIDDEN] = np.concatenate([x, x**2], axis=1)
    state *= mask
    return {"actions": actions, "state": state, "x": x}


def write_dataset(
    root: Path,
    source: str,
    subset: str,
    embodiment: str,
    episodes: list[Episode],
    w: dict[str, np.ndarray],
    actions: bool,
    camera: bool = True,
) -> list[dict[str, np.ndarray]]:
    emb = default_registry().get(embodiment)
    mask = emb.mask() if actions else np.zeros(CANONICAL_DIM, dtype=bool)  # as ingest masks video without poses
    features = emb.features({CAMERA: (64, 64)} if camera else {}, mask=mask)
    arrays = []
    with LeRobotWriter.create(root, fps=10, features=features, robot_type=embodiment) as writer:
        for k, ep in enumerate(episodes):
            a = _episode_arrays(1000 * len(source) + k, ep.length, mask, w)
            builder = writer.stage(ep.task, label=ep.name, expected_frames=ep.length)
            for t in range(ep.length):
                frame = {
                    STATE: a["state"][t],
                    ACTION: a["actions"][t],
                    HAND_KEYPOINTS: np.zeros((2, 21, 3), np.float32),
                }
                builder.add_frame(frame | ({image_key(CAMERA): moving_texture(64, 64, t, k)} if camera else {}))
            record = EpisodeLineage(
                episode_uid=episode_uid(source, subset, ep.name),
                source=source,
                subset=subset,
                raw_path=f"synthetic/{ep.name}",
                embodiment=embodiment,
                tier=ep.tier,
                tier_reasons=[] if ep.tier == "high" else ["synthetic"],
                mask=mask.astype(int).tolist(),
                pipeline_version="test",
            )
            builder.extra = {LINEAGE_KEY: record.to_json()}
            writer.commit(builder.finish())
            arrays.append(a)
    return arrays


def write_latents(
    root: Path, episode_index: int, x: np.ndarray, w: dict[str, np.ndarray], camera: str = CAMERA
) -> Path:
    """Latents of one episode's `camera` every `LATENT_STRIDE` frames of its hidden world state `x` [length, HIDDEN]."""
    info = load_info(root / "meta/info.json")
    frames = np.arange(0, len(x), LATENT_STRIDE)
    lat = w["base"][None] + np.einsum("pcj,nj->npc", w["U"], x[frames])
    path = root / latents_file(info, episode_index, image_key(camera))
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {
        "latents": torch.from_numpy(lat).bfloat16(),
        "frame_index": torch.from_numpy(frames.astype(np.int64)),
        "cls_registers": torch.zeros(len(frames), 5, WIDTH, dtype=torch.bfloat16),
    }
    meta = {
        "model": "synthetic",
        "image_size": "224",
        "rate_hz": str(10 / LATENT_STRIDE),
        "dtype": "bfloat16",
        "video_key": image_key(camera),
        "episode_index": str(episode_index),
        "format": LATENTS_FORMAT,
    }
    save_file(tensors, str(path), metadata=meta)
    return path


def write_texts(root: Path, skip: set[str]) -> None:
    for _, obj in read_jsonl(root / TASKS_PATH):
        if obj["task"] in skip:
            continue
        n = 3 + len(obj["task"]) % 5
        g = torch.Generator().manual_seed(obj["task_index"] + 7)
        path = root / text_embedding_file(int(obj["task_index"]))
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {"hidden_states": torch.randn(n, TEXT_DIM, generator=g).bfloat16(), "input_ids": torch.arange(n)}
        meta = {"model": "synthetic", "layer": "-1", "text": obj["task"], "dtype": "bfloat16", "format": TEXT_FORMAT}
        save_file(tensors, str(path), metadata=meta)


def add_cameraless(corpus: Path, episodes: int = 2) -> None:
    """A dataset `ego/audio` of actionless episodes with no camera (a source that gives neither, written since nothing
    may be lost): no sample can ever be anchored on it. The catalog is rebuilt."""
    eps = [Episode(f"audio-{i}", "actionless", 30, "talk about the dishes") for i in range(episodes)]
    write_dataset(corpus / "datasets/ego/audio", "ego", "audio", "human_video", eps, world(), False, camera=False)
    rebuild_catalog(Corpus(corpus))


def build_corpus(corpus: Path, val_fraction: float = 0.34) -> Path:
    """Write the corpus, catalog it, curate a manifest of every episode; returns the manifest folder."""
    w = world()
    for source, subset, emb, episodes in (("sim", "arm", "franka", ARM), ("ego", "video", "human_video", EGO)):
        root = corpus / "datasets" / source / subset
        arrays = write_dataset(root, source, subset, emb, episodes, w, actions=source == "sim")
        for i, (ep, a) in enumerate(zip(episodes, arrays, strict=True)):
            if ep.latents:
                write_latents(root, i, a["x"], w)
        write_texts(root, skip={NO_TEXT_TASK})
    rebuild_catalog(Corpus(corpus))
    return curate(corpus, MANIFEST, "true", val_fraction=val_fraction)


def tiny_config(manifest: Path, *, lara: str = "joint", lam_weights: str | None = None, **kw: object) -> TrainConfig:
    """The tiny preset on the test corpus: no DataLoader workers, a learning rate a few steps can show, log every
    step, no intermediate checkpoints."""
    base: dict[str, object] = {
        "data": DataConfig(num_workers=0),
        "optim": OptimConfig(lr=3e-3),
        "lara": LaraConfig(mode=lara, weights=lam_weights),
        "log_every": 1,
        "ckpt_every": 1000,
    }
    base.update(kw)
    return config_from_preset("tiny", manifest, **base)


def column_rows(path: Path, key: str) -> np.ndarray:
    """A vector column of a data file as one row per frame."""
    col = pq.read_table(path, columns=[key]).column(key).combine_chunks()
    return col.flatten().to_numpy().reshape(len(col), -1)
