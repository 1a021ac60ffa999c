"""Planning the LingBot-VA export, without encoding anything: model folders checked before any work, settings that
must match an earlier run's, each episode's segments (source, else caption, else task) with their latent plans
sampled at the export rate, what is left of an episode after an earlier run, and datasets that cannot be exported
refused naming why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from adapters.lerobot_format.files import load_entries, load_info
from adapters.storage.corpus import Corpus
from ingest.encoders.wan_config import WanModelError
from ingest.files.lingbot import write_record
from ingest.lingbot.dataset import NotCanonicalError
from jobs.export.lingbot.plan import (
    SETTINGS_PATH,
    DatasetTally,
    ExportError,
    check_models,
    check_settings,
    plan_dataset,
    settings_record,
    work_item,
)
from jobs.export.lingbot.spec import LingbotExportSpec
from schemas.lerobot import EPISODES_PATH, INFO_PATH, EpisodeEntry
from tests.fixtures.lingbot import latent_tensors
from tests.fixtures.wan import TEXT_DIM
from tests.jobs.export.lingbot.corpus import EGO, FRANKA

HEAD = "observation.images.head"


def _spec(root: Path, out: Path, wan: dict[str, Path], **kw: Any) -> LingbotExportSpec:
    base = dict(root=root, out=out, vae=wan["vae"], text_encoder=wan["text_encoder"], height=32, width=32, text_len=8)
    return LingbotExportSpec(**{**base, **kw})


def test_models_are_checked_before_any_work(wan: dict[str, Path], tmp_path: Path) -> None:
    models = check_models(_spec(tmp_path, tmp_path, wan))
    assert models.text_dim == TEXT_DIM and models.vae["scale_factor_spatial"] == 16
    with pytest.raises(WanModelError, match=r"--size 40x32: both sides must be multiples of 16"):
        check_models(_spec(tmp_path, tmp_path, wan, height=40))
    bad = tmp_path / "encoder"
    shutil.copytree(wan["text_encoder"], bad)
    config = json.loads((bad / "config.json").read_text())
    del config["d_model"]
    (bad / "config.json").write_text(json.dumps(config))
    with pytest.raises(WanModelError, match=r"config\.json has no d_model"):
        check_models(_spec(tmp_path, tmp_path, wan, text_encoder=bad))


def test_settings_must_match_an_earlier_run(wan: dict[str, Path], tmp_path: Path) -> None:
    spec = _spec(tmp_path, tmp_path / "out", wan)
    first = settings_record(spec, check_models(spec))
    check_settings(spec.out, first)
    assert json.loads((spec.out / SETTINGS_PATH).read_text()) == first
    moved = tmp_path / "moved-vae"
    shutil.copytree(wan["vae"], moved)
    spec_moved = _spec(tmp_path, spec.out, wan, vae=moved)
    check_settings(spec.out, settings_record(spec_moved, check_models(spec_moved)))  # same files, another path
    assert json.loads((spec.out / SETTINGS_PATH).read_text())["vae"]["path"] == str(moved.resolve())
    other = _spec(tmp_path, spec.out, wan, fps=10, text_len=16)
    with pytest.raises(ExportError, match=r"holds an export made with other fps, text_len .*use another --out"):
        check_settings(spec.out, settings_record(other, check_models(other)))


def test_segments_and_latent_plans_of_each_episode(small_corpus: Path, wan: dict[str, Path], tmp_path: Path) -> None:
    spec = _spec(small_corpus, tmp_path / "out", wan)
    tally = DatasetTally()
    plan = plan_dataset(Corpus(small_corpus), FRANKA, spec, check_models(spec), tally)
    texts = {e.episode_index: [s.action_text for s in e.action_config] for e in plan.entries}
    assert texts == {0: ["grasp the cube", "let go"], 1: ["lift the red cube"], 2: ["open the drawer"]}
    assert (tally.episodes, tally.segments, tally.short) == (3, 4, 1)  # "let go": 1 frame at 5 fps
    (grasp,) = plan.latents[0]
    assert grasp.frame_ids == [0, 2, 4, 6, 8] and (grasp.fps, grasp.ori_fps) == (5, 10)  # 1 + 4k frames, stride 2
    assert (grasp.latent_num_frames, grasp.latent_height, grasp.latent_width) == (2, 2, 2)
    assert grasp.text_emb_shape == (8, TEXT_DIM) and grasp.video_key == HEAD
    assert grasp.path.endswith("episode_000000_0_10.pth")
    assert [p.frame_ids for p in plan.latents[2]] == [[0, 2, 4, 6, 8]]  # 9 frames: 0..8 every 2nd
    assert plan.info_out.features["action"].shape == (30,)


def test_what_is_left_after_an_earlier_run(small_corpus: Path, wan: dict[str, Path], tmp_path: Path) -> None:
    spec = _spec(small_corpus, tmp_path / "out", wan)
    models = check_models(spec)
    plan = plan_dataset(Corpus(small_corpus), FRANKA, spec, models, DatasetTally())
    entry = plan.entries[0]
    fresh = work_item(plan, entry, spec, DatasetTally())
    assert fresh is not None and fresh["write_table"] and fresh["link_videos"] == [HEAD]
    assert [p["path"] for p in fresh["latents"]] == [plan.latents[0][0].path]
    # an earlier run wrote the table, linked the video and made the latent file
    for rel in (plan.info_src.data_file(0), plan.info_src.video_file(0, HEAD)):
        (plan.out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(plan.src / rel, plan.out / rel)
    latent = plan.latents[0][0]
    write_record(plan.out / latent.path, latent.record(*latent_tensors(latent)))
    tally = DatasetTally()
    left = work_item(plan, entry, spec, tally)
    assert left is not None and not left["write_table"] and left["link_videos"] == [] and left["latents"] == []
    assert tally.kept == 1  # only the action stats were never exported
    plan.action_stats[0] = {}
    assert work_item(plan, entry, spec, DatasetTally()) is None


def test_datasets_that_cannot_be_exported_say_why(small_corpus: Path, wan: dict[str, Path], tmp_path: Path) -> None:
    spec = _spec(small_corpus, tmp_path / "out", wan)
    models = check_models(spec)
    with pytest.raises(NotCanonicalError, match="actionless"):
        plan_dataset(Corpus(small_corpus), EGO, spec, models, DatasetTally())
    with pytest.raises(ValueError, match="--fps 3 does not divide the dataset's 10"):
        plan_dataset(Corpus(small_corpus), FRANKA, _spec(small_corpus, tmp_path, wan, fps=3), models, DatasetTally())
    have = load_info(small_corpus / FRANKA / INFO_PATH).video_keys[0]
    for cameras in (["top"], [have, "top"]):  # one it lacks is named, never dropped from those it has
        with pytest.raises(ValueError, match=r"camera 'top' is not among"):
            plan_dataset(
                Corpus(small_corpus),
                FRANKA,
                _spec(small_corpus, tmp_path, wan, cameras=cameras),
                models,
                DatasetTally(),
            )
    with pytest.raises(ValueError, match=r"none of the cameras \['none'\]"):
        plan_dataset(
            Corpus(small_corpus), FRANKA, _spec(small_corpus, tmp_path, wan, cameras=["none"]), models, DatasetTally()
        )
    assert len(load_entries(small_corpus / FRANKA / EPISODES_PATH, EpisodeEntry)) == 3  # the source is untouched
