"""TFRecord framing: masked CRC32C, record offsets, truncation and CRC errors, Example parsing without torch."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from adapters.oxe.tfrecord import (
    TFRecordError,
    build_example,
    frame_record,
    masked_crc32c,
    parse_example,
    read_record,
    scan_records,
)
from adapters.storage.location import locate
from tests.conftest import REPO
from tests.realdata import realdata

BRIDGE_SHARD = "octo_bridge_debug_rlds/bridge_dataset/1.0.0/bridge_dataset-train.tfrecord-00000-of-00001"


def _write(path: Path, payloads: list[bytes]) -> list[int]:
    """Frame payloads into a file; return each record's header offset."""
    offsets, pos = [], 0
    with open(path, "wb") as f:
        for p in payloads:
            offsets.append(pos)
            framed = frame_record(p)
            f.write(framed)
            pos += len(framed)
    return offsets


@pytest.fixture
def payloads() -> list[bytes]:
    return [bytes([i]) * (100 + 37 * i) for i in range(5)]


def test_crc32c_check_value_and_mask() -> None:
    # CRC-32C check value of "123456789" is 0xE3069283 (RFC 3720); TFRecord masks it: rotate right 15, add constant.
    c = 0xE3069283
    expected = ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
    assert masked_crc32c(b"123456789") == expected
    assert masked_crc32c(b"123456789") != masked_crc32c(b"123456780")


def test_frame_layout(payloads: list[bytes]) -> None:
    framed = frame_record(payloads[1])
    (length,) = struct.unpack("<Q", framed[:8])
    assert length == len(payloads[1]) == len(framed) - 16
    assert struct.unpack("<I", framed[8:12])[0] == masked_crc32c(framed[:8])
    assert framed[12:-4] == payloads[1]
    assert struct.unpack("<I", framed[-4:])[0] == masked_crc32c(payloads[1])


def test_scan_offsets_and_payloads(tmp_path: Path, payloads: list[bytes]) -> None:
    path = tmp_path / "a.tfrecord"
    offsets = _write(path, payloads)
    recs = list(scan_records(locate(path)))
    assert [r.error for r in recs] == [None] * 5
    assert [r.span.offset for r in recs] == offsets
    assert [r.span.index for r in recs] == list(range(5))
    assert [r.payload for r in recs] == payloads
    # header-only walk (seeks over payloads) finds the same spans
    cheap = list(scan_records(locate(path), read_payloads=False, verify=False))
    assert [r.span for r in cheap] == [r.span for r in recs] and all(r.payload is None for r in cheap)
    # seeking straight to one record
    assert read_record(locate(path), offsets[3], index=3) == payloads[3]


def test_read_at_wrong_offset_is_a_length_crc_error(tmp_path: Path, payloads: list[bytes]) -> None:
    path = tmp_path / "a.tfrecord"
    offsets = _write(path, payloads)
    with pytest.raises(TFRecordError) as e:
        read_record(locate(path), offsets[2] + 4, index=2)
    assert e.value.kind == "length_crc" and e.value.offset == offsets[2] + 4 and e.value.path == str(path)
    assert str(path) in str(e.value) and f"byte offset {offsets[2] + 4}" in str(e.value)


@pytest.mark.parametrize("cut", ["in_payload", "in_header", "in_footer"])
def test_truncated_file(tmp_path: Path, payloads: list[bytes], cut: str) -> None:
    path = tmp_path / "a.tfrecord"
    offsets = _write(path, payloads)
    at = {"in_payload": offsets[3] + 12 + 50, "in_header": offsets[3] + 5, "in_footer": offsets[4] - 2}[cut]
    with open(path, "r+b") as f:
        f.truncate(at)
    recs = list(scan_records(locate(path)))
    assert [r.payload for r in recs[:3]] == payloads[:3] and all(r.error is None for r in recs[:3])
    last = recs[-1]
    assert len(recs) == 4 and last.span is None
    assert last.error.kind == "truncated" and last.error.index == 3 and last.error.offset == offsets[3]
    assert "truncated" in str(last.error) and str(path) in str(last.error)
    with pytest.raises(TFRecordError, match="truncated"):
        read_record(locate(path), offsets[3], index=3)


