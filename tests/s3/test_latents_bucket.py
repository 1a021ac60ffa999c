"""`eidata latents` and `eidata text-embed` on a corpus in a bucket (DESIGN.md 3.2, `adapters.storage.derived`), against
the real S3 server, with a tiny random DINOv3 and a tiny Qwen3-VL: the files published equal the local run's byte for
byte (videos decoded from the bucket by ranged reads, bytes fetched per byte used measured), the catalog's
latents_ready follows the records, a rerun writes nothing; the driver SIGKILLed at a point of the protocol, then rerun,
leaves the objects of an uninterrupted run; a job holding the output refuses the stage before any work."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters.lerobot_format.files import load_info
from adapters.storage.corpus import Corpus
from adapters.storage.location import Location
from adapters.storage.object_store import ObjectStore
from adapters.storage.objects import list_keys, list_modified
from adapters.storage.root import Root
from adapters.storage.urls import filesystem
from ingest.lerobot.video_read import decode_frames
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.query import run_query
from jobs.cli import main
from jobs.runtime.stage import Usage
from jobs.stages.latents import LatentsStage, decode_episode
from jobs.stages.text_embed import TextEmbedJob, TextEmbedStage
from schemas.settings import ENV, Settings, current
from schemas.storage import OutputLeasedError
from tests.fixtures.dinov3 import write_tiny_dinov3
from tests.fixtures.qwen_vl import write_tiny_qwen3_vl
from tests.processes import group
from tests.s3.latents_child import latents_job
from tests.s3.server import S3Server, child_env
from tests.s3.test_bucket_stage import files, objects
from tests.s3.test_catalog import bucket_query, write_dataset

REPO = Path(__file__).resolve().parents[2]
CAMERAS = ["observation.images.head", "observation.images.wrist_right"]
DATASETS = {"datasets/demo/a": [9, 12, 7], "datasets/other/b": [5, 6]}
FILES = 2 * sum(map(len, DATASETS.values()))  # every episode's two cameras
LATENTS_SQL = "SELECT dataset, episode_index, latents_ready FROM episodes ORDER BY ALL"
TTL_S = 3.0


@pytest.fixture(autouse=True)
def short_lease(settings: Any, tmp_path: Path) -> None:
    settings(lease_ttl_s=TTL_S, scratch=str(tmp_path / "scratch"))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_dinov3(tmp_path_factory.mktemp("model") / "dinov3-tiny")


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    """The corpus on disk after a local latents run: the reference."""
    root = tmp_path_factory.mktemp("local")
    for rel, lengths in DATASETS.items():
        write_dataset(root / rel, lengths)
    rebuild_catalog(Corpus(root))
    report = LatentsStage(latents_job(root, model_dir)).run(progress=False)
    assert report.written == FILES and not report.failed
    return root


def bucket_corpus_at(s3: S3Server, url: str, scratch: Path) -> None:
    """The same corpus (before latents) ingested into the bucket through the publisher, with its catalog."""
    from jobs.catalog.build import rebuild_catalog

    with closing(ObjectStore(url, s3.options(), scratch=scratch)) as out:
        out.open()
        for rel, lengths in DATASETS.items():
            write_dataset(out.scratch / rel, lengths, on_commit=out.publisher(rel).on_commit)
        rebuild_catalog(Corpus(out.scratch, out.storage, out))
        out.publish_corpus()


def uncommitted(s3: S3Server, url: str) -> list[str]:
    """Latents objects no record names (what a killed job may leave until the next recovery)."""
    out = ObjectStore(url, s3.options())
    keys = []
    for rel in DATASETS:
        committed = out.publisher(rel).log.committed_keys()
        keys += [k for k in list_keys(out.fs, f"{out.path}/{rel}/latents") if k not in committed]
    return keys


@pytest.mark.shared_ray  # the in-process runs share one Ray (tests/ray_scope.py)
def test_latents_on_a_bucket_are_the_local_run_s_files(
    s3: S3Server,
    local: Path,
    model_dir: Path,
    prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"s3://out/{prefix}/corpus"
    bucket_corpus_at(s3, url, tmp_path / "ingest")
    report = LatentsStage(latents_job(url, model_dir)).run(progress=False, storage=s3.options())
    assert (report.written, report.skipped, report.failed) == (FILES, 0, [])
    assert objects(url, s3) == files(local)  # latents, videos, parquet, meta: the local run's bytes
    assert bucket_query(url, LATENTS_SQL, s3.options()) == run_query(local, LATENTS_SQL)
    videos = sum(len(v) for k, v in files(local).items() if k.endswith(".mp4"))
    # every video decoded once from the bucket: fetched per byte used, and against the videos' size
    with capsys.disabled():
        print(f"\nlatents from the bucket: {report.fetched} bytes fetched, {report.used} used, videos {videos} bytes")
    assert report.used > 0 and 0 < report.fetched <= 1.1 * videos
    assert not list(Path(current().scratch).rglob("*.safetensors"))  # published files leave the scratch

    fs, path = filesystem(url, s3.options())
    before = list_modified(fs, f"{path}/datasets")
    for k, v in s3.env().items():  # the command line takes the credential from the environment
        monkeypatch.setenv(k, v)
    assert main(["latents", url, "--model", str(model_dir), "--camera", "all"]) == 0
    assert f"0 episodes written (0 frames), {FILES} already done, 0 failed" in capsys.readouterr().out
    assert list_modified(fs, f"{path}/datasets") == before  # no record, no object written
    assert list_keys(fs, f"{path}/.eidata/lease") == []

    with pytest.raises(Usage, match="never replaced"):
        LatentsStage(latents_job(url, model_dir).model_copy(update={"overwrite": True})).run(storage=s3.options())


def test_a_running_job_refuses_the_stage_before_any_work(
    s3: S3Server, model_dir: Path, prefix: str, tmp_path: Path
) -> None:
    url = f"s3://out/{prefix}/corpus"
    bucket_corpus_at(s3, url, tmp_path / "ingest")
    with closing(ObjectStore(url, s3.options(), scratch=tmp_path / "held", job="ingest")) as held:
        held.open()
        with pytest.raises(OutputLeasedError, match="ingest"):
            LatentsStage(latents_job(url, model_dir)).run(progress=False, storage=s3.options())
    assert uncommitted(s3, url) == [] and not [k for k in objects(url, s3) if "/latents/" in k]


def test_a_decode_task_reads_a_video_in_the_bucket_by_ranges(
    s3: S3Server, model_dir: Path, prefix: str, tmp_path: Path
) -> None:
    """What a decode task does with each video of the bucket corpus: the frames of the local file, decoded by PyAV
    from ranged reads of the object (no copy); bytes fetched per byte used measured."""
    local = tmp_path / "local"
    for rel, lengths in DATASETS.items():
        write_dataset(local / rel, lengths)
    url = f"s3://out/{prefix}/corpus"
    bucket_corpus_at(s3, url, tmp_path / "ingest")
    job = latents_job(local, model_dir)
    rows = LatentsStage(job).plan(Corpus(local))
    assert len(rows) == FILES
    fetched = used = size = 0
    in_bucket = Corpus(local, Root(url, s3.options()))  # the same paths, read where the bucket keeps them
    for row in rows:
        want = decode_episode(row, rate_hz=job.rate_hz, preprocess=job.preprocess.model_dump(), corpus=Corpus(local))
        got = decode_episode(row, rate_hz=job.rate_hz, preprocess=job.preprocess.model_dump(), corpus=in_bucket)
        assert got["error"] == "" and np.array_equal(got["frames"], want["frames"]), got["error"]
        assert (want["fetched"], want["used"]) == (0, 0)  # a local file: nothing fetched
        fetched, used, size = fetched + got["fetched"], used + got["used"], size + Path(row["video"]).stat().st_size
    print(f"\n{FILES} videos, {size} bytes: {fetched} fetched, {used} used ({fetched / used:.3f} fetched per used)")
    assert used > 0 and fetched <= size  # each object read at most once, never past its end


def test_any_stage_opens_an_episode_video_of_the_bucket_where_it_lies(
    s3: S3Server, prefix: str, tmp_path: Path
) -> None:
    """`Corpus.open_file` (for the VLM captions' frames too): in a bucket's scratch corpus the object read by ranges,
    in a local corpus the path; the frames are the local file's."""
    local = tmp_path / "local"
    write_dataset(local / "datasets/demo/a", [9])
    url = f"s3://out/{prefix}/corpus"
    bucket_corpus_at(s3, url, tmp_path / "ingest")
    video = "datasets/demo/a/" + load_info(local / "datasets/demo/a/meta/info.json").video_file(0, CAMERAS[0])
    want = [rgb for _, rgb in decode_frames(local / video, [0, 4, 8])]
    with Corpus(local).open_file(local / video) as src:
        assert src == str(local / video)
    with Corpus.open(url, s3.options(), "caption", scratch=tmp_path / "scratch") as corpus:
        root = corpus.root
        assert not (root / video).exists()  # the scratch holds no episode file
        with Location.metering() as meter, corpus.open_file(root / video) as src:
            assert getattr(src, "name", None) == f"{url}/{video}"
            got = [rgb for _, rgb in decode_frames(src, [0, 4, 8])]
    assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))
    assert meter.fetched == (local / video).stat().st_size


