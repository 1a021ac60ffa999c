"""A corpus in a bucket revised (issue 98 items 3 and 4, `jobs.ingest.reread`, `jobs.ingest.remove`) on the real S3
server: the UR5e log read as `ur5e`, then re-read as `ur3e` with `--reread`, gives the episodes and quarantine rows a
folder's re-read gives, its dataset objects the folder's files byte for byte; a re-read killed with SIGKILL at each
of the local test's points (`tests/jobs/ingest/crash_reread.py`: in a bucket, `mid-swap` is the first object copied
in) then run again leaves the objects of an uninterrupted one; `eidata remove` takes the source out, and a removal
killed in its catalog's rebuild is finished by the same command. Ray runs: a first ingest and a re-read in a folder
and in the bucket, one killed re-read in a child (the other points are reached after its read: no Ray)."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import jobs.cli
from adapters.storage.objects import copy, list_keys
from adapters.storage.urls import filesystem
from jobs.catalog.query import run_query
from schemas.settings import ENV, Settings
from tests.fixtures.revisions import NOTTS, spec_of
from tests.s3.server import S3Server, child_env
from tests.store_cases import bucket_query

pytestmark = pytest.mark.shared_ray  # tests/ray_scope.py
REPO = Path(__file__).resolve().parents[2]
POINTS = ["after-read", "mid-swap", "mid-rows", "after-rows", "mid-catalog"]
CATALOG = "SELECT * EXCLUDE (ingested_at) FROM episodes ORDER BY episode_uid"
ROWS = "SELECT * EXCLUDE (quarantined_at) FROM quarantine ORDER BY episode_uid"
REREAD = ["--reread", "ur5e_logs"]


@dataclass
class Revised:
    s3: S3Server
    tmp: Path
    first: str  # the bucket corpus read as ur5e
    spec: Path  # the spec read as ur3e, writing `first` (`moved` writes elsewhere)
    reference: str  # `first` re-read as ur3e, uninterrupted
    folder: Path  # the same in a folder

    def moved(self, url: str) -> Path:
        """The ur3e spec writing the bucket corpus `url`."""
        path = self.tmp / f"spec-{url.rsplit('/', 1)[-1]}.yaml"
        path.write_text(self.spec.read_text().replace(self.first, url))
        return path


def bucket_spec(tmp: Path, robot: str, url: str, s3: S3Server) -> Path:
    """`tests.fixtures.revisions.spec_of`'s spec writing the bucket corpus `url` with the server's credential."""
    path = spec_of(tmp, {"columns": NOTTS, "robot": robot}, broken=True)
    spec = yaml.safe_load(path.read_text())
    given = {"endpoint_url": s3.endpoint, "access_key_id": s3.access_key, "secret_access_key": s3.secret_key}
    spec["output"], spec["output_storage"] = url, given
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def copied(s3: S3Server, src: str, dst: str) -> str:
    """Every object of the bucket corpus `src`, the protocol's own included, copied to `dst` (server-side)."""
    fs, path = filesystem(src, s3.options())
    to = filesystem(dst, s3.options())[1]
    for key in list_keys(fs, path):
        copy(fs, key, f"{to}/{key.removeprefix(path + '/')}")
    return dst


def objects(s3: S3Server, url: str) -> dict[str, bytes]:
    fs, path = filesystem(url, s3.options())
    return {k.removeprefix(path + "/"): fs.cat_file(k) for k in list_keys(fs, path)}


def state(s3: S3Server, url: str) -> tuple:
    """What a re-read must leave, byte for byte: every object of the corpus (its datasets' commit records included)
    but the catalog's parquet parts (their write times, a re-read's token in a part's name: compared by their rows)
    and the job folder's specs (they name the corpus's URL: compared by name), and nothing of the re-read's own."""
    held = objects(s3, url)
    kept = {k: hashlib.sha256(v).hexdigest() for k, v in held.items() if not k.startswith(("catalog/", "job/"))}
    job = sorted(k for k in held if k.startswith("job/"))
    options = s3.options()
    return (
        kept,
        job,
        held["job/readings.jsonl"],
        bucket_query(url, CATALOG, options).to_pylist(),
        bucket_query(url, ROWS, options).to_pylist(),
    )


@pytest.fixture(scope="module")
def revised(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Revised]:
    tmp = tmp_path_factory.mktemp("reread_bucket")
    base = f"s3://out/{tmp.name}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV, Settings(scratch=str(tmp / "scratch")).model_dump_json())
        # the folder's corpus `tmp/corpus`, read then re-read from the same raw folder (its path is in the lineage)
        assert jobs.cli.main(["ingest", str(spec_of(tmp, {"columns": NOTTS, "robot": "ur5e"}, broken=True))]) == 0
        assert jobs.cli.main(["ingest", str(spec_of(tmp, {"columns": NOTTS, "robot": "ur3e"})), *REREAD]) == 0
        first = f"{base}/first"
        assert jobs.cli.main(["ingest", str(bucket_spec(tmp, "ur5e", first, s3))]) == 0
        spec = bucket_spec(tmp, "ur3e", first, s3)
        revised = Revised(s3, tmp, first, spec, f"{base}/reference", tmp / "corpus")
        reference = copied(s3, first, revised.reference)
        assert jobs.cli.main(["ingest", str(revised.moved(reference)), *REREAD]) == 0
        yield revised


