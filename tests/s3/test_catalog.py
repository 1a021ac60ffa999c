"""`eidata query` and `curate` over a corpus whose catalog is in a bucket, against a real S3 server: the catalog's
parts are read from `adapters.storage.corpus.Corpus.read`'s local copy and answer as the same catalog on disk, curate
writes the manifest the same catalog on disk gives; the catalog rebuilt from commit records matches the one hashed from
files; a wrong credential is named before any query runs."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from s3fs import S3FileSystem

import jobs.cli
from adapters.storage.corpus import Corpus
from adapters.storage.object_store import ObjectStore
from adapters.storage.objects import list_modified
from adapters.storage.urls import filesystem
from ingest.lerobot.writer import LeRobotWriter
from jobs.catalog.build import catalog_snapshot_hash, cli_catalog, rebuild_catalog
from jobs.catalog.census import CatalogMismatchError, open_catalog, write_census
from jobs.catalog.curate import curate
from jobs.catalog.manifest_read import entries_file, load_manifest
from jobs.catalog.parts import write_quarantine_part
from jobs.catalog.query import cli_query, run_query
from schemas.corpus import EPISODES_DIR, QuarantineRow
from schemas.lerobot import EPISODES_PATH
from schemas.manifest import Manifest
from schemas.storage import StorageError, StorageOptions
from tests.fixtures.episodes import canonical_frames, canonical_test_features, write_canonical_dataset
from tests.s3.server import SECRET_KEY, S3Server
from tests.store_cases import bucket_query, put_url

SQL = {
    "episodes": "SELECT episode_uid, dataset, episode_index, num_frames, tier, content_hash FROM episodes ORDER BY 1",
    "quarantine": "SELECT source, raw_path, stage, message FROM quarantine ORDER BY 1",
    "joined": "SELECT count(*) AS n, sum(duration_s) AS s FROM episodes e WHERE NOT EXISTS "
    "(SELECT 1 FROM quarantine q WHERE q.episode_uid = e.episode_uid)",
}


def write_dataset(root: Path, lengths: list[int], on_commit: Callable[[dict], None] | None = None) -> None:
    with LeRobotWriter.create(root, fps=10, features=canonical_test_features(), robot_type="franka") as w:
        w.on_commit = on_commit
        for ep, n in enumerate(lengths):
            with w.episode(task=f"task {ep % 2}") as b:
                for frame in canonical_frames(n, seed=ep):
                    b.add_frame(frame)


@pytest.fixture(scope="module")
def corpus(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A corpus on disk (a dataset written by the writer, its catalog rebuilt, a quarantine part) and its catalog
    put under `s3://out/catalog-corpus/`."""
    root = tmp_path_factory.mktemp("corpus")
    write_canonical_dataset(root / "datasets/demo/default", [9, 12, 7])
    assert rebuild_catalog(Corpus(root)) == 3
    row = QuarantineRow(
        source="demo",
        adapter="lerobot",
        raw_path="/raw/demo/3",
        stage="read",
        error_class="CorruptRecordError",
        message="CRC mismatch",
        quarantined_at=datetime(2026, 11, 23, tzinfo=UTC),
    )
    write_quarantine_part(root, [row], "run-00000")
    fs, _ = filesystem("s3://", s3.options())
    for p in sorted((root / "catalog").rglob("*.parquet")):
        if not any(part.startswith(".") for part in p.relative_to(root).parts):
            fs.pipe_file(f"out/catalog-corpus/{p.relative_to(root).as_posix()}", p.read_bytes())
    # the bucket holds the catalog alone, no dataset's commit records: its census says so (`jobs.catalog.census`)
    census = write_census(tmp_path_factory.mktemp("census"), {})
    fs.pipe_file(f"out/catalog-corpus/{EPISODES_DIR}/{census.name}", census.read_bytes())
    return root, "s3://out/catalog-corpus"