# each point costs a child with its own Ray (20-40 s here) and a rerun: one in `make test`, the rest with --runslow
KILLS = ["record"]
SLOW_KILLS = ["local", "object", "end"]


@pytest.mark.shared_ray
# slow: every kill point (~30 s each); make test keeps the ingest publisher's kill points on the bucket (test_publish,
# test_commit), whose put-then-record path derived files share (DatasetPublisher.publish_files)
@pytest.mark.slow
@pytest.mark.parametrize("kill", [*KILLS, *SLOW_KILLS])
def test_sigkill_of_the_driver_then_rerun_gives_the_same_objects(
    s3: S3Server, local: Path, model_dir: Path, prefix: str, kill: str, tmp_path: Path
) -> None:
    url = f"s3://out/{prefix}/corpus"
    bucket_corpus_at(s3, url, tmp_path / "ingest")
    env = {
        **child_env(s3),
        "RAY_AUTH_MODE": "disabled",
        "RAY_USAGE_STATS_ENABLED": "0",
        ENV: Settings(lease_ttl_s=TTL_S, scratch=str(tmp_path / "killed-scratch")).model_dump_json(),
    }
    cmd = [sys.executable, "-m", "tests.s3.latents_child", url, str(model_dir), "--kill", kill]
    err = tmp_path / "driver.err"  # a file, not a pipe: the orphaned Ray processes would hold a pipe open
    # the group killed after: the embedded Ray the dead driver left
    with err.open("w") as stderr, group(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr) as proc:
        proc.wait(timeout=300)
    assert proc.returncode == -signal.SIGKILL, err.read_text()[-3000:]
    killed = objects(url, s3)
    # the kill did cut the stage short (at `end` every record was put: only the catalog is behind)
    assert (killed == files(local)) == (kill == "end")
    if kill == "object":
        assert uncommitted(s3, url)  # a put with no record: garbage for the rerun's recovery

    time.sleep(TTL_S + 1)  # the dead driver's lease goes stale
    report = LatentsStage(latents_job(url, model_dir)).run(progress=False, storage=s3.options())
    assert report.written + report.skipped == FILES and not report.failed
    assert objects(url, s3) == files(local)
    assert uncommitted(s3, url) == []
    assert bucket_query(url, LATENTS_SQL, s3.options()) == run_query(local, LATENTS_SQL)


@pytest.mark.slow  # ~16 s; make test keeps latents on a bucket (the same derived-file publish path)
@pytest.mark.shared_ray
def test_text_embeddings_on_a_bucket_are_the_local_run_s_files(
    s3: S3Server, prefix: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    model = write_tiny_qwen3_vl(tmp_path_factory.mktemp("qwen") / "qwen3vl-tiny")
    local = tmp_path / "local"
    for rel, lengths in DATASETS.items():
        write_dataset(local / rel, lengths)
    assert TextEmbedStage(TextEmbedJob(root=local, model=model, batch_size=1)).run(progress=False).written == 4
    url = f"s3://out/{prefix}/corpus"
    bucket_corpus_at(s3, url, tmp_path / "ingest")
    job = TextEmbedJob(root=url, model=model, batch_size=1)  # a record per text: several records
    report = TextEmbedStage(job).run(progress=False, storage=s3.options())
    assert (report.written, report.skipped, report.failed) == (4, 0, [])
    assert objects(url, s3) == files(local)
    again = TextEmbedStage(job).run(progress=False, storage=s3.options())
    assert (again.written, again.skipped) == (0, 4)
