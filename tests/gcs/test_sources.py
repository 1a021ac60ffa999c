"""Every source of `make demo`'s raw corpus, put in a bucket of the GCS emulator and read from `gs://`, gives the same
episodes as from local disk (the comparison of tests/s3/test_sources.py: refs, streams, signals, camera frames bit for
bit); real files of their makers larger than one read block (Octo's Bridge RLDS tfrecord shards, GR00T's H.264 mp4s)
too, with what the store sent measured against what the readers used (bytes fetched per byte used)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from adapters.storage.location import Location, locate
from tests.gcs.server import GcsServer
from tests.realdata import realdata
from tests.store_cases import URL_SOURCES, check_source_reads_as_from_disk, compare_source, demo_corpus, put_url


def _put(gcs: GcsServer, folder: Path, base: str) -> str:
    return put_url(folder, f"gs://{base}", gcs.options())


@pytest.fixture(scope="module")
def corpus(gcs: GcsServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    raw = tmp_path_factory.mktemp("raw")
    return demo_corpus(raw, f"gs://raw/demo-{raw.name}", gcs.options())


@pytest.mark.parametrize("name", URL_SOURCES)
def test_source_from_gcs_reads_as_from_disk(corpus: dict[str, Any], name: str) -> None:
    check_source_reads_as_from_disk(corpus, name)


@pytest.mark.parametrize(
    ("sample", "adapter", "limit"),
    [("octo_bridge_debug_rlds", "oxe", 0), ("gr00t_robot_sim_picknplace", "lerobot", 3)],
)
def test_real_samples_from_gcs_read_as_from_disk(
    gcs: GcsServer, prefix: str, sample: str, adapter: str, limit: int
) -> None:
    # Octo's two Bridge tfrecord shards (3.4 MB each, read front to back in 8 MiB blocks); GR00T's LeRobot v2.1
    # episodes (parquet and H.264 mp4s of 0.7-1.1 MB, opened seekable in 1 MiB blocks)
    folder = realdata(sample)
    url = _put(gcs, folder, f"raw/{prefix}/{sample}")
    refs, listed, meter = compare_source(
        adapter, None, folder, url, (url, str(folder)), limit=limit, storage=gcs.options()
    )
    assert len(refs) >= 3
    print(f"{sample}: discover {listed}, read {meter}")
    assert 0 < meter.fetched <= meter.size and meter.fetched <= 1.2 * meter.used, meter


def test_one_mp4_decoded_from_gcs_fetches_it_once(gcs: GcsServer, prefix: str) -> None:
    # one real GR00T mp4 (1.1 MB, two 1 MiB blocks) decoded whole by PyAV from a seekable file object
    video = realdata("gr00t_robot_sim_picknplace/videos/chunk-000/observation.images.ego_view/episode_000000.mp4")
    url = _put(gcs, video.parent, f"raw/{prefix}/mp4")
    with av.open(str(video)) as c:
        local = [frame.to_ndarray(format="rgb24") for frame in c.decode(video=0)]
    with Location.metering() as meter, locate(f"{url}/{video.name}", gcs.options()).readable() as f, av.open(f) as c:
        remote = [frame.to_ndarray(format="rgb24") for frame in c.decode(video=0)]
    assert len(local) == len(remote) > 10 and all(np.array_equal(a, b) for a, b in zip(local, remote, strict=True))
    print(f"mp4 {video.name}: {meter}")
    assert meter.fetched == meter.size == video.stat().st_size and meter.fetched <= 1.2 * meter.used, meter
