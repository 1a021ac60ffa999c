"""One episode's export work, without Ray: its 30-dim frame table written, its videos hard-linked, the frames of each
latent file decoded and resized; an episode's failure travels with it instead of raising; the encoder actor's
callable turns the frames into a latent file the plan accepts."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from adapters.storage.corpus import Corpus
from ingest.files.lingbot import read_record, record_matches
from ingest.lingbot.dataset import vectors
from jobs.export.lingbot.plan import DatasetTally, check_models, plan_dataset, work_item
from jobs.export.lingbot.spec import LingbotExportSpec
from jobs.export.lingbot.work import LatentEncoder, prepare_episode
from schemas.canonical import ACTION
from schemas.lingbot import LINGBOT_ACTION_DIM, LatentPlan
from tests.jobs.export.lingbot.corpus import FRANKA

HEAD = "observation.images.head"


def _item(small_corpus: Path, wan: dict[str, Path], out: Path, episode: int = 0) -> dict:
    spec = LingbotExportSpec(
        root=small_corpus, out=out, vae=wan["vae"], text_encoder=wan["text_encoder"], height=32, width=32, text_len=8
    )
    plan = plan_dataset(Corpus(small_corpus), FRANKA, spec, check_models(spec), DatasetTally())
    item = work_item(plan, plan.entries[episode], spec, DatasetTally())
    assert item is not None
    return item


def test_an_episode_is_prepared(small_corpus: Path, wan: dict[str, Path], tmp_path: Path) -> None:
    item = _item(small_corpus, wan, tmp_path / "out")
    result = prepare_episode(item)
    assert result["error"] is None
    out = tmp_path / "out" / FRANKA
    table = pq.read_table(out / "data/chunk-000/episode_000000.parquet")
    actions = vectors(table, ACTION, LINGBOT_ACTION_DIM)
    assert actions.shape == (12, LINGBOT_ACTION_DIM)
    np.testing.assert_allclose(result["stats"]["mean"], actions.mean(axis=0), rtol=1e-6, atol=1e-6)
    video = "videos/chunk-000/observation.images.head/episode_000000.mp4"
    assert os.stat(out / video).st_ino == os.stat(small_corpus / FRANKA / video).st_ino  # linked, not copied
    (latent,) = result["latents"]
    assert latent["pixels"].shape == (5, 32, 32, 3) and latent["pixels"].dtype == np.uint8
    # the fixture's frame i of episode 0 is flat grey 20 i: the sampled frames 0, 2, 4, 6, 8, resized
    np.testing.assert_allclose(latent["pixels"].mean(axis=(1, 2, 3)), [0, 40, 80, 120, 160], atol=4)


def test_a_failing_episode_carries_its_error(small_corpus: Path, wan: dict[str, Path], tmp_path: Path) -> None:
    item = _item(small_corpus, wan, tmp_path / "out", episode=2)
    plan = item["latents"][0]
    item["latents"] = [{**plan, "frame_ids": [0, 2, 4, 6, 40], "end_frame": 41}]  # frame 40 is past the end
    result = prepare_episode(item)
    assert result["error"].startswith("frames: ValueError: ") and "past the end of the video" in result["error"]
    assert result["latents"] == []


def test_the_encoder_writes_a_latent_file_its_plan_accepts(
    small_corpus: Path, wan: dict[str, Path], tmp_path: Path
) -> None:
    prepared = prepare_episode(_item(small_corpus, wan, tmp_path / "out"))
    encoder = LatentEncoder(str(wan["vae"]), str(wan["text_encoder"]), str(wan["tokenizer"]), device="cpu", text_len=8)
    done = encoder.encode(prepared)
    assert done["error"] is None and (done["written"], done["frames"]) == (1, 5)
    plan = LatentPlan.model_validate(prepared["latents"][0]["plan"])
    path = tmp_path / "out" / FRANKA / plan.path
    assert record_matches(path, plan) and read_record(path).text == "grasp the cube"
