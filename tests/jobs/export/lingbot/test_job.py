"""`eidata export --format lingbot-va`, for real: embedded Ray, tiny random Wan2.2 models, a small canonical corpus
(AgiBot with its own segments, a one-armed robot with and without a caption, an actionless dataset)."""

from __future__ import annotations

import hashlib
import json
import shutil
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from adapters.lerobot_format.files import load_info, read_jsonl
from adapters.lerobot_format.stats import numeric_stats
from adapters.storage.atomic import temp_path
from adapters.storage.corpus import Corpus
from ingest.encoders.wan import encode_video, load_vae, resize_frames
from ingest.lerobot.video_read import decode_frames
from ingest.lingbot.action import lingbot_mask, to_lingbot_actions
from ingest.lingbot.dataset import vectors
from jobs.cli import main as eidata
from jobs.export.lingbot.job import ExportReport, _accept, run_lingbot_export
from jobs.export.lingbot.plan import EMPTY_EMB, DatasetTally, check_models, plan_dataset, work_item
from jobs.export.lingbot.spec import LingbotExportSpec
from jobs.export.lingbot.work import prepare_episode
from schemas.canonical import ACTION, STATE
from schemas.lerobot import EPISODES_PATH, EPISODES_STATS_PATH, INFO_PATH
from schemas.lingbot import LATENT_KEYS, LINGBOT_ACTION_NAMES
from tests.fixtures.corpus import episode, write_dataset
from tests.fixtures.wan import TEXT_DIM, write_tiny_wan

pytestmark = pytest.mark.shared_ray  # the module's jobs run on one Ray (tests/ray_scope.py)

AGIBOT, FRANKA, EGO = "datasets/agibot/task_1", "datasets/franka/pick", "datasets/ego4d/clips"
SEGMENTS = [
    {"start_frame": 0, "end_frame": 10, "action_text": "抓取立方体", "english_action_text": "grasp the cube",
     "skill": "Pick"},
    {"start_frame": 10, "end_frame": 20, "action_text": "put it in the bowl", "skill": "Place"},
]  # fmt: skip
TEXT_LEN = 24


def _corpus(root: Path) -> Path:
    write_dataset(
        root / AGIBOT,
        "agibot_gripper",
        [
            {**episode(20, "pick and place", "agibot/task_1/e0", "agibot_gripper"), "action_config": SEGMENTS},
            episode(14, "open the drawer", "agibot/task_1/e1", "agibot_gripper"),
        ],
    )
    caption = {"text": "lift the red cube", "task_index": 0, "kind": "rule", "model": "rules", "original": "pick"}
    write_dataset(
        root / FRANKA,
        "franka",
        [
            episode(12, "pick", "franka/pick/e0", "franka", caption=caption),
            episode(12, "pick", "franka/pick/e1", "franka"),
            episode(7, "pick", "franka/pick/e2", "franka"),  # 4 frames at 5 fps: too short for a latent file
        ],
    )
    none = [0] * 50
    write_dataset(
        root / EGO, "human_video", [episode(12, "walk", "ego4d/clips/e0", "human_video", mask=none)], mask=none
    )
    return root


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_tiny_wan(tmp_path_factory.mktemp("wan"))


def _spec(root: Path, out: Path, models: dict[str, Path], **kw: Any) -> LingbotExportSpec:
    return LingbotExportSpec(
        root=root,
        out=out,
        vae=models["vae"],
        text_encoder=models["text_encoder"],
        fps=5,
        height=32,
        width=32,
        text_len=TEXT_LEN,
        num_cpus=2,
        object_store_mb=256,
        **kw,
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, models: dict[str, Path]) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("lingbot")
    root, out = _corpus(tmp / "corpus"), tmp / "out"
    report = run_lingbot_export(_spec(root, out, models), progress=False)
    return {"root": root, "out": out, "report": report}


def _pth_files(out: Path) -> list[Path]:
    return sorted(out.rglob("*.pth"))


def _episodes(dataset: Path) -> list[dict[str, Any]]:
    return [line for _, line in read_jsonl(dataset / EPISODES_PATH)]


