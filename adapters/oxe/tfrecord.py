"""TFRecord framing without TensorFlow: record offsets, masked CRC32C checks, `tf.train.Example` parsing.

A TFRecord file is a run of records, each framed as

    uint64 length | uint32 masked_crc32c(length bytes) | payload[length] | uint32 masked_crc32c(payload)

(little endian; `masked(c) = ((c >> 15 | c << 17) + 0xa282ead8) mod 2**32`). CRC32C comes from the `crc32c` package
(hardware accelerated) and the `Example` protobuf from the `tfrecord` package's generated `example_pb2`, loaded
without running `tfrecord/__init__.py` (which imports torch). A payload CRC mismatch leaves the framing intact (the
next record is still found); a truncated file or a corrupt length field loses every record after it.
"""

from __future__ import annotations

import importlib
import importlib.util
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO, Literal

import crc32c
import numpy as np

from adapters.storage.location import Location

HEADER = struct.Struct("<QI")  # length, masked crc of the 8 length bytes
FOOTER = struct.Struct("<I")  # masked crc of the payload
_MASK_DELTA = 0xA282EAD8

ErrorKind = Literal["truncated", "length_crc", "payload_crc"]


def masked_crc32c(data: bytes | memoryview) -> int:
    """TFRecord's masked CRC32C (Castagnoli) of `data`."""
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame_record(payload: bytes) -> bytes:
    """One framed record (header, payload, footer): the inverse of `read_record`."""
    length = struct.pack("<Q", len(payload))
    return length + struct.pack("<I", masked_crc32c(length)) + payload + FOOTER.pack(masked_crc32c(payload))


class TFRecordError(Exception):
    """A framing failure at a byte offset of a TFRecord file: truncated, or a CRC that does not match."""

    def __init__(self, message: str, *, path: Location | str, offset: int, kind: ErrorKind, index: int | None = None):
        self.path, self.offset, self.kind, self.index = str(path), offset, kind, index
        self.reason = message
        where = f"record {index} " if index is not None else ""
        super().__init__(f"{self.path}: {where}at byte offset {offset}: {message}")


@dataclass(frozen=True)
class RecordSpan:
    """Where record `index` sits: header at `offset`, payload at `offset + 12`, `length` payload bytes."""

    index: int
    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + HEADER.size + self.length + FOOTER.size


@dataclass(frozen=True)
class ScannedRecord:
    """One step of `scan_records`: a span (None when the framing broke), its payload if asked, or the error."""

    span: RecordSpan | None
    payload: bytes | None = None
    error: TFRecordError | None = None


def _read_header(f: BinaryIO, path: Location, offset: int, index: int | None, size: int) -> int:
    """Payload length of the record whose header starts at `offset` (checked), or raise."""

    def fail(message: str, kind: ErrorKind) -> TFRecordError:
        return TFRecordError(message, path=path, offset=offset, kind=kind, index=index)

    head = f.read(HEADER.size)
    if len(head) < HEADER.size:
        raise fail(
            f"truncated TFRecord: record header needs {HEADER.size} bytes, the file ends after {len(head)} "
            f"(file size {size})",
            "truncated",
        )
    length, stored = HEADER.unpack(head)
    computed = masked_crc32c(head[:8])
    if stored != computed:
        raise fail(
            f"CRC mismatch in the length field (stored 0x{stored:08x}, computed 0x{computed:08x}): "
            "corrupt record framing, later records cannot be located",
            "length_crc",
        )
    if offset + HEADER.size + length + FOOTER.size > size:
        raise fail(
            f"truncated TFRecord: record of {length} payload bytes needs {HEADER.size + length + FOOTER.size} bytes "
            f"from here, the file ends at byte {size}",
            "truncated",
        )
    return length


def _check_payload(payload: bytes, footer: bytes, path: Location, offset: int, index: int | None) -> None:
    (stored,) = FOOTER.unpack(footer)
    computed = masked_crc32c(payload)
    if stored != computed:
        msg = f"CRC mismatch in the payload of {len(payload)} bytes (stored 0x{stored:08x}, computed 0x{computed:08x})"
        raise TFRecordError(msg, path=path, offset=offset, kind="payload_crc", index=index)