def test_payload_crc_mismatch_keeps_framing(tmp_path: Path, payloads: list[bytes]) -> None:
    path = tmp_path / "a.tfrecord"
    offsets = _write(path, payloads)
    data = bytearray(path.read_bytes())
    data[offsets[1] + 12 + 10] ^= 0x01
    path.write_bytes(bytes(data))
    recs = list(scan_records(locate(path)))
    assert len(recs) == 5
    assert recs[1].error is not None and recs[1].error.kind == "payload_crc" and recs[1].span.offset == offsets[1]
    assert "CRC mismatch" in str(recs[1].error)
    assert [r.error for i, r in enumerate(recs) if i != 1] == [None] * 4
    assert recs[2].payload == payloads[2]
    with pytest.raises(TFRecordError) as e:
        read_record(locate(path), offsets[1], index=1)
    assert e.value.kind == "payload_crc" and e.value.index == 1
    assert (
        read_record(locate(path), offsets[1], verify=False) != payloads[1]
    )  # unverified read returns the damaged bytes


def test_length_crc_mismatch_ends_the_walk(tmp_path: Path, payloads: list[bytes]) -> None:
    path = tmp_path / "a.tfrecord"
    offsets = _write(path, payloads)
    data = bytearray(path.read_bytes())
    data[offsets[2] + 9] ^= 0xFF
    path.write_bytes(bytes(data))
    recs = list(
        scan_records(locate(path), read_payloads=False, verify=False)
    )  # even the cheap walk checks the length CRC
    assert len(recs) == 3 and recs[-1].span is None
    assert recs[-1].error.kind == "length_crc" and recs[-1].error.offset == offsets[2]


def test_example_round_trip() -> None:
    feats = {
        "steps/action": np.arange(14, dtype=np.float32) / 3,
        "steps/is_first": np.array([True, False]),
        "steps/observation/image": [b"\xff\xd8jpeg", b""],
        "steps/language_instruction": ["pick it", "pick it"],
        "episode_metadata/episode_id": np.array([7], dtype=np.int32),
    }
    out = parse_example(build_example(feats))
    assert out["steps/action"].dtype == np.float32 and np.array_equal(out["steps/action"], feats["steps/action"])
    assert out["steps/is_first"].dtype == np.int64 and out["steps/is_first"].tolist() == [1, 0]
    assert out["steps/observation/image"] == [b"\xff\xd8jpeg", b""]
    assert out["steps/language_instruction"] == [b"pick it", b"pick it"]
    assert out["episode_metadata/episode_id"].tolist() == [7]


def test_an_example_is_the_same_bytes_in_every_process() -> None:
    """The features map's order followed the hash seed: the demo's Bridge shard differed from run to run."""
    code = (
        "import hashlib; from adapters.oxe.tfrecord import build_example; "
        "print(hashlib.sha256(build_example({k: [1.0] for k in 'abcdefgh'})).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env={"PYTHONHASHSEED": str(seed), "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(digests) == 1, digests


def test_real_tensorflow_written_shard_verifies() -> None:
    """CRCs written by TensorFlow itself check out, and every record is an Example with RLDS keys."""
    path = realdata(BRIDGE_SHARD)
    recs = list(scan_records(locate(path)))
    assert len(recs) == 25 and all(r.error is None for r in recs)
    assert recs[-1].span.end == path.stat().st_size
    ex = parse_example(recs[0].payload)
    assert {"steps/is_first", "steps/action", "steps/observation/image_0", "episode_metadata/file_path"} <= set(ex)


def test_import_does_not_pull_torch() -> None:
    code = "import sys, adapters.oxe.tfrecord as t; t.example_pb2.Example(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