def test_a_re_read_on_a_bucket_gives_the_folder_s_episodes(revised: Revised) -> None:
    s3, url, folder = revised.s3, revised.reference, revised.folder
    held = objects(s3, url)
    datasets = {  # the datasets' files, the protocol's own records left out (a folder has none)
        k.removeprefix("datasets/"): hashlib.sha256(v).hexdigest()
        for k, v in held.items()
        if k.startswith("datasets/") and "/.eidata/" not in k
    }
    files = {
        str(p.relative_to(folder / "datasets")): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((folder / "datasets").rglob("*"))
        if p.is_file() and ".eidata" not in p.parts
    }
    assert datasets == files
    assert bucket_query(url, CATALOG, s3.options()) == run_query(folder, CATALOG)
    (row,) = bucket_query(url, "SELECT embodiment, reading FROM episodes", s3.options()).to_pylist()
    assert row["embodiment"] == "ur3e"
    assert bucket_query(url, ROWS, s3.options()) == run_query(folder, ROWS)  # the re-read's own quarantine row
    assert held["job/readings.jsonl"] == (folder / "job/readings.jsonl").read_bytes()  # ur5e, then ur3e
    assert not [k for k in held if k.startswith("reread/") or k == "job/reread.json"]


@pytest.fixture(scope="module")
def after_read(revised: Revised) -> str:
    """`first` re-read by a child SIGKILLed once its read committed (`after-read`): the state every later point
    starts from (its rerun reads nothing again)."""
    url = copied(revised.s3, revised.first, revised.first.replace("/first", "/after-read"))
    _killed(revised, url, "after-read")
    return url


def _killed(revised: Revised, url: str, point: str) -> None:
    from tests.processes import run_group

    env = {
        **child_env(revised.s3),
        "RAY_AUTH_MODE": "disabled",
        "RAY_USAGE_STATS_ENABLED": "0",
        ENV: Settings(scratch=str(revised.tmp / f"killed-{point}")).model_dump_json(),
    }
    args = ["ingest", str(revised.moved(url)), *REREAD]
    cmd = [sys.executable, "-m", "tests.jobs.ingest.crash_reread", point, *args]
    crashed = run_group(cmd, timeout=600, cwd=REPO, env=env, capture_output=True)
    assert crashed.returncode == -9, (crashed.returncode, crashed.stderr[-2000:])


@pytest.mark.scenario
@pytest.mark.parametrize("point", POINTS)
def test_a_re_read_killed_anywhere_then_rerun_is_the_uninterrupted_one(
    revised: Revised, after_read: str, point: str, settings, tmp_path: Path
) -> None:
    settings(scratch=str(tmp_path / "scratch"))
    url = copied(revised.s3, after_read, after_read.replace("/after-read", f"/killed-{point}"))
    if point != "after-read":
        _killed(revised, url, point)
    assert jobs.cli.main(["ingest", str(revised.moved(url)), *REREAD]) == 0  # the same command again
    assert state(revised.s3, url) == state(revised.s3, revised.reference)


def test_a_source_removed_from_a_bucket(
    revised: Revised, settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`eidata remove URL SOURCE` names the manifest that selects the source's episode, and, killed in its catalog's
    rebuild, is finished by the same command: nothing of the source is left, its readings say it was removed."""
    from tests.processes import run_group

    settings(scratch=str(tmp_path / "scratch"))
    for k, v in revised.s3.env().items():  # the command's credential: the AWS environment
        monkeypatch.setenv(k, v)
    s3, url = revised.s3, copied(revised.s3, revised.reference, revised.reference.replace("/reference", "/removed"))
    assert jobs.cli.main(["curate", url, "--name", "all", "--where", "true"]) == 0
    env = {**child_env(s3), ENV: Settings(scratch=str(tmp_path / "killed")).model_dump_json()}
    cmd = [sys.executable, "-m", "tests.jobs.ingest.crash_reread", "mid-catalog", "remove", url, "ur5e_logs"]
    crashed = run_group(cmd, timeout=300, cwd=REPO, env=env, capture_output=True)
    assert crashed.returncode == -9, (crashed.returncode, crashed.stderr[-2000:])
    capsys.readouterr()
    assert jobs.cli.main(["remove", url, "ur5e_logs"]) == 0
    out = capsys.readouterr().out
    assert "manifest all selected 1 of their episodes: remake it with `eidata curate`" in out, out
    held = objects(s3, url)
    assert not [k for k in held if k.startswith(("datasets/", "reread/")) or k in ("job/remove.json",)]
    assert held["job/readings.jsonl"].decode().splitlines()[-1] == '{"source": "ur5e_logs", "removed": true}'
    assert bucket_query(url, "SELECT count(*) n FROM episodes", s3.options()).to_pylist() == [{"n": 0}]
    assert bucket_query(url, "SELECT count(*) n FROM quarantine", s3.options()).to_pylist() == [{"n": 0}]
