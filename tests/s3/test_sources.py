"""Every source of `make demo`'s raw corpus, put in a bucket of the real S3 server and read from `s3://`, gives the
same episodes as from local disk: the same refs (subsets, ids, flagged episodes and their reasons), and per episode
every stream, signal, language entry, hand declaration and camera frame equal bit for bit. What the bucket reads
fetched is measured against what the readers used (bytes read per byte used) and bounded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters import get_adapter
from adapters.storage.location import Location, locate
from jobs.demo.corpus import OPTIONS
from tests.realdata import realdata
from tests.s3.server import S3Server
from tests.store_cases import URL_SOURCES, check_source_reads_as_from_disk, compare_source, demo_corpus, put_url, same


@pytest.fixture(scope="module")
def corpus(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    raw = tmp_path_factory.mktemp("raw")
    return demo_corpus(raw, f"s3://raw/demo-{raw.name}", s3.options())


@pytest.mark.parametrize("name", URL_SOURCES)
def test_source_from_the_bucket_reads_as_from_disk(corpus: dict[str, Any], name: str) -> None:
    check_source_reads_as_from_disk(corpus, name)


def test_lerobot_loader_checks_from_the_bucket_find_what_they_find_on_disk(corpus: dict[str, Any]) -> None:
    from adapters.lerobot_format.checks import loader_checks

    swap = (corpus["base"], str(corpus["raw"]))
    for subset in ("franka_cube", "so101_pick"):  # v2.1 (one parquet footer unreadable) and v3.0
        local = get_adapter("lerobot", OPTIONS["lerobot"]).dataset(corpus["roots"]["lerobot"] / subset)
        remote = get_adapter("lerobot", OPTIONS["lerobot"]).dataset(
            locate(f"{corpus['urls']['lerobot']}/{subset}", corpus["storage"])
        )
        checks = loader_checks(local)
        assert checks or local.quirks  # something to compare: the demo's datasets are not spotless
        same(checks, loader_checks(remote), f"lerobot {subset} checks", swap)
        same(local.quirks, remote.quirks, f"lerobot {subset} quirks", swap)


def _put_tree(s3: S3Server, folder: Path, base: str) -> str:
    return put_url(folder, f"s3://{base}", s3.options())


@pytest.mark.parametrize(
    ("sample", "adapter"), [("gr00t_robot_sim_picknplace", "lerobot"), ("octo_bridge_debug_rlds", "oxe")]
)
def test_real_samples_from_the_bucket_read_as_from_disk(s3: S3Server, prefix: str, sample: str, adapter: str) -> None:
    # real files of their makers (tests/REAL_SAMPLES.md): a GR00T LeRobot v2.1 dataset (H.264 mp4s of about 1 MB) and
    # Octo's Bridge RLDS shards (3.4 MB), larger than one 1 MiB block
    folder = realdata(sample)
    url = _put_tree(s3, folder, f"raw/{prefix}/{sample}")
    _, listed, meter = compare_source(adapter, None, folder, url, (url, str(folder)), limit=3, storage=s3.options())
    print(f"{sample}: discover {listed}, read {meter}")
    assert 0 < meter.fetched <= meter.size and meter.fetched <= 1.2 * meter.used, meter


def test_real_agibot_proprio_h5_from_the_bucket(s3: S3Server, prefix: str) -> None:
    from adapters.agibot.proprio import read_proprio

    folder = realdata("agibot_proprio_stats_real")  # one real AgiBot World proprio_stats.h5, 2 MB
    url = _put_tree(s3, folder, f"raw/{prefix}/agibot")

    def fail(message: str, field: str) -> Exception:
        return AssertionError(f"{field}: {message}")

    local = read_proprio(locate(folder / "proprio_stats.h5"), fail)
    with Location.metering() as meter:
        remote = read_proprio(locate(f"{url}/proprio_stats.h5", s3.options()), fail)
    same(local, remote, "proprio", (url, str(folder)))
    print(f"agibot proprio_stats.h5: {meter}")
    assert 0 < meter.fetched <= meter.size and meter.fetched <= 1.2 * meter.used, meter


def test_validate_a_lerobot_folder_in_the_bucket_as_on_disk(corpus: dict[str, Any]) -> None:
    from jobs.validate import validate_path

    swap = (corpus["base"], str(corpus["raw"]))
    local = validate_path(corpus["roots"]["lerobot"])
    remote = validate_path(locate(corpus["urls"]["lerobot"], corpus["storage"]))
    assert [r.root for r in local] == [r.root.replace(*swap) for r in remote] and len(local) == 2
    for a, b in zip(local, remote, strict=True):
        same(a.model_dump(), b.model_dump(), f"validate {a.root}", swap)
    assert any(r.failed(False) for r in local)  # the demo's unreadable parquet is an error either way