@pytest.mark.parametrize("query", sorted(SQL))
def test_query_over_the_bucket_answers_as_on_disk(s3: S3Server, corpus: tuple[Path, str], query: str) -> None:
    local, url = corpus
    on_disk = run_query(local, SQL[query])
    assert on_disk.num_rows > 0
    assert bucket_query(url, SQL[query], s3.options()) == on_disk


def test_a_bucket_query_reads_no_other_object(s3: S3Server, corpus: tuple[Path, str]) -> None:
    """The catalog's parts are the only objects a query reads: another object of the corpus is neither copied nor
    readable by the locked connection."""
    fs, _ = filesystem("s3://", s3.options())
    fs.pipe_file("out/catalog-corpus/secret.csv", b"word\nTOP-SECRET\n")
    with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
        bucket_query(corpus[1], "SELECT * FROM read_csv('s3://out/catalog-corpus/secret.csv')", s3.options())
    with Corpus.read(corpus[1], s3.options()) as c:
        assert not (c.root / "secret.csv").exists()


def test_an_empty_bucket_prefix_is_named_not_queried(s3: S3Server, prefix: str) -> None:
    with pytest.raises(StorageError, match="nothing under"):
        bucket_query(f"s3://out/{prefix}", "SELECT count(*) AS n FROM episodes", s3.options())


def test_cli_names_a_refused_credential_before_querying(
    s3: S3Server, corpus: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    args = argparse.Namespace(root=corpus[1], sql="SELECT count(*) AS n FROM episodes", format="csv")
    assert cli_query(args) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "3"]
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    S3FileSystem.clear_instance_cache()  # fsspec reuses a filesystem made with the same arguments (the env differs)
    assert cli_query(args) == 2
    err = capsys.readouterr().err
    assert corpus[1] in err and SECRET_KEY not in err and "not-the-secret" not in err
    assert StorageOptions(secret_access_key=SECRET_KEY).model_dump()["secret_access_key"] == "**********"