def _snapshot(out: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(out)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(out.rglob("*"))
        if p.is_file() and "job" not in p.relative_to(out).parts
    }


def test_every_pth_loads_with_weights_only_and_has_exactly_the_documented_keys(exported: dict[str, Any]) -> None:
    files = _pth_files(exported["out"])
    assert len(files) == 2 + 1 + 2  # agibot: 2 segments + 1 episode; franka: 2 episodes (the third is too short)
    for path in files:
        d = torch.load(path, weights_only=True)
        assert list(d) == list(LATENT_KEYS), path
        f, h, w = d["latent_num_frames"], d["latent_height"], d["latent_width"]
        assert d["latent"].dtype == torch.bfloat16 and tuple(d["latent"].shape) == (f * h * w, 48)
        assert (f, h, w) == (2, 2, 2)  # 5 frames at 32x32 through 4x temporal, 16x spatial compression
        assert d["text_emb"].dtype == torch.bfloat16 and tuple(d["text_emb"].shape) == (TEXT_LEN, TEXT_DIM)
        for key in (
            "latent_num_frames",
            "latent_height",
            "latent_width",
            "video_num_frames",
            "video_height",
            "video_width",
            "start_frame",
            "end_frame",
            "fps",
            "ori_fps",
        ):
            assert type(d[key]) is int, key
        assert type(d["text"]) is str and type(d["frame_ids"]) is list
        assert all(type(i) is int for i in d["frame_ids"])
        assert d["video_num_frames"] == len(d["frame_ids"]) == 5 and (d["video_height"], d["video_width"]) == (32, 48)
        assert (d["fps"], d["ori_fps"]) == (5, 10)
        assert d["frame_ids"] == list(range(d["start_frame"], d["start_frame"] + 10, 2))
        ep = int(path.stem.split("_")[1])
        assert path.name == f"episode_{ep:06d}_{d['start_frame']}_{d['end_frame']}.pth"
        assert path.parent.name == "observation.images.head" and path.parent.parent.name == "chunk-000"
    empty = torch.load(exported["out"] / EMPTY_EMB, weights_only=True)
    assert empty.dtype == torch.bfloat16 and tuple(empty.shape) == (TEXT_LEN, TEXT_DIM)


def test_latent_is_the_vae_encoding_of_the_recorded_frames(exported: dict[str, Any], models: dict[str, Path]) -> None:
    out, root = exported["out"], exported["root"]
    path = out / AGIBOT / "latents/chunk-000/observation.images.head/episode_000000_10_20.pth"
    d = torch.load(path, weights_only=True)
    video = root / AGIBOT / "videos/chunk-000/observation.images.head/episode_000000.mp4"
    frames = np.stack([rgb for _, rgb in decode_frames(video, d["frame_ids"])])
    latent, _ = encode_video(load_vae(models["vae"], torch.device("cpu")), resize_frames(frames, 32, 32))
    torch.testing.assert_close(d["latent"].float(), latent.float(), atol=3e-2, rtol=2e-2)
    linked = out / AGIBOT / "videos/chunk-000/observation.images.head/episode_000000.mp4"
    assert linked.stat().st_ino == video.stat().st_ino  # a hard link: same bytes, no copy


def test_segments_come_from_the_source_else_caption_else_task(exported: dict[str, Any]) -> None:
    out = exported["out"]
    agibot = _episodes(out / AGIBOT)
    segs = agibot[0]["action_config"]
    assert [(s["start_frame"], s["end_frame"], s["action_text"]) for s in segs] == [
        (0, 10, "grasp the cube"),
        (10, 20, "put it in the bowl"),
    ]
    assert segs[0]["original_action_text"] == "抓取立方体" and segs[0]["skill"] == "Pick"
    assert agibot[1]["action_config"] == [{"start_frame": 0, "end_frame": 14, "action_text": "open the drawer"}]
    franka = _episodes(out / FRANKA)
    assert [e["action_config"][0]["action_text"] for e in franka] == ["lift the red cube", "pick", "pick"]
    assert all(e["eidata"]["episode_uid"] for e in agibot + franka)  # lineage kept
    for dataset, episodes in ((AGIBOT, agibot), (FRANKA, franka)):
        for e in episodes:
            for s in e["action_config"]:
                name = f"episode_{e['episode_index']:06d}_{s['start_frame']}_{s['end_frame']}.pth"
                pth = out / dataset / "latents/chunk-000/observation.images.head" / name
                if e["length"] >= 9:
                    assert torch.load(pth, weights_only=True)["text"] == s["action_text"]
                else:
                    assert not pth.exists()
    report = exported["report"]
    assert report.tallies[FRANKA].short == 1 and report.errors == 0
    assert "actionless" in report.tallies[EGO].skipped and not (out / EGO).exists()


