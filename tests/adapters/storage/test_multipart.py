"""Which objects go in parts and how they are cut (adapters/storage/multipart.py), and the same promise on a local
output (an exclusive create) that tests/s3/test_multipart.py checks in parts against a real S3 server."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fsspec.implementations.local import LocalFileSystem

from adapters.storage.commit_log import digest_of
from adapters.storage.multipart import (
    MAX_PARTS,
    PartPlan,
    abort_uploads,
    holds,
    incomplete_uploads,
    put_file_if_absent,
)
from schemas.storage import MAX_PART_BYTES, MIN_PART_BYTES, StorageOptions

MIB = 1 << 20


@pytest.mark.parametrize("size", [1, 5 * MIB, 5 * MIB + 1, 64 * MIB * 3 - 7, 200 * MIB])
def test_parts_cover_the_object_in_order(size: int) -> None:
    plan = PartPlan(threshold=128 * MIB, part_size=64 * MIB)
    parts = plan.parts(size)
    assert [o for o, _ in parts] == [sum(n for _, n in parts[:i]) for i in range(len(parts))]  # contiguous
    assert sum(n for _, n in parts) == size
    assert all(n == 64 * MIB for _, n in parts[:-1]) and 0 < parts[-1][1] <= 64 * MIB


def test_an_object_of_more_than_ten_thousand_parts_gets_larger_parts() -> None:
    plan = PartPlan(threshold=128 * MIB, part_size=MIN_PART_BYTES)
    size = 100 * 1024 * MIB  # 100 GiB: 20,480 parts of 5 MiB
    parts = plan.parts(size)
    assert len(parts) <= MAX_PARTS and sum(n for _, n in parts) == size and parts[0][1] > MIN_PART_BYTES
    with pytest.raises(ValueError, match="10000 parts"):
        plan.parts(MAX_PARTS * MAX_PART_BYTES + 1)  # past S3's largest object


def test_the_threshold_decides() -> None:
    plan = PartPlan.of(None)
    assert (plan.threshold, plan.part_size) == (128 * MIB, 64 * MIB)  # StorageOptions' defaults
    assert not plan.in_parts(128 * MIB) and plan.in_parts(128 * MIB + 1)
    plan = PartPlan.of(
        StorageOptions(multipart_threshold=8 * MIB, multipart_part_size=5 * MIB, multipart_concurrency=1)
    )
    assert (plan.threshold, plan.part_size, plan.concurrency) == (8 * MIB, 5 * MIB, 1)


def test_a_part_size_s3_refuses_is_refused() -> None:
    with pytest.raises(ValueError, match="S3 takes parts of"):
        PartPlan(threshold=128 * MIB, part_size=MIN_PART_BYTES - 1)
    with pytest.raises(ValueError, match="above S3's single PUT"):
        PartPlan(threshold=MAX_PART_BYTES + 1, part_size=64 * MIB)


def test_a_local_output_creates_once(tmp_path: Path) -> None:
    fs, plan = LocalFileSystem(), PartPlan(threshold=MIN_PART_BYTES, part_size=MIN_PART_BYTES)
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"
    first.write_bytes(b"a" * (6 * MIB))
    second.write_bytes(b"b" * (6 * MIB))
    key = str(tmp_path / "out" / "videos" / "episode_000000.mp4")
    created, digest = put_file_if_absent(fs, key, first, plan, claim=key + ".claim")
    assert created and digest == {"size": 6 * MIB, "sha256": hashlib.sha256(b"a" * (6 * MIB)).hexdigest()}
    assert Path(key).read_bytes() == first.read_bytes() and holds(fs, key, digest)
    created, other = put_file_if_absent(fs, key, second, plan, claim=key + ".claim")
    assert not created and other == digest_of(second.read_bytes()) and not holds(fs, key, other)
    assert Path(key).read_bytes() == first.read_bytes()
    assert incomplete_uploads(fs, str(tmp_path)) == [] and abort_uploads(fs, str(tmp_path)) == []  # none locally
