"""Training from a manifest whose corpus is in a bucket (adapters/storage/corpus_files.py, object_cache.py), against
the SeaweedFS server: the training tests' corpus (tests/training/corpus.py: real writer, catalog and curate) is put
in the bucket object by object; the index, the statistics and the batches are those of the same corpus on disk bit for
bit; a second epoch fetches nothing; the cache stays within its bound while DataLoader workers share it; a refused
credential stops `train` and `eidata train` before any work, never naming the secret."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from s3fs import S3FileSystem
from torch.utils.data import DataLoader

from adapters.storage.corpus_files import CorpusFiles
from adapters.storage.urls import filesystem
from jobs.runtime.options import add_options
from jobs.train import TRAIN_OPTIONS, cli_train
from schemas.storage import StorageError, StorageOptions
from tests.fixtures.readback import fetched_bytes, used_bytes
from tests.s3.server import SECRET_KEY, S3Server
from tests.training.corpus import MANIFEST, TEXT_DIM, build_corpus, tiny_config
from tests.training.reads import bytes_used
from training.config import PRESETS, DataConfig
from training.dataset import ManifestDataset, collate
from training.episodes import SampleIndex, build_index
from training.evaluate import evaluate
from training.normalize import compute_stats
from training.trainer import CONFIG, METRICS, train

MODEL = PRESETS["tiny"].model.model_copy(update={"text_dim": TEXT_DIM})
MB = 1 << 20


@pytest.fixture(scope="module")
def corpus(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The training corpus on disk and the same files in the bucket (every file of the corpus folder)."""
    local = build_corpus(tmp_path_factory.mktemp("train-s3") / "corpus")
    root = local.parent.parent
    url = f"s3://raw/{tmp_path_factory.mktemp('p').name}/corpus"
    fs, base = filesystem(url, s3.options())
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        fs.pipe_file(f"{base}/{path.relative_to(root).as_posix()}", path.read_bytes())
    return {"local": local, "url": f"{url}/manifests/{MANIFEST}", "options": s3.options()}


def _remote_index(corpus: dict[str, Any], cache_dir: Path, cache_bytes: int = 1 << 30, workers: int = 0) -> SampleIndex:
    data = DataConfig(num_workers=workers, cache_dir=str(cache_dir), cache_bytes=cache_bytes)
    return build_index(corpus["url"], "train", MODEL, data, storage=corpus["options"])


def _batches(index: SampleIndex, stats: Any, workers: int, n: int | None = None) -> list[dict[str, torch.Tensor]]:
    """Every sample once in a fixed shuffled order (one epoch), or the first `n` batches of it."""
    dataset = ManifestDataset(index, stats, MODEL, index.manifest.routing, seed=3)
    order = np.random.default_rng(7).permutation(len(index))
    loader = DataLoader(
        dataset, batch_size=8, sampler=[(int(i), int(i)) for i in order], num_workers=workers, collate_fn=collate
    )
    out = []
    for batch in loader:
        out.append(batch)
        if n is not None and len(out) == n:
            break
    return out