def test_actions_are_mapped_to_30_dims_with_features_and_stats(exported: dict[str, Any]) -> None:
    out, root = exported["out"], exported["root"]
    for dataset, embodiment_mask in ((AGIBOT, "agibot_gripper"), (FRANKA, "franka")):
        info = load_info(out / dataset / INFO_PATH)
        ft = info.features[ACTION]
        assert ft.shape == (30,) and ft.names == list(LINGBOT_ACTION_NAMES)
        src_info = load_info(root / dataset / INFO_PATH)
        src_mask = src_info.features[ACTION].info["mask"]
        assert ft.info["mask"] == lingbot_mask(src_mask).astype(int).tolist() and ft.info["quaternion"] == "xyzw"
        assert {k: v for k, v in info.features.items() if k != ACTION} == {
            k: v for k, v in src_info.features.items() if k != ACTION
        }
        stats = {e["episode_index"]: e["stats"] for _, e in read_jsonl(out / dataset / EPISODES_STATS_PATH)}
        for ep in range(info.total_episodes):
            src = pq.read_table(root / dataset / src_info.data_file(ep))
            dst = pq.read_table(out / dataset / info.data_file(ep))
            want = to_lingbot_actions(vectors(src, STATE, 50), vectors(src, ACTION, 50), src_mask)
            np.testing.assert_array_equal(vectors(dst, ACTION, 30).astype(np.float32), want)
            assert dst.drop_columns([ACTION]).equals(src.drop_columns([ACTION]))
            assert stats[ep][ACTION] == numeric_stats(want).to_json()
        if embodiment_mask == "franka":
            assert np.all(vectors(dst, ACTION, 30)[:, :7] == 0)  # no left arm: zero padded


def test_rerun_is_a_noop(exported: dict[str, Any], models: dict[str, Path]) -> None:
    before = _snapshot(exported["out"])
    report = run_lingbot_export(_spec(exported["root"], exported["out"], models), progress=False)
    assert _snapshot(exported["out"]) == before
    assert sum(t.written for t in report.tallies.values()) == 0
    assert sum(t.kept for t in report.tallies.values()) == len(_pth_files(exported["out"])) and report.errors == 0


def test_rerun_remakes_exactly_what_is_missing_or_stale(
    exported: dict[str, Any], models: dict[str, Path], tmp_path: Path
) -> None:
    root, out = tmp_path / "corpus", tmp_path / "out"
    shutil.copytree(exported["root"], root)
    shutil.copytree(exported["out"], out)
    gone = out / AGIBOT / "latents/chunk-000/observation.images.head/episode_000000_10_20.pth"
    stale = out / FRANKA / "latents/chunk-000/observation.images.head/episode_000000_0_12.pth"
    table = out / FRANKA / "data/chunk-000/episode_000001.parquet"
    reference = {p: p.read_bytes() for p in (gone, table)}
    gone.unlink()
    table.unlink()
    cut = temp_path(stale)  # what a worker ended mid-write by Ray's shutdown leaves (no `finally` runs)
    cut.write_bytes(b"cut")
    episodes = root / FRANKA / EPISODES_PATH  # a new caption for franka episode 0: its segment text changes
    lines = [line for _, line in read_jsonl(episodes)]
    lines[0]["eidata"]["caption"]["text"] = "lift the blue cube"
    episodes.write_text("".join(json.dumps(line) + "\n" for line in lines))
    before = _snapshot(out)
    report = run_lingbot_export(_spec(root, out, models), progress=False)
    after = _snapshot(out)
    changed = {k for k in after if before.get(k) != after[k]}
    rel = {str(p.relative_to(out)) for p in (gone, stale, table)}
    assert changed == rel | {f"{FRANKA}/{EPISODES_PATH}"} and report.errors == 0
    assert sum(t.written for t in report.tallies.values()) == 2
    assert table.read_bytes() == reference[table] and not cut.exists()
    restored, original = torch.load(gone, weights_only=True), torch.load(BytesIO(reference[gone]), weights_only=True)
    assert torch.equal(restored["latent"], original["latent"]) and restored["text"] == original["text"]
    assert torch.load(stale, weights_only=True)["text"] == "lift the blue cube"
    assert _episodes(out / FRANKA)[0]["action_config"][0]["action_text"] == "lift the blue cube"


