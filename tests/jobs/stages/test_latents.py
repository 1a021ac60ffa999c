"""`eidata latents` on embedded Ray with a tiny random DINOv3 (real layout: 384 wide, 4 registers): every file
follows the contract, the batched pipeline equals one-by-one model calls, a broken video costs its episode only,
reruns do only what is missing, temp files never count, and the catalog's latents_ready follows the files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from adapters.lerobot_format.files import load_info
from adapters.storage.atomic import temp_path
from adapters.storage.corpus import Corpus
from ingest.encoders.dinov3.frames import PreprocessConfig, resize_frames
from ingest.encoders.dinov3.model import EncoderSpec, load_encoder
from ingest.lerobot.video_read import decode_frames
from jobs.catalog.query import run_query
from jobs.cli import main
from jobs.runtime.job_lock import JobLock, JobLockedError
from jobs.runtime.ray_pool import place_actors
from jobs.runtime.stage import Failed
from jobs.stages.latents import (
    DECODE_RESOURCES,
    LatentsEncoder,
    LatentsJob,
    LatentsReport,
    LatentsStage,
    decode_episode,
    expected_meta,
    select_video_keys,
)
from schemas.image_latents import latent_frame_indices, latents_file
from tests.fixtures.dinov3 import normalize_frames, preprocess, write_tiny_dinov3
from tests.fixtures.episodes import write_canonical_dataset
from tests.fixtures.readback import read_latents

pytestmark = pytest.mark.shared_ray  # the module's jobs run on one Ray (tests/ray_scope.py)

LENGTHS = {"datasets/alpha/one": [23, 12], "datasets/beta/two": [17, 9]}
CAMERAS = ["observation.images.head", "observation.images.wrist_right"]
BROKEN = ("datasets/beta/two", 1, "observation.images.head")
RATE = LatentsJob.model_fields["rate_hz"].default  # the runs below leave --rate at its default


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_dinov3(tmp_path_factory.mktemp("model") / "dinov3-tiny")


def _job(root: Path, model_dir: Path, **kw: object) -> LatentsJob:
    # batches of 7 frames over calls of ~30 frames: chunks cross episode boundaries inside a call
    enc = EncoderSpec(model=str(model_dir), batch_size=7)
    return LatentsJob(root=root, encoder=enc, camera="all", frames_per_call=30, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> tuple[Path, object, bytes]:
    """A two-dataset corpus whose one head video is cut short, after a first latents run (and that run's report)."""
    root = tmp_path_factory.mktemp("corpus")
    for rel, lengths in LENGTHS.items():
        write_canonical_dataset(root / rel, lengths)
    ds, index, key = BROKEN
    video = root / ds / load_info(root / ds / "meta/info.json").video_file(index, key)
    original = video.read_bytes()
    video.write_bytes(original[: len(original) // 3])
    report = LatentsStage(_job(root, model_dir)).run(progress=False)
    return root, report, original


def _files(root: Path) -> dict[tuple[str, int, str], Path]:
    out = {}
    for rel, lengths in LENGTHS.items():
        info = load_info(root / rel / "meta/info.json")
        for index in range(len(lengths)):
            for key in CAMERAS:
                out[(rel, index, key)] = root / rel / latents_file(info, index, key)
    return out


def test_every_episode_gets_its_file_and_a_broken_video_only_its_own(corpus: tuple) -> None:
    root, report, _ = corpus
    files = _files(root)
    assert {k for k, p in files.items() if p.exists()} == set(files) - {BROKEN}
    assert report.written == 7 and report.skipped == 0 and len(report.failed) == 1
    assert "episode_000001.mp4" in report.failed[0] and "observation.images.head" in report.failed[0]
    assert report.frames == sum(len(latent_frame_indices(n, 10, RATE)) for n in [23, 12, 17, 9]) * 2 - 3


def test_files_follow_the_contract(corpus: tuple, model_dir: Path) -> None:
    root, _, _ = corpus
    for (rel, index, key), path in _files(root).items():
        if (rel, index, key) == BROKEN:
            continue
        want = latent_frame_indices(LENGTHS[rel][index], 10, RATE)
        with safe_open(str(path), framework="pt") as sf:
            assert sorted(sf.keys()) == ["cls_registers", "frame_index", "latents"]
            meta = sf.metadata()
        assert meta == {
            "format": "eidata-latents-1",
            "model": str(model_dir.resolve()),
            "image_size": "224",
            "rate_hz": str(RATE),
            "dtype": "bfloat16",
            "video_key": key,
            "episode_index": str(index),
            "patch_size": "16",
            "num_register_tokens": "4",
        }
        f = read_latents(path)
        assert f.latents.shape == (len(want), 196, 384) and f.latents.dtype == torch.bfloat16
        assert f.cls_registers.shape == (len(want), 5, 384) and f.cls_registers.dtype == torch.bfloat16
        assert f.frame_index.dtype == torch.int64 and f.frame_index.tolist() == want.tolist()


def test_batched_pipeline_equals_one_by_one_model_calls(corpus: tuple, model_dir: Path) -> None:
    root, _, _ = corpus
    model = load_encoder(EncoderSpec(model=str(model_dir)))
    cfg = PreprocessConfig()
    for (rel, index, key), path in _files(root).items():
        if (rel, index, key) == BROKEN:
            continue
        f = read_latents(path)
        video = root / rel / load_info(root / rel / "meta/info.json").video_file(index, key)
        with torch.inference_mode():
            pixels = [
                normalize_frames(resize_frames(frame[None], cfg), cfg)  # the wire's uint8, normalized
                for _, frame in decode_frames(video, f.frame_index.tolist())
            ]
            ref = torch.cat([model(pixel_values=x).last_hidden_state for x in pixels])
        # each frame alone through the fp32 model, rounded once to bf16: equal within bf16 rounding
        torch.testing.assert_close(f.latents, ref[:, 5:].bfloat16(), atol=1e-2, rtol=1e-2)
        torch.testing.assert_close(f.cls_registers, ref[:, :5].bfloat16(), atol=1e-2, rtol=1e-2)


def test_catalog_follows_the_files(corpus: tuple) -> None:
    root, _, _ = corpus
    rows = run_query(root, "SELECT dataset, episode_index, latents_ready FROM episodes ORDER BY ALL").to_pylist()
    assert len(rows) == 4 and all(r["latents_ready"] for r in rows)  # the broken episode has its wrist latents


def test_rerun_does_only_what_is_missing_then_nothing(corpus: tuple, model_dir: Path) -> None:
    root, _, original = corpus
    ds, index, key = BROKEN
    video = root / ds / load_info(root / ds / "meta/info.json").video_file(index, key)
    video.write_bytes(original)  # the video repaired
    before = {k: p.stat().st_mtime_ns for k, p in _files(root).items() if p.exists()}
    report = LatentsStage(_job(root, model_dir)).run(progress=False)
    assert (report.written, report.skipped, report.failed) == (1, 7, [])
    after = {k: p.stat().st_mtime_ns for k, p in _files(root).items()}
    assert set(after) == set(_files(root)) and all(after[k] == t for k, t in before.items())
    again = LatentsStage(_job(root, model_dir)).run(progress=False)
    assert (again.written, again.skipped, again.failed) == (0, 8, [])
    assert {k: p.stat().st_mtime_ns for k, p in _files(root).items()} == after


def test_a_temp_file_never_counts_as_done(corpus: tuple, model_dir: Path, tmp_path: Path) -> None:
    root, _, _ = corpus
    job = _job(root, model_dir)
    path = _files(root)[("datasets/alpha/one", 1, CAMERAS[0])]
    saved = path.read_bytes()
    path.unlink()
    temp = temp_path(path)
    temp.write_bytes(saved[: len(saved) // 2])  # what a job killed mid-write leaves
    try:
        rows = LatentsStage(job).plan(Corpus(root))
        assert [(r["dataset"], r["episode_index"], r["video_key"]) for r in rows] == [
            ("datasets/alpha/one", 1, CAMERAS[0])
        ]
        assert not temp.exists()  # swept by the planner (under the job lock)
    finally:
        path.write_bytes(saved)


def test_files_of_another_encoding_stop_the_job_unless_overwrite(corpus: tuple, model_dir: Path) -> None:
    root, _, _ = corpus
    with pytest.raises(Failed, match=r"8 latents files were made differently.*--overwrite") as e:
        LatentsStage(_job(root, model_dir, rate_hz=2.0)).run(progress=False)
    assert f"{RATE} Hz" in str(e.value) and "2.0 Hz" in str(e.value)
    job = _job(root, model_dir, rate_hz=2.0, overwrite=True)
    assert len(LatentsStage(job).plan(Corpus(root))) == 8


def test_cli_usage_errors(corpus: tuple, model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, _, _ = corpus
    assert main(["latents", str(root)]) == 2
    assert "no encoder weights. Pass --model DIR" in capsys.readouterr().err
    assert main(["latents", str(root), "--model", str(model_dir), "--rate", "20"]) == 2
    assert "above the dataset's 10.0 fps" in capsys.readouterr().err
    assert main(["latents", str(root / "nowhere"), "--model", str(model_dir)]) == 2
    assert main(["latents", str(root), "--model", str(root)]) == 2
    assert "no config.json" in capsys.readouterr().err
    assert main(["latents", str(root), "--model", str(model_dir), "--camera", "all"]) == 0  # all done: no work
    assert "0 episodes written" in capsys.readouterr().out


def test_camera_selection() -> None:
    keys = ["observation.images.wrist_right", "observation.images.third_person", "observation.images.head"]
    assert select_video_keys(keys, "main") == ["observation.images.head"]
    assert select_video_keys(keys[:2], "main") == ["observation.images.third_person"]
    assert select_video_keys(["observation.images.cam_x"], "main") == ["observation.images.cam_x"]
    assert select_video_keys(keys, "all") == keys
    assert select_video_keys(keys, "wrist_right,head") == ["observation.images.wrist_right", "observation.images.head"]
    assert select_video_keys(keys, "observation.images.head") == ["observation.images.head"]
    assert select_video_keys(keys, "wrist_left") == []


def test_one_job_per_corpus(corpus: tuple, model_dir: Path) -> None:
    root, _, _ = corpus
    with JobLock(root, "latents"), pytest.raises(JobLockedError, match="another latents job"):
        LatentsStage(_job(root, model_dir)).run(progress=False)
    assert np.isfinite(LatentsStage(_job(root, model_dir)).run(progress=False).seconds)


def test_frames_travel_as_uint8_and_decode_tasks_ask_for_no_gpu(corpus: tuple) -> None:
    root, _, _ = corpus
    rel = "datasets/alpha/one"
    info = load_info(root / rel / "meta/info.json")
    row = {
        "dataset": rel,
        "episode_index": 0,
        "video_key": CAMERAS[0],
        "length": 23,
        "fps": 10.0,
        "video": str(root / rel / info.video_file(0, CAMERAS[0])),
        "out": "unused",
    }
    out = decode_episode(row, rate_hz=3.0, preprocess=PreprocessConfig().model_dump(), corpus=Corpus(root))
    n = len(latent_frame_indices(23, 10, 3))
    assert out["error"] == "" and out["frames"].dtype == np.uint8 and out["frames"].shape == (n, 3, 224, 224)
    assert out["frames"].nbytes == n * 150_528  # 150 KB a frame: half of bf16 pixel values, a quarter of fp32
    # placement on a cluster (`--address`): decode on any node with a free CPU, encoders only where a GPU is
    assert DECODE_RESOURCES["num_cpus"] == 1 and not DECODE_RESOURCES.get("num_gpus")
    gpu = place_actors("auto", None, {"CPU": 64.0, "GPU": 2.0})
    assert gpu.device == "cuda" and gpu.actors == 2 and gpu.resources == {"num_gpus": 1, "num_cpus": 1}


def test_actor_writes_what_host_normalization_gave_bit_for_bit(model_dir: Path, tmp_path: Path) -> None:
    """The actor (no Ray: the callable itself) on uint8 frames at the model's size writes exactly the tensors the
    job wrote before: float32 pixel values normalized on the host, concatenated over the call, cut into batches of
    `batch_size`, cast to bf16. (The files' headers may list the metadata in another order: safetensors writes its
    metadata map in hash order, so bytes are compared tensor by tensor.)"""
    rng = np.random.default_rng(7)
    sizes = [5, 2, 6]
    frames = [rng.integers(0, 256, (n, 224, 224, 3), dtype=np.uint8) for n in sizes]
    spec = EncoderSpec(model=str(model_dir), batch_size=4)  # 13 frames: batches 4, 4, 4, 1 across the episodes
    job = LatentsJob(root=tmp_path, encoder=spec)
    meta = expected_meta(job).model_dump(exclude={"video_key", "episode_index"})
    actor = LatentsEncoder(spec.model_dump(), job.preprocess.model_dump(), meta, threads=1)
    outs = [tmp_path / f"ep{i}.safetensors" for i in range(3)]
    batch = {
        "dataset": np.array(["d"] * 3),
        "episode_index": np.arange(3),
        "video_key": np.array([CAMERAS[0]] * 3),
        "out": np.array([str(p) for p in outs]),
        "error": np.array(["", "", ""], dtype=object),
        "frame_index": [np.arange(n) * 3 for n in sizes],
        "frames": [resize_frames(f, job.preprocess).numpy() for f in frames],
    }
    result = actor(batch)
    assert list(result["error"]) == ["", "", ""] and result["frames"].tolist() == sizes
    pixels = torch.cat([preprocess(f, job.preprocess) for f in frames])  # the old path: fp32 wire
    with torch.inference_mode():
        ref = torch.cat(
            [actor.encoder.net.model(pixel_values=pixels[i : i + 4]).last_hidden_state for i in range(0, 13, 4)]
        ).bfloat16()
    ends = np.cumsum([0, *sizes])
    for i, path in enumerate(outs):
        f = read_latents(path)
        assert torch.equal(f.latents, ref[ends[i] : ends[i + 1], 5:])
        assert torch.equal(f.cls_registers, ref[ends[i] : ends[i + 1], :5])


@pytest.mark.gpu
def test_cuda_actors_match_the_cpu_files(corpus: tuple, model_dir: Path, tmp_path: Path) -> None:
    import shutil

    root, _, _ = corpus
    gpu_root = tmp_path / "corpus"
    shutil.copytree(root, gpu_root, ignore=shutil.ignore_patterns("job"))
    enc = EncoderSpec(model=str(model_dir), batch_size=256)
    job = LatentsJob(root=gpu_root, encoder=enc, camera="all", device="cuda", overwrite=True)
    report = LatentsStage(job).run(progress=False)
    done = {k: p for k, p in _files(root).items() if p.exists()}  # the broken video, unless repaired, has no file
    assert report.written == len(done) and report.written + len(report.failed) == 8
    for key, path in done.items():
        cpu, gpu = read_latents(path), read_latents(_files(gpu_root)[key])
        assert torch.equal(cpu.frame_index, gpu.frame_index) and gpu.meta.model == cpu.meta.model
        # bf16 autocast against fp32: a few bf16 ulps on LayerNorm-scale outputs
        torch.testing.assert_close(gpu.latents.float(), cpu.latents.float(), atol=0.1, rtol=0.05)


def test_the_summary_never_says_zero_frames_a_second() -> None:
    """Issue 59: a slow CPU run read "0 frames/s"; nothing written has no rate."""
    assert "(12 frames, 0.4 frames/s)" in LatentsReport(written=1, frames=12, seconds=30.0).summary()
    assert "0 episodes written (0 frames), " in LatentsReport(seconds=3.0).summary()
