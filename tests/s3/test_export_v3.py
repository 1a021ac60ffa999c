"""`eidata export --format lerobot-v3` with a corpus in a bucket and with `--out` in a bucket, against the real S3
server: the export read from the bucket corpus (its episode files by ranged GETs, never copied) is the local corpus's
export byte for byte, per dataset and for a manifest; the export published to a bucket is the local export's files
object for object, and lerobot 0.6.1 (the v3.0 oracle) loads it; a run SIGKILLed after some of its objects, or after
`info.json` before the completion record, leaves no tree marked complete, and its rerun leaves the objects of an
uninterrupted run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from s3fs import S3FileSystem

from adapters.storage.location import Location
from jobs.catalog.curate import curate
from jobs.cli import main
from jobs.export.lerobot_v3.job import export_corpus
from schemas.settings import ENV, Settings
from schemas.storage import MARKER
from tests.fixtures.corpus import episode, write_dataset
from tests.s3.export_corpus import bucket_tree, corpus_pair, fetch, tree
from tests.s3.server import S3Server

MANIFEST = "all"
CHILD = Path(__file__).with_name("export_child.py")
TTL_S = 2.0


def write_corpus(root: Path) -> None:
    """Two robots' datasets whose natives differ (a manifest keeps the common features) and a human one."""
    tasks = ["pick", "open the drawer", "pick"]
    franka = [
        {**episode(6 + i, t, f"oxe/bridge/e{i}", "franka"), "native": np.full((6 + i, 2), i)}
        for i, t in enumerate(tasks)
    ]
    write_dataset(root / "datasets/oxe/bridge", "franka", franka, native_state_names=["j0", "j1"])
    human = [
        {**episode(5, t, f"egodex/basic/h{i}", "human"), "native": np.ones((5, 1))}
        for i, t in enumerate(["fold", "pick"])
    ]
    write_dataset(root / "datasets/egodex/basic", "human", human, native_state_names=["camera.x"])