@pytest.mark.parametrize("broken", ["video", "table"])
def test_a_broken_episode_is_reported_and_costs_only_what_depends_on_it(
    exported: dict[str, Any], models: dict[str, Path], tmp_path: Path, broken: str
) -> None:
    """The Ray task's own function on a damaged copy: an unreadable video costs that episode's latents (the dataset
    still loads), an unreadable frame table costs the dataset's meta (it could not load). The video is linked into
    the output again (its latents are decoded from the link: the bytes the export ships)."""
    root, out = tmp_path / "corpus", tmp_path / "out"
    shutil.copytree(exported["root"], root)
    shutil.copytree(exported["out"], out)
    spec = _spec(root, out, models)
    ep, name = 1, "episode_000001"
    (out / AGIBOT / f"latents/chunk-000/observation.images.head/{name}_0_14.pth").unlink()
    (out / AGIBOT / f"data/chunk-000/{name}.parquet").unlink()
    (out / AGIBOT / f"videos/chunk-000/observation.images.head/{name}.mp4").unlink()
    (out / AGIBOT / EPISODES_PATH).unlink()
    damaged = (
        root
        / AGIBOT
        / (
            f"videos/chunk-000/observation.images.head/{name}.mp4"
            if broken == "video"
            else f"data/chunk-000/{name}.parquet"
        )
    )
    damaged.write_bytes(damaged.read_bytes()[:200])
    report = ExportReport(out)
    tally = report.tallies.setdefault(AGIBOT, DatasetTally())
    plan = plan_dataset(Corpus(root), AGIBOT, spec, check_models(spec), tally)
    items = [item for e in plan.entries if (item := work_item(plan, e, spec, tally)) is not None]
    assert [item["episode_index"] for item in items] == [ep]
    plan.pending = {ep}
    result = prepare_episode(items[0])
    assert result["error"].startswith("frames:" if broken == "video" else "table:") and result["latents"] == []
    _accept(plan, report, {**result, "written": 0}, lambda _: None)
    assert tally.errors[0].startswith(f"episode {ep}: ")
    assert (out / AGIBOT / EPISODES_PATH).exists() == (broken == "video")