def _equal(a: list[dict[str, torch.Tensor]], b: list[dict[str, torch.Tensor]]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for key in x:
            assert x[key].dtype == y[key].dtype and torch.equal(x[key], y[key]), key


def test_the_bucket_index_and_batches_equal_the_local_ones(corpus: dict[str, Any], tmp_path: Path) -> None:
    local = build_index(corpus["local"], "train", MODEL, DataConfig(num_workers=0))
    remote = _remote_index(corpus, tmp_path / "cache")
    assert isinstance(remote.files, CorpusFiles) and remote.files.cache is not None and local.files.cache is None
    assert remote.datasets == local.datasets and remote.text_dim == local.text_dim
    for key in ("sample_episode", "sample_anchor", "sample_future"):
        assert np.array_equal(getattr(remote, key), getattr(local, key)), key
    assert [e.uid for e in remote.episodes] == [e.uid for e in local.episodes]
    assert remote.report.summary() == local.report.summary()
    assert all(str(e.latents_path).startswith("s3://raw/") for e in remote.episodes)
    # the index read meta, listings and latents headers: no latents tensor, no parquet byte
    latents_total = sum(Path(e.latents_path).stat().st_size for e in local.episodes)
    assert remote.files.meter.fetched < latents_total / 10
    # manifest.json + entries; per dataset 3 listings + info/episodes/tasks; one GET per latents and text header
    texts = {e.text_path for e in local.episodes if e.text_path is not None}
    assert remote.files.meter.requests == 2 + 6 * len(local.datasets) + len(local.episodes) + len(texts)
    stats = compute_stats(remote)
    assert stats == compute_stats(local)
    _equal(_batches(remote, stats, workers=0, n=4), _batches(local, stats, workers=0, n=4))


def test_a_second_epoch_fetches_nothing(corpus: dict[str, Any], tmp_path: Path) -> None:
    """Two DataLoader workers share the cache; what all processes fetched is the cache's fetch log."""
    remote = _remote_index(corpus, tmp_path / "cache", workers=2)
    index_fetched = remote.files.meter.fetched
    cache = remote.files.cache
    assert cache is not None and fetched_bytes(cache) == 0
    stats = compute_stats(remote)  # episodes_stats.jsonl; the parquet projections: footer + two column chunks, ranged
    stats_fetched = remote.files.meter.fetched - index_fetched
    assert 0 < fetched_bytes(cache) < stats_fetched  # the projections are in the fetch log
    before = fetched_bytes(cache)
    epoch1 = _batches(remote, stats, workers=2)
    fetched1 = fetched_bytes(cache) - before
    epoch2 = _batches(remote, stats, workers=2)
    assert fetched_bytes(cache) == before + fetched1  # epoch 2: 0 bytes from the bucket
    _equal(epoch1, epoch2)
    local = build_index(corpus["local"], "train", MODEL, DataConfig(num_workers=0))
    _equal(epoch1, _batches(local, stats, workers=0))
    used = bytes_used(local)
    total = index_fetched + stats_fetched + fetched1
    print(
        f"\nbucket corpus, {len(remote)} samples of {len(remote.episodes)} episodes: index {index_fetched} B "
        f"(meta, listings, latents headers), statistics {stats_fetched} B (parquet footers + action/state chunks), "
        f"epoch 1 {fetched1} B (latents and text copied whole), epoch 2 0 B; fetched {total} B / used {used} B "
        f"= {total / used:.3f}"
    )
    assert total / used < 1.2


def test_the_cache_stays_within_its_bound(corpus: dict[str, Any], tmp_path: Path) -> None:
    """A bound below the working set: files are evicted least recently used first, the batches are still the local
    ones, the second epoch fetches again, and entries plus reservations never exceed the bound."""
    probe = _remote_index(corpus, tmp_path / "probe")
    largest = max(size for size, _ in probe.files._objects.values())
    bound = 3 * largest
    remote = _remote_index(corpus, tmp_path / "cache", cache_bytes=bound, workers=2)
    stats = compute_stats(remote)
    cache = remote.files.cache
    assert cache is not None
    dataset = ManifestDataset(remote, stats, MODEL, remote.manifest.routing, seed=3)
    order = np.random.default_rng(7).permutation(len(remote))
    loader = DataLoader(
        dataset, batch_size=8, sampler=[(int(i), int(i)) for i in order], num_workers=2, collate_fn=collate
    )
    peak, epoch = 0, []
    for batch in loader:
        peak = max(peak, used_bytes(cache))
        epoch.append(batch)
    assert 0 < peak <= bound
    local = build_index(corpus["local"], "train", MODEL, DataConfig(num_workers=0))
    _equal(epoch, _batches(local, stats, workers=0))
    fetched1 = fetched_bytes(cache)
    _batches(remote, stats, workers=0)
    assert fetched_bytes(cache) > fetched1  # the working set does not fit: evicted files come back
    assert used_bytes(cache) <= bound and not list((cache.root / "tmp").iterdir())


def test_training_and_eval_from_the_bucket_take_the_local_steps(corpus: dict[str, Any], tmp_path: Path) -> None:
    """A 2-step run and `evaluate` of its checkpoint: the same losses and metrics from the bucket as from disk."""
    data = DataConfig(num_workers=0, cache_dir=str(tmp_path / "cache"))
    runs = {}
    for name, manifest, storage in (
        ("local", corpus["local"], None),
        ("bucket", corpus["url"], corpus["options"]),
    ):
        cfg = tiny_config(manifest, data=data, schedule_steps=2)
        runs[name] = train(cfg, tmp_path / name, device="cpu", storage=storage)
    assert runs["bucket"].loss == runs["local"].loss
    local_log = (tmp_path / "local" / METRICS).read_text().splitlines()
    bucket_log = (tmp_path / "bucket" / METRICS).read_text().splitlines()
    losses = [
        [{k: v for k, v in json.loads(line).items() if k.startswith("loss")} for line in log]
        for log in (local_log, bucket_log)
    ]
    assert losses[0] == losses[1]
    assert SECRET_KEY not in (tmp_path / "bucket" / CONFIG).read_text()
    reports = [
        evaluate(runs[name].checkpoint, manifest, "val", max_samples=16, batch_size=8, device="cpu", storage=storage)
        for name, manifest, storage in (("local", corpus["local"], None), ("bucket", corpus["url"], corpus["options"]))
    ]
    assert reports[0]["samples"] > 0 and reports[0]["metrics"] == reports[1]["metrics"]


def test_a_refused_credential_stops_training_before_any_work(
    corpus: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = StorageOptions(
        endpoint_url=corpus["options"].endpoint_url, access_key_id="eidata-test-key", secret_access_key="not-it-123"
    )
    cfg = tiny_config(corpus["url"], data=DataConfig(num_workers=0, cache_dir=str(tmp_path / "cache")))
    with pytest.raises(StorageError, match="credential refused") as err:
        train(cfg, tmp_path / "run", device="cpu", storage=wrong)
    assert corpus["url"] in str(err.value) and "not-it-123" not in str(err.value)
    assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()
    # `eidata train`: the standard variables, refused before a run folder or a cache is made; exit 2
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", corpus["options"].endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "eidata-test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-it-456")
    S3FileSystem.clear_instance_cache()  # fsspec keeps one instance per arguments: the variables are read at creation
    p = argparse.ArgumentParser()
    add_options(p, TRAIN_OPTIONS)
    args = p.parse_args(
        ["--manifest", corpus["url"], "--out", str(tmp_path / "cli"), "--cache-dir", str(tmp_path / "c2")]
    )
    assert cli_train(args) == 2
    out = capsys.readouterr()
    assert "credential refused" in out.err and corpus["url"] in out.err
    assert "not-it-456" not in out.err + out.out and SECRET_KEY not in out.err + out.out
    assert not (tmp_path / "cli").exists() and not (tmp_path / "c2").exists()


def test_eidata_train_reads_a_bucket_manifest_with_the_standard_variables(
    corpus: dict[str, Any],
    tmp_path: Path,
    s3: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in s3.env().items():
        monkeypatch.setenv(key, value)
    S3FileSystem.clear_instance_cache()
    p = argparse.ArgumentParser()
    add_options(p, TRAIN_OPTIONS)
    run = tmp_path / "run"
    flags = ["--steps", "1", "--num-workers", "0", "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"]
    assert cli_train(p.parse_args(["--manifest", corpus["url"] + "/", "--out", str(run), *flags])) == 0
    saved = json.loads((run / CONFIG).read_text())
    assert saved["manifest"] == corpus["url"] and saved["data"]["cache_dir"] == str(tmp_path / "cache")
    out = capsys.readouterr()
    assert "trained to step 1" in out.out and SECRET_KEY not in out.out + out.err + (run / CONFIG).read_text()
    # a resume names the same manifest (the URL, trailing slash or not)
    args = p.parse_args(["--manifest", corpus["url"], "--out", str(run), "--resume", *flags[:1], "2", *flags[2:]])
    assert cli_train(args) == 0
