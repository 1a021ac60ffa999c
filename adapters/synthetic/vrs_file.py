"""A minimal VRS file writer for test fixtures: the container format as the maker's C++ library writes it
(facebookresearch/vrs), enough for a real reader (`projectaria_tools`' VRS reader) to open what it writes.

Layout (facebookresearch/vrs `vrs/FileFormat.h`, `FileFormat.cpp`, `IndexRecord.h/.cpp`, `DescriptionRecord.cpp`,
`Record.cpp`), every integer little-endian, structs packed:
- FileHeader (80 bytes): magics "Visi" "onRe" ... "cord", creation id, header sizes, the index and description record
  offsets, the first user record's offset (0: right after the description record), format "VRS1".
- RecordHeader (32 bytes) before every record: its size (header included), the previous record's size, recordable
  type id, format version, timestamp (double seconds), instance id, record type (1 state, 2 configuration, 3 data),
  compression (0 none), uncompressed size (0 when not compressed).
- The description record (type id 2, format version 2) right after the file header: per stream its "user" and "vrs"
  tag maps, then the file tags; strings as uint32 length + bytes. Then the user records, in timestamp order.
- The classic index record (type id 1, format version 2) at the end: the stream ids (int32 type, uint16 instance),
  then per record (double timestamp, uint32 size on disk, uint8 record type, stream id).

Record contents follow `RecordFormat` / `DataLayout` (`vrs/RecordFormat.cpp`, `vrs/DataLayout.cpp/.h`): a stream's vrs
tags `RF:<Type>:<version>` give each record kind's content blocks ("data_layout/size=72+image/jpg"), and
`DL:<Type>:<version>:<block>` the JSON description of each DataLayout block (fixed-size pieces first). A DataLayout
block on disk is the fixed-size values in that order, then one (uint32 offset, uint32 length) entry per variable-size
piece, then the variable-size bytes (a string is its raw bytes).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path


def _fourcc(text: str) -> int:
    return int.from_bytes(text.encode("ascii"), "little")


MAGIC = (_fourcc("Visi"), _fourcc("onRe"), _fourcc("cord"))
FORMAT_VRS1 = _fourcc("VRS1")
FILE_HEADER = struct.Struct("<IIQIIqqqQQQII")
RECORD_HEADER = struct.Struct("<IIiIdHBBI")
STREAM_ID = struct.Struct("<iH")
RECORD_INFO = struct.Struct("<dIBiH")
INDEX_TYPE_ID, DESCRIPTION_TYPE_ID = 1, 2
INDEX_FORMAT_CLASSIC, DESCRIPTION_FORMAT = 2, 2
MAX_TIMESTAMP = 1.7976931348623157e308  # DBL_MAX: what the index and description records carry


class RecordType(IntEnum):
    STATE = 1
    CONFIGURATION = 2
    DATA = 3


TYPE_NAMES = {RecordType.STATE: "State", RecordType.CONFIGURATION: "Configuration", RecordType.DATA: "Data"}
# DataLayout element types (the names `DataPieceValue<T>` registers) and their struct codes
_VALUE_CODES = {"uint8_t": "B", "uint32_t": "I", "int32_t": "i", "uint64_t": "Q", "int64_t": "q", "float": "f",
                "double": "d"}  # fmt: skip


@dataclass(frozen=True)
class DataLayout:
    """An ordered list of (label, element type); "string" is a `DataPieceString`, the others `DataPieceValue<T>`."""

    pieces: tuple[tuple[str, str], ...]

    @property
    def fixed(self) -> list[tuple[str, str]]:
        return [p for p in self.pieces if p[1] != "string"]

    @property
    def variable(self) -> list[str]:
        return [name for name, kind in self.pieces if kind == "string"]

    @property
    def fixed_size(self) -> int:
        """Bytes of the fixed part, var-size index included (`DataLayout::initLayout`)."""
        return struct.calcsize("<" + "".join(_VALUE_CODES[k] for _, k in self.fixed)) + 8 * len(self.variable)

    def describe(self) -> str:
        """The JSON `DataLayout::asJson` writes to the stream's DL tag (the VRS-internal profile)."""
        out, offset = [], 0
        for name, kind in self.fixed:
            out.append({"name": name, "type": f"DataPieceValue<{kind}>", "offset": offset})
            offset += struct.calcsize("<" + _VALUE_CODES[kind])
        out += [{"name": name, "type": "DataPieceString", "index": i} for i, name in enumerate(self.variable)]
        return json.dumps({"data_layout": out}, separators=(",", ":"))

    def pack(self, values: dict[str, object]) -> bytes:
        unknown = set(values) - {p[0] for p in self.pieces}
        if unknown:
            raise KeyError(f"not in the layout: {sorted(unknown)}")
        fixed = b"".join(struct.pack("<" + _VALUE_CODES[k], values.get(n, 0)) for n, k in self.fixed)
        strings = [str(values.get(n, "")).encode() for n in self.variable]
        index, offset = b"", 0
        for s in strings:
            index += struct.pack("<II", offset, len(s))
            offset += len(s)
        return fixed + index + b"".join(strings)