def test_other_settings_on_the_same_output_are_refused(
    exported: dict[str, Any], models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "export",
        str(exported["root"]),
        "--format",
        "lingbot-va",
        "--out",
        str(exported["out"]),
        "--vae",
        str(models["vae"]),
        "--text-encoder",
        str(models["text_encoder"]),
        "--size",
        "32",
        "--text-len",
        str(TEXT_LEN),
        "--fps",
        "10",
    ]
    assert eidata(args) == 2
    assert "other fps" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("drop", "needle"),
    [("--vae", "no Wan2.2 VAE given: pass --vae PATH"), ("--out", "needs --out DIR")],
)
def test_missing_models_or_output_exit_2(
    tmp_path: Path, models: dict[str, Path], drop: str, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = {"--out": str(tmp_path / "out"), "--vae": str(models["vae"]), "--text-encoder": str(models["text_encoder"])}
    args.pop(drop)
    assert eidata(["export", str(tmp_path), "--format", "lingbot-va", *[x for kv in args.items() for x in kv]]) == 2
    assert needle in capsys.readouterr().err


def test_a_finished_export_missing_only_the_empty_embedding_gets_it_back(
    exported: dict[str, Any], models: dict[str, Path], tmp_path: Path
) -> None:
    """No episode left to encode: one Ray task loads the text encoder alone and writes `empty_emb.pt` with the bytes
    the encoder actors wrote; nothing else is touched."""
    out = tmp_path / "out"
    shutil.copytree(exported["out"], out)
    want = (out / EMPTY_EMB).read_bytes()
    (out / EMPTY_EMB).unlink()
    before = _snapshot(out)
    report = run_lingbot_export(_spec(exported["root"], out, models), progress=False)
    assert (out / EMPTY_EMB).read_bytes() == want and report.errors == 0
    assert {k: v for k, v in _snapshot(out).items() if k != EMPTY_EMB} == before


def test_encoder_actors_that_cannot_load_stop_the_job_before_any_record(
    exported: dict[str, Any], models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A VAE folder whose config is right but whose weights are not: the actors fail to start, the job exits 2
    naming the actor's error, and the settings are not recorded (a rerun with good models is not refused)."""
    vae, out = tmp_path / "vae", tmp_path / "out"
    shutil.copytree(models["vae"], vae)
    for weights in vae.glob("*.safetensors"):
        weights.write_bytes(b"not weights")
    argv = ["export", str(exported["root"]), "--format", "lingbot-va", "--out", str(out), "--vae", str(vae)]
    argv += ["--text-encoder", str(models["text_encoder"]), "--size", "32", "--text-len", str(TEXT_LEN)]
    assert eidata([*argv, "--num-cpus", "2"]) == 2
    assert "eidata export: the encoder actors did not start: " in capsys.readouterr().err
    assert not (out / "job" / "lingbot_export.json").exists() and not _pth_files(out)


@pytest.mark.oracle
def test_export_loads_in_lerobot(exported: dict[str, Any], run_oracle: Any) -> None:
    dataset = exported["out"] / AGIBOT
    got = run_oracle("load", dataset, "--items", "0,25", "--stats")
    assert got["num_episodes"] == 2 and got["episode_lengths"] == [20, 14]
    assert got["features"][ACTION]["shape"] == [30] and got["sync_check_explicit"]
    table = pq.read_table(dataset / "data/chunk-000/episode_000001.parquet")
    np.testing.assert_allclose(got["items"]["25"][ACTION], vectors(table, ACTION, 30)[5], rtol=1e-6)
    ours = {e["episode_index"]: e["stats"][ACTION] for _, e in read_jsonl(dataset / EPISODES_STATS_PATH)}
    for ep, theirs in got["stats"].items():
        for stat in ("min", "max", "mean", "std"):
            np.testing.assert_allclose(theirs[ACTION][stat], ours[int(ep)][stat], rtol=1e-5, atol=1e-6)
    assert json.loads((dataset / INFO_PATH).read_text())["features"][ACTION]["shape"] == [30]


@pytest.mark.gpu
def test_cuda_actors_write_the_same_files_within_bf16(
    exported: dict[str, Any], models: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    report = run_lingbot_export(_spec(exported["root"], out, models, device="cuda"), progress=False)
    assert report.errors == 0
    cpu_files = _pth_files(exported["out"])
    assert [p.relative_to(exported["out"]) for p in cpu_files] == [p.relative_to(out) for p in _pth_files(out)]
    for path in cpu_files:
        a = torch.load(path, weights_only=True)
        b = torch.load(out / path.relative_to(exported["out"]), weights_only=True)
        assert {k: v for k, v in a.items() if k not in ("latent", "text_emb")} == {
            k: v for k, v in b.items() if k not in ("latent", "text_emb")
        }
        torch.testing.assert_close(b["latent"].float(), a["latent"].float(), atol=0.15, rtol=0.05)
        torch.testing.assert_close(b["text_emb"].float(), a["text_emb"].float(), atol=0.05, rtol=0.05)