def scan_records(path: Location, *, read_payloads: bool = True, verify: bool = True) -> Iterator[ScannedRecord]:
    """Walk every record of a TFRecord file in order.

    With `read_payloads=False` and `verify=False` only the headers are read (seeking over payloads): the cheapest way
    to list offsets. A payload CRC mismatch yields a `ScannedRecord` with its span and `error` and the walk goes on;
    a truncated file or a bad length CRC yields a final `ScannedRecord(span=None, error=...)` and ends the walk.
    """
    size = path.stat().st_size
    with path.open_binary(stream=True) as f:  # front to back: an object is streamed one block ahead
        offset, index = 0, 0
        while offset < size:
            f.seek(offset)
            try:
                length = _read_header(f, path, offset, index, size)
            except TFRecordError as e:
                yield ScannedRecord(None, error=e)
                return
            span = RecordSpan(index, offset, length)
            payload = None
            if read_payloads or verify:
                payload = f.read(length)
                footer = f.read(FOOTER.size)
                if verify:
                    try:
                        _check_payload(payload, footer, path, offset, index)
                    except TFRecordError as e:
                        yield ScannedRecord(span, payload if read_payloads else None, e)
                        offset, index = span.end, index + 1
                        continue
            yield ScannedRecord(span, payload if read_payloads else None)
            offset, index = span.end, index + 1


# One record from an object: a 4 KiB block for its 12-byte header, then payload and footer in one exact ranged GET (a
# read past one block goes to the store directly, adapters/storage/reads.py): about 1 + 4 KiB / payload fetched per byte
RECORD_BLOCK, RECORD_BLOCKS = 4 << 10, 2


def read_record(path: Location, offset: int, *, index: int | None = None, verify: bool = True) -> bytes:
    """The payload of the record whose header starts at byte `offset`; raise `TFRecordError` on bad framing."""
    size = path.stat().st_size
    with path.open_binary(block_size=RECORD_BLOCK, max_blocks=RECORD_BLOCKS) as f:
        f.seek(offset)
        length = _read_header(f, path, offset, index, size)
        data = f.read(length + FOOTER.size)  # a short read (truncated file) leaves the footer short: checked below
        payload, footer = data[:length], data[length:]
    if verify:
        _check_payload(payload, footer, path, offset, index)
    return payload


def _load_example_pb2() -> ModuleType:
    """`tfrecord.example_pb2` without executing `tfrecord/__init__.py` (it imports torch, ~2 s and much memory)."""
    name = "tfrecord.example_pb2"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec("tfrecord")  # locates the package without importing it
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        file = Path(loc) / "example_pb2.py"
        if file.exists():
            sub = importlib.util.spec_from_file_location(name, file)
            assert sub is not None and sub.loader is not None
            module = importlib.util.module_from_spec(sub)
            sys.modules[name] = module  # `import tfrecord` later reuses it instead of registering the proto twice
            try:
                sub.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
            return module
    return importlib.import_module(name)


example_pb2 = _load_example_pb2()

FeatureValue = np.ndarray | list[bytes]


def parse_example(payload: bytes) -> dict[str, FeatureValue]:
    """A serialized `tf.train.Example` -> {key: int64 array | float32 array | list of bytes} (flat, as stored)."""
    ex = example_pb2.Example()
    ex.ParseFromString(payload)
    out: dict[str, FeatureValue] = {}
    for key, feature in ex.features.feature.items():
        kind = feature.WhichOneof("kind")
        if kind == "float_list":
            out[key] = np.asarray(feature.float_list.value, dtype=np.float32)
        elif kind == "int64_list":
            out[key] = np.asarray(feature.int64_list.value, dtype=np.int64)
        elif kind == "bytes_list":
            out[key] = list(feature.bytes_list.value)
        else:  # a Feature with no list set: TF parses it as empty
            out[key] = np.zeros(0, dtype=np.float32)
    return out


def build_example(features: dict[str, Any]) -> bytes:
    """{key: float array | int array | bool array | list of bytes/str} -> serialized `tf.train.Example`."""
    ex = example_pb2.Example()
    for key, value in features.items():
        feature = ex.features.feature[key]
        if isinstance(value, (list, tuple)) and (not value or isinstance(value[0], (bytes, str))):
            feature.bytes_list.value.extend(v.encode() if isinstance(v, str) else v for v in value)
            continue
        arr = np.asarray(value)
        if arr.dtype.kind in "biu":
            feature.int64_list.value.extend(arr.astype(np.int64).ravel().tolist())
        elif arr.dtype.kind == "f":
            feature.float_list.value.extend(arr.astype(np.float32).ravel().tolist())
        else:
            raise TypeError(f"feature {key!r}: unsupported dtype {arr.dtype}")
    # A map's order follows the process's hash seed unless asked otherwise: the same features wrote other bytes in
    # each process (the demo's Bridge shard differed run to run); deterministic orders the keys.
    return ex.SerializeToString(deterministic=True)