@dataclass(frozen=True)
class RecordKind:
    """One record type of a stream: its format version, content blocks and DataLayout blocks (by block index)."""

    type: RecordType
    version: int
    record_format: str
    layouts: dict[int, DataLayout] = field(default_factory=dict)


@dataclass
class _Record:
    timestamp: float
    type_id: int
    instance: int
    kind: RecordType
    version: int
    payload: bytes
    order: int


class VrsWriter:
    """Collect streams and records, then `write(path)` one VRS file."""

    def __init__(self, file_tags: dict[str, str] | None = None) -> None:
        self.file_tags = dict(file_tags or {})
        self.streams: dict[tuple[int, int], dict[str, dict[str, str]]] = {}
        self._kinds: dict[tuple[int, int, RecordType], int] = {}
        self._records: list[_Record] = []

    def add_stream(
        self, type_id: int, instance: int, kinds: list[RecordKind], tags: dict[str, str] | None = None
    ) -> None:
        vrs_tags = {}
        for k in kinds:
            vrs_tags[f"RF:{TYPE_NAMES[k.type]}:{k.version}"] = k.record_format
            for block, layout in k.layouts.items():
                vrs_tags[f"DL:{TYPE_NAMES[k.type]}:{k.version}:{block}"] = layout.describe()
            self._kinds[(type_id, instance, k.type)] = k.version
        self.streams[(type_id, instance)] = {"user": dict(tags or {}), "vrs": vrs_tags}

    def add_record(self, type_id: int, instance: int, kind: RecordType, timestamp_s: float, payload: bytes) -> None:
        version = self._kinds[(type_id, instance, kind)]
        self._records.append(_Record(timestamp_s, type_id, instance, kind, version, payload, len(self._records)))

    def write(self, path: Path) -> None:
        description = self._description()
        records = sorted(self._records, key=lambda r: (r.timestamp, r.type_id, r.instance, r.order))
        body, infos, previous = bytearray(), [], RECORD_HEADER.size + len(description)
        for r in records:
            size = RECORD_HEADER.size + len(r.payload)
            body += RECORD_HEADER.pack(size, previous, r.type_id, r.version, r.timestamp, r.instance, int(r.kind), 0, 0)
            body += r.payload
            infos.append(RECORD_INFO.pack(r.timestamp, size, int(r.kind), r.type_id, r.instance))
            previous = size
        index = struct.pack("<I", len(self.streams))
        index += b"".join(STREAM_ID.pack(t, i) for t, i in sorted(self.streams))
        index += struct.pack("<I", len(infos)) + b"".join(infos)
        desc_offset = FILE_HEADER.size
        desc_size = RECORD_HEADER.size + len(description)
        index_offset = desc_offset + desc_size + len(body)
        # sizes, index and description offsets, then the first user record's offset and three reserved fields, all 0
        fields = (FILE_HEADER.size, RECORD_HEADER.size, index_offset, desc_offset, 0, 0, 0, 0)
        header = FILE_HEADER.pack(MAGIC[0], MAGIC[1], 0x1234_5678_9ABC_DEF0, *fields, MAGIC[2], FORMAT_VRS1)
        desc_header = RECORD_HEADER.pack(
            desc_size, 0, DESCRIPTION_TYPE_ID, DESCRIPTION_FORMAT, MAX_TIMESTAMP, 0, int(RecordType.DATA), 0, 0
        )
        index_size = RECORD_HEADER.size + len(index)
        index_header = RECORD_HEADER.pack(
            index_size, previous, INDEX_TYPE_ID, INDEX_FORMAT_CLASSIC, MAX_TIMESTAMP, 0, int(RecordType.DATA), 0, 0
        )
        Path(path).write_bytes(header + desc_header + description + bytes(body) + index_header + index)

    def _description(self) -> bytes:
        out = struct.pack("<I", len(self.streams))
        for (type_id, instance), tags in sorted(self.streams.items()):
            out += STREAM_ID.pack(type_id, instance) + _string_map(tags["user"]) + _string_map(tags["vrs"])
        return out + _string_map(self.file_tags)


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<I", len(data)) + data


def _string_map(tags: dict[str, str]) -> bytes:
    return struct.pack("<I", len(tags)) + b"".join(_string(k) + _string(v) for k, v in sorted(tags.items()))
