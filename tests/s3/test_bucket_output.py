"""A corpus output in a bucket (`adapters.storage.object_store`) against a real S3 server: a job's datasets, quarantine
and spec reach the bucket; the next job, on an empty scratch folder (another machine), finds the scratch rebuilt from
the bucket and continues the datasets where their records end; two jobs on one output: the second is refused."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from adapters.storage.object_store import ObjectStore
from adapters.storage.objects import list_keys, list_prefixes, put
from adapters.storage.urls import filesystem
from ingest.lerobot.writer import LeRobotWriter
from schemas.corpus import FINISHED
from schemas.storage import OutputLeasedError
from tests.fixtures.episodes import canonical_frames, canonical_test_features
from tests.s3.server import S3Server

DATASETS = ["datasets/demo/a", "datasets/demo/b", "datasets/other/default"]


def write(out: ObjectStore, rel: str, lengths: list[int]) -> None:
    root = out.scratch / rel
    with LeRobotWriter.create_or_open(root, fps=10, features=canonical_test_features(), robot_type="franka") as w:
        w.on_commit = out.publisher(rel).on_commit
        for n in lengths:
            with w.episode(task=f"task {n}") as b:
                for frame in canonical_frames(n, seed=n):
                    b.add_frame(frame)


def test_a_job_then_its_rerun_elsewhere(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    url = f"s3://out/{prefix}"
    with closing(ObjectStore(url, s3.options(), scratch=tmp_path / "one", ttl_s=30)) as out:
        out.open()
        assert out.datasets() == []
        for rel in DATASETS[:2]:
            write(out, rel, [6])
        (out.scratch / "catalog/quarantine").mkdir(parents=True)
        (out.scratch / "catalog/quarantine/run-00000.parquet").write_bytes(b"rows")
        (out.scratch / "catalog/quarantine/.tmp-part").write_bytes(b"a killed write")
        (out.scratch / "job").mkdir()
        (out.scratch / "job/spec.yaml").write_text("output: " + url)
        (out.scratch / FINISHED).touch()
        with pytest.raises(OutputLeasedError, match=r"job 'ingest'"):
            ObjectStore(url, s3.options(), scratch=tmp_path / "two").open()
        written = out.publish_corpus()
        assert "catalog/quarantine/run-00000.parquet" in written and "job/spec.yaml" in written
        assert "datasets/demo/a/meta/info.json" in written
    fs, path = filesystem(url, s3.options())
    assert list_keys(fs, f"{path}/.eidata/lease") == []
    assert list_keys(fs, f"{path}/catalog") == [f"{path}/catalog/quarantine/run-00000.parquet"]
    assert list_prefixes(fs, f"{path}/datasets") == [f"{path}/datasets/demo"]

    with closing(ObjectStore(url, s3.options(), scratch=tmp_path / "two", ttl_s=30)) as again:
        again.open()
        assert again.datasets() == DATASETS[:2]
        assert (again.scratch / "catalog/quarantine/run-00000.parquet").read_bytes() == b"rows"
        assert (again.scratch / "job/spec.yaml").exists()
        assert (again.scratch / FINISHED).exists()  # the job before ran to its end
        assert list_keys(fs, f"{path}/job") == [f"{path}/job/spec.yaml"]  # the mark the running job's until its end
        with LeRobotWriter.open(again.scratch / DATASETS[0]) as w:
            assert w.num_episodes == 1
        write(again, DATASETS[0], [7])
        write(again, DATASETS[2], [5])
        (again.scratch / "catalog/quarantine/run-00000.parquet").unlink()  # a part the scratch no longer has
        again.publish_corpus()
    assert list_keys(fs, f"{path}/catalog") == []
    assert list_keys(fs, f"{path}/job") == [f"{path}/{FINISHED}", f"{path}/job/spec.yaml"]  # put back at the end
    info = fs.cat_file(f"{path}/{DATASETS[0]}/meta/info.json").decode()
    assert '"total_episodes": 2' in info
    assert len(list_keys(fs, f"{path}/{DATASETS[2]}/.eidata/commits")) == 1


def test_recovery_deletes_what_no_record_names(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    url = f"s3://out/{prefix}"
    with closing(ObjectStore(url, s3.options(), scratch=tmp_path / "one", ttl_s=30)) as out:
        out.open()
        write(out, DATASETS[0], [6])
    fs, path = filesystem(url, s3.options())
    stray = f"{path}/{DATASETS[0]}/videos/chunk-000/observation.images.head/episode_000001.mp4"
    put(fs, stray, b"a killed job's put")
    out = ObjectStore(url, s3.options(), scratch=tmp_path / "one", ttl_s=30)
    try:
        assert out.open() == [stray]
    finally:
        out.close()