@pytest.fixture(scope="module")
def corpora(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The corpus on disk and in the bucket, each with the manifest `all` curated from its own catalog."""
    tmp = tmp_path_factory.mktemp("v3-bucket")
    url = f"s3://out/{tmp.name}/corpus"
    local = corpus_pair(write_corpus, s3, url, tmp)
    curate(local, MANIFEST, "true", val_fraction=0.0)
    curate(url, MANIFEST, "true", val_fraction=0.0, options=s3.options())
    return local, url


@pytest.fixture(scope="module")
def local_exports(corpora: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    local, _ = corpora
    out = tmp_path_factory.mktemp("v3-local-out")
    assert {s for s, _ in export_corpus(local, out).values()} == {"written"}
    assert export_corpus(local, out / "m", manifest=MANIFEST)[MANIFEST][0] == "written"
    return out


def test_the_export_of_a_bucket_corpus_is_the_local_corpus_s(
    s3: S3Server, corpora: tuple[Path, str], local_exports: Path, tmp_path: Path
) -> None:
    _, url = corpora
    out = tmp_path / "from-bucket"
    with Location.metering() as meter:
        results = export_corpus(url, out, storage=s3.options())
        results |= export_corpus(url, out / "m", manifest=MANIFEST, storage=s3.options())
    assert {s for s, _ in results.values()} == {"written"}, results
    assert tree(out, skip=(MARKER,)) == tree(local_exports, skip=(MARKER,))  # every file, byte for byte
    # what the export read of the bucket: each episode object opened once per export (two exports), and the manifest's
    # data files once more for its masked stats (jobs/export/lerobot_v3/masked_stats.py reads each file once and keeps
    # what its later passes need), never copied: fetched at most once per opening, and what the readers took is all of
    # what was fetched of these small files
    episode_bytes = sum(p.stat().st_size for p in (corpora[0] / "datasets").rglob("episode_*.*"))
    data_bytes = sum(p.stat().st_size for p in (corpora[0] / "datasets").rglob("episode_*.parquet"))
    assert meter.size == 2 * episode_bytes + data_bytes  # the manifest is every episode ("true")
    assert meter.fetched <= meter.size and meter.used >= meter.fetched * 0.5
    ratio = meter.fetched / max(meter.used, 1)
    print(f"\nv3 from the bucket: {meter.fetched} B fetched, {meter.requests} GETs, {meter.used} B used ({ratio:.2f})")
    # a rerun from the bucket: the fingerprint is the meta's bytes, not the temporary view's times
    assert {s for s, _ in export_corpus(url, out, storage=s3.options()).values()} == {"unchanged"}


def test_an_export_to_a_bucket_is_the_local_export_and_lerobot_loads_it(
    s3: S3Server, corpora: tuple[Path, str], local_exports: Path, prefix: str, run_oracle_v30, tmp_path: Path
) -> None:
    local, _ = corpora
    out = f"s3://out/{prefix}/v3"
    assert {s for s, _ in export_corpus(local, out, storage=s3.options()).values()} == {"written"}
    assert export_corpus(local, f"{out}/m", manifest=MANIFEST, storage=s3.options())[MANIFEST][0] == "written"
    assert bucket_tree(out, s3) == tree(local_exports)  # the completion records too: same sources, same fingerprint
    assert {s for s, _ in export_corpus(local, out, storage=s3.options()).values()} == {"unchanged"}

    got = fetch(out, s3, tmp_path / "fetched")
    roots = [got / "oxe/bridge", got / "egodex/basic", got / "m" / MANIFEST]
    results = run_oracle_v30("check", *roots, "--dump", tmp_path / "dump", timeout=600)
    for i, root in enumerate(roots):
        info = json.loads((root / "meta/info.json").read_text())
        r = results[str(root)]
        assert (r["num_episodes"], r["num_frames"]) == (info["total_episodes"], info["total_frames"])
        assert r["streaming_seen"] == list(range(info["total_frames"]))
        loaded = np.load(tmp_path / "dump" / f"{i}.npz")["col:action"]
        written = np.concatenate([np.stack(t.column("action").to_pylist()) for t in _data_tables(root)])
        assert np.array_equal(loaded, written)


def _data_tables(root: Path) -> list:
    return [pq.read_table(p) for p in sorted((root / "data").rglob("*.parquet"))]


@pytest.fixture(autouse=True)
def scratch(settings: Any, tmp_path: Path) -> None:
    settings(scratch=str(tmp_path / "scratch"))  # a bucket --out's scratch, not ~/.cache


def _env(s3: S3Server) -> dict[str, str]:
    return {**os.environ, **s3.env(), ENV: Settings(lease_ttl_s=TTL_S).model_dump_json()}


@pytest.mark.parametrize("kill", ["3", "info"])
def test_a_killed_export_to_a_bucket_reruns_to_the_same_objects(
    s3: S3Server,
    corpora: tuple[Path, str],
    prefix: str,
    kill: str,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The manifest export with 1 kB file limits (every episode a new data, video and episodes file): killed after
    its third object, or after its `info.json` but before its completion record."""
    import jobs.export.lerobot_v3.write as w

    local, _ = corpora
    ref, out = f"s3://out/{prefix}/ref", f"s3://out/{prefix}/killed"
    monkeypatch.setattr(w, "MB", 1024)
    assert export_corpus(local, ref, manifest=MANIFEST, data_mb=1, video_mb=1, storage=s3.options())
    argv = [sys.executable, str(CHILD), str(local), out, MANIFEST, "--kill", kill, "--scratch", str(tmp_path / "s")]
    proc = subprocess.run(argv, env=_env(s3), capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    left = bucket_tree(out, s3)
    assert f"{MANIFEST}/{MARKER}" not in left  # nothing says complete
    assert (f"{MANIFEST}/meta/info.json" in left) == (kill == "info")
    time.sleep(TTL_S + 0.5)  # the killed run's lease goes stale
    settings(lease_ttl_s=TTL_S)
    result = export_corpus(local, out, manifest=MANIFEST, data_mb=1, video_mb=1, storage=s3.options())
    assert result[MANIFEST][0] == "written"
    assert bucket_tree(out, s3) == bucket_tree(ref, s3)


def test_the_cli_reads_and_writes_buckets_with_the_environment_s_credential(
    s3: S3Server, corpora: tuple[Path, str], local_exports: Path, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = corpora
    for k, v in s3.env().items():
        monkeypatch.setenv(k, v)
    S3FileSystem.clear_instance_cache()  # s3fs reads the variables when an instance is made
    out = f"s3://out/{prefix}/cli"
    assert main(["export", url, "--format", "lerobot-v3", "--out", out]) == 0
    want = {k: v for k, v in tree(local_exports, skip=(MARKER,)).items() if not k.startswith("m/")}
    assert bucket_tree(out, s3, skip=(MARKER,)) == want
    assert (
        main(["export", url.replace("s3://out/", "s3://no-such-bucket/"), "--format", "lerobot-v3", "--out", out]) == 2
    )
