"""`eidata export --format lingbot-va` from a corpus in a bucket to `--out` in a bucket, against the real S3 server
(embedded Ray, the tiny random-weight Wan2.2 models of tests/fixtures/wan.py, the small corpus of
tests/jobs/export/lingbot/corpus.py): the objects are the local export's files byte for byte, each exported dataset
closed by its completion record; a rerun keeps every dataset and puts nothing; a run stopped in the middle of
publishing a dataset (an error raised after its third object: the state a kill leaves, with the lease released) leaves
no completion record, and its rerun leaves the objects of the uninterrupted run."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters.storage.corpus import Corpus
from adapters.storage.location import Location
from adapters.storage.object_store import ObjectStore
from adapters.storage.objects import list_modified
from adapters.storage.urls import filesystem
from jobs.export.lingbot.job import run_lingbot_export
from jobs.export.lingbot.plan import DatasetTally, check_models, plan_dataset, work_item
from jobs.export.lingbot.work import prepare_episode
from schemas.storage import MARKER, SOURCE_KEY
from tests.fixtures.wan import write_tiny_wan
from tests.jobs.export.lingbot.corpus import EGO, FRANKA, write_small_corpus
from tests.jobs.export.lingbot.test_job import _spec  # the same job settings as the local export's tests
from tests.s3.export_corpus import bucket_tree, corpus_pair, tree
from tests.s3.server import S3Server

pytestmark = pytest.mark.shared_ray  # the exports run on one Ray (tests/ray_scope.py)

LOCK = "export-lingbot-va.lock"  # the local job lock (jobs.runtime.job_lock): the scratch's, never published


class Stop(Exception):
    """Raised by the patched put: the run stops where a kill would have stopped it."""


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_tiny_wan(tmp_path_factory.mktemp("wan"))


@pytest.fixture(scope="module")
def corpora(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("lingbot-bucket")
    url = f"s3://out/{tmp.name}/corpus"
    return corpus_pair(write_small_corpus, s3, url, tmp), url


def test_an_episode_is_read_from_the_bucket_by_ranges(
    s3: S3Server, corpora: tuple[Path, str], models: dict[str, Path], tmp_path: Path
) -> None:
    """One episode's work read from the bucket (its parquet by ranges, its video streamed into the output and the
    frames of its latent files decoded from that copy): what the local corpus gives, and what it fetched against what
    its readers used."""
    local, url = corpora
    prepared = []
    for root, storage in ((local, None), (url, s3.options())):
        with Corpus.read(root, storage, meta=True) as corpus, Location.metering() as meter:
            spec = _spec(corpus.root, tmp_path / f"out-{len(prepared)}", models)
            plan = plan_dataset(corpus, FRANKA, spec, check_models(spec), DatasetTally())
            item = work_item(plan, plan.entries[0], spec, DatasetTally())
            prepared.append(prepare_episode(pickle.loads(pickle.dumps(item))))  # as a Ray task gets it
    a, b = prepared
    assert a["error"] is None and b["error"] is None and a["stats"] == b["stats"]
    assert [x["plan"] for x in a["latents"]] == [x["plan"] for x in b["latents"]]
    assert all(np.array_equal(x["pixels"], y["pixels"]) for x, y in zip(a["latents"], b["latents"], strict=True))
    assert tree(tmp_path / "out-0") == tree(tmp_path / "out-1")  # the frame table and the copied video
    # each object fetched once: the parquet read by ranges, the video streamed into the output
    assert meter.fetched <= meter.size and meter.used > 0
    print(f"\nlingbot episode from the bucket: {meter.fetched} B fetched, {meter.used} B used, objects {meter.size} B")


# slow: ~32 s; make test keeps the lingbot episode read from the bucket (above) and the v3 export to and from a bucket
@pytest.mark.slow
def test_bucket_to_bucket_export_is_the_local_export(
    s3: S3Server,
    corpora: tuple[Path, str],
    models: dict[str, Path],
    prefix: str,
    tmp_path: Path,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings(scratch=str(tmp_path / "scratch"))
    local, url = corpora
    local_out = tmp_path / "out"
    want = run_lingbot_export(_spec(local, local_out, models), progress=False)
    assert not want.errors and want.tallies[FRANKA].written > 0

    out = f"s3://out/{prefix}/lingbot"
    got = run_lingbot_export(_spec(url, out, models), progress=False, storage=s3.options())
    assert not got.errors
    assert {k: (t.episodes, t.segments, t.written, t.short) for k, t in got.tallies.items()} == {
        k: (t.episodes, t.segments, t.written, t.short) for k, t in want.tallies.items()
    }
    objects = bucket_tree(out, s3)
    assert {k for k in objects if k.endswith(MARKER)} == {f"{FRANKA}/{MARKER}"}  # the actionless clip is skipped
    assert {k: v for k, v in objects.items() if not k.endswith(MARKER)} == tree(local_out, skip=(LOCK,))
    assert not (local_out / EGO).exists()

    fs, path = filesystem(out, s3.options())
    # the record names the dataset as the user gave the corpus, never the scratch its local copy was read in
    assert json.loads(fs.cat_file(f"{path}/{FRANKA}/{MARKER}"))[SOURCE_KEY] == f"{url}/{FRANKA}"
    stamps = list_modified(fs, path)
    again = run_lingbot_export(_spec(url, out, models), progress=False, storage=s3.options())
    assert again.tallies[FRANKA].written == 0 and again.tallies[FRANKA].kept == want.tallies[FRANKA].written
    assert list_modified(fs, path) == stamps  # nothing put again

    # stopped after the third object of the dataset; the rerun finishes it over what was left
    stopped = f"s3://out/{prefix}/stopped"
    real = ObjectStore.put_file
    count = {"n": 0}

    def put_then_stop(self: ObjectStore, tree_: str, local_: Path, **kw: Any) -> None:
        real(self, tree_, local_, **kw)
        count["n"] += tree_ == FRANKA
        if count["n"] == 3:
            raise Stop

    monkeypatch.setattr(ObjectStore, "put_file", put_then_stop)
    with pytest.raises(Stop):
        run_lingbot_export(_spec(url, stopped, models), progress=False, storage=s3.options())
    monkeypatch.setattr(ObjectStore, "put_file", real)
    left = bucket_tree(stopped, s3)
    assert f"{FRANKA}/{MARKER}" not in left and 0 < len(left) < len(objects)
    rerun = run_lingbot_export(_spec(url, stopped, models), progress=False, storage=s3.options())
    assert not rerun.errors
    assert bucket_tree(stopped, s3) == objects
