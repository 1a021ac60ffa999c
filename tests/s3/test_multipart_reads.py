"""Ranged reads of an object put in parts stay bounded (adapters/storage/location.py): a 20 MiB object of four 5 MiB
parts read through `readable` fetches the blocks around what is read, across part boundaries too, never the whole
object; a long read goes to the store as one ranged GET; a front-to-back stream holds one block ahead."""

from __future__ import annotations

import random

import pytest

from adapters.storage.location import Location, locate
from adapters.storage.multipart import PartPlan, put_file_if_absent
from adapters.storage.reads import SEEK_BLOCK, STREAM_BLOCK
from adapters.storage.urls import filesystem
from tests.s3.server import S3Server

PART = 5 << 20
SIZE = 4 * PART - 999  # four parts, the last short


@pytest.fixture(scope="module")
def big(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    path = tmp_path_factory.mktemp("multipart-reads") / "episode_000000.mp4"
    data = random.Random("reads").randbytes(SIZE)
    path.write_bytes(data)
    fs, _ = filesystem("s3://", s3.options())
    assert put_file_if_absent(
        fs, "out/multipart-reads/episode_000000.mp4", path, PartPlan(PART, PART), claim="out/multipart-reads-claim"
    )[0]
    return "s3://out/multipart-reads/episode_000000.mp4", data


def test_seeks_across_part_boundaries_fetch_blocks_not_the_object(s3: S3Server, big: tuple[str, bytes]) -> None:
    url, data = big
    with Location.metering() as meter, locate(url, s3.options()).readable() as f:
        assert not isinstance(f, str)
        for boundary in (PART, 2 * PART, 3 * PART):  # 200 bytes straddling each part boundary
            f.seek(boundary - 100)
            assert f.read(200) == data[boundary - 100 : boundary + 100]
        f.seek(SIZE - 50)
        assert f.read(100) == data[-50:]  # the end of the last, short part
    assert meter.used == 3 * 200 + 50
    assert meter.fetched <= 4 * 2 * SEEK_BLOCK, meter  # at most the two blocks around each read
    assert meter.fetched < SIZE // 2


def test_a_long_read_is_one_ranged_get(s3: S3Server, big: tuple[str, bytes]) -> None:
    url, data = big
    start, n = PART - 12_345, 2 * PART + 6_789  # spans three parts
    with Location.metering() as meter, locate(url, s3.options()).readable() as f:
        assert not isinstance(f, str)
        f.seek(start)
        assert f.read(n) == data[start : start + n]
    assert meter.requests == 1 and meter.fetched == n


def test_a_stream_holds_one_block_ahead(s3: S3Server, big: tuple[str, bytes]) -> None:
    url, data = big
    with Location.metering() as meter, locate(url, s3.options()).readable(stream=True) as f:
        assert not isinstance(f, str)
        head = f.read(1 << 20)
    assert head == data[: 1 << 20]
    assert meter.fetched <= (1 << 20) + STREAM_BLOCK < SIZE