def test_catalog_rebuilt_from_records_matches_the_local_one(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    """A dataset published to the bucket and the same dataset on disk: the bucket's catalog, rebuilt from the commit
    records without fetching an episode file, has the rows the local rebuild hashes from the files."""
    lengths, rel = [9, 12, 7], "datasets/demo/default"
    write_dataset(tmp_path / "local" / rel, lengths)
    rebuild_catalog(Corpus(tmp_path / "local"))
    url = f"s3://out/{prefix}"
    with closing(ObjectStore(url, s3.options(), scratch=tmp_path / "scratch", ttl_s=30)) as out:
        out.open()
        write_dataset(out.scratch / rel, lengths, on_commit=out.publisher(rel).on_commit)
        assert rebuild_catalog(Corpus(out.scratch, out.storage, out)) == 3
        out.publish_corpus()
    sql = "SELECT * EXCLUDE (ingested_at) FROM episodes ORDER BY episode_uid"
    assert bucket_query(url, sql, s3.options()) == run_query(tmp_path / "local", sql)
    fs, path = filesystem(url, s3.options())
    modified = list_modified(fs, f"{path}/datasets/demo/default/data")
    got = bucket_query(url, "SELECT episode_index, ingested_at FROM episodes ORDER BY 1", s3.options()).to_pylist()
    assert [r["ingested_at"] for r in got] == [
        modified[f"{path}/datasets/demo/default/data/chunk-000/episode_{i:06d}.parquet"] for i in range(3)
    ]


def test_curate_over_the_bucket_writes_the_local_manifest(s3: S3Server, corpus: tuple[Path, str]) -> None:
    """One catalog on disk and in the bucket: one snapshot hash, the same entries bytes, the same manifest but for
    its creation time; the manifest's conditional create refuses a second curate of the name."""
    local, url = corpus
    where = "num_frames > 8"
    on_disk = curate(local, "pick", where)
    in_bucket = curate(url, "pick", where, options=s3.options())
    assert in_bucket == f"{url}/manifests/pick"
    with Corpus.read(url, s3.options()) as c:
        assert catalog_snapshot_hash(c.root) == catalog_snapshot_hash(local)
    fs, path = filesystem(in_bucket, s3.options())
    assert fs.cat_file(f"{path}/{entries_file(on_disk).name}") == entries_file(on_disk).read_bytes()
    got, want = Manifest.model_validate_json(fs.cat_file(f"{path}/manifest.json")), load_manifest(on_disk)
    assert got.num_entries == 2 and got.model_dump(exclude={"created_at"}) == want.model_dump(exclude={"created_at"})
    with pytest.raises(FileExistsError, match="already exists"):
        curate(url, "pick", where, options=s3.options())
    assert curate(url, "pick", "true", options=s3.options(), overwrite=True) == in_bucket
    assert Manifest.model_validate_json(fs.cat_file(f"{path}/manifest.json")).num_entries == 3


def test_eidata_catalog_over_a_bucket(
    s3: S3Server, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`eidata catalog s3://...` rebuilds the catalog of a bucket output from its records and puts it there; a job
    holding the output refuses it."""
    for k, v in s3.env().items():
        monkeypatch.setenv(k, v)
    S3FileSystem.clear_instance_cache()
    url, rel = f"s3://out/{prefix}", "datasets/demo/default"
    with closing(ObjectStore(url, s3.options(), scratch=tmp_path / "scratch", ttl_s=30)) as out:
        out.open()
        write_dataset(out.scratch / rel, [9, 12, 7], on_commit=out.publisher(rel).on_commit)
        assert cli_catalog(argparse.Namespace(root=url)) == 1  # the job holds the output
        assert "is being written by job 'ingest'" in capsys.readouterr().err
    assert bucket_query(url, "SELECT count(*) AS n FROM episodes", s3.options()).to_pylist() == [{"n": 0}]
    assert cli_catalog(argparse.Namespace(root=url)) == 0
    assert "catalog: 3 episodes from 1 datasets" in capsys.readouterr().out
    write_dataset(tmp_path / "local" / rel, [9, 12, 7])
    rebuild_catalog(Corpus(tmp_path / "local"))
    sql = "SELECT * EXCLUDE (ingested_at) FROM episodes ORDER BY episode_uid"
    assert bucket_query(url, sql, s3.options()) == run_query(tmp_path / "local", sql)


def test_a_corpus_put_in_a_bucket_by_a_plain_copy_is_read_and_its_census_checked(
    s3: S3Server, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A corpus folder copied file by file into a bucket (as `aws s3 cp --recursive` does: no commit record, new
    times): its catalog's census holds, as the folder's does (issue 67 item 8 refused it, naming every dataset
    "not in the corpus"); a dataset then deleted, changed or copied in is still named."""
    local = tmp_path / "corpus"
    write_dataset(local / "datasets/demo/default", [9, 12, 7])
    write_dataset(local / "datasets/demo/other", [5])
    assert rebuild_catalog(Corpus(local)) == 4
    url = put_url(local, f"s3://out/{prefix}/plain", s3.options())
    for key, value in s3.env().items():
        monkeypatch.setenv(key, value)
    assert jobs.cli.main(["query", url, "SELECT count(*) AS n FROM episodes", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "4"]
    fs, path = filesystem(url, s3.options())
    jsonl = f"{path}/datasets/demo/default/{EPISODES_PATH}"
    kept = fs.cat_file(jsonl)
    cases = {
        "changed": (
            lambda: fs.pipe_file(jsonl, kept + b'{"episode_index": 3, "tasks": ["x"], "length": 2}\n'),
            f"datasets/demo/default changed since the catalog was built ({EPISODES_PATH} is",
        ),
        "deleted": (
            lambda: fs.rm(f"{path}/datasets/demo/default", recursive=True),
            "datasets/demo/default is cataloged (3 episodes) but not in the corpus",
        ),
        "copied in": (
            lambda: put_url(local / "datasets/demo/other", f"{url}/datasets/demo/third", s3.options()),
            "datasets/demo/third is in the corpus but not in the catalog",
        ),
    }
    for change, said in cases.values():
        change()
        with pytest.raises(CatalogMismatchError, match=re.escape(said)):
            with open_catalog(url, "query", s3.options()):
                pass
