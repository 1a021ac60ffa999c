"""The VRS container writer (`adapters/synthetic/vrs_file.py`; projectaria_tools reading what it writes is
`test_aria_recording.py`), checked against the container rules of facebookresearch/vrs: the 80-byte FileHeader with
its magics and "VRS1", the description record right after it, user records in timestamp order each after a
32-byte RecordHeader whose previous-size field chains to the record before, the classic index record at the end
listing every record (`FileFormat.h`, `IndexRecord.cpp`); a DataLayout block as fixed values, then one (offset, length)
per string, then the strings (`DataLayout.cpp`)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from adapters.synthetic.vrs_file import DataLayout, RecordKind, RecordType, VrsWriter

LAYOUT = DataLayout((("count", "uint32_t"), ("name", "string"), ("t", "double"), ("note", "string")))


def test_a_data_layout_block_is_fixed_values_then_the_string_index_then_the_strings() -> None:
    block = LAYOUT.pack({"count": 7, "name": "rgb", "t": 1.5, "note": "hello"})
    expected = struct.pack("<Id", 7, 1.5) + struct.pack("<IIII", 0, 3, 3, 5) + b"rgbhello"
    assert block == expected and LAYOUT.fixed_size == 4 + 8 + 2 * 8
    described = json.loads(LAYOUT.describe())["data_layout"]
    assert [(p["name"], p.get("offset"), p.get("index")) for p in described] == [
        ("count", 0, None),
        ("t", 4, None),
        ("name", None, 0),
        ("note", None, 1),
    ]
    with pytest.raises(KeyError, match="not in the layout"):
        LAYOUT.pack({"other": 1})


def test_header_records_and_index_chain_as_vrs_reads_them(tmp_path: Path) -> None:
    w = VrsWriter({"device_type": "Aria"})
    w.add_stream(214, 1, [RecordKind(RecordType.DATA, 2, "data_layout", {0: LAYOUT})])
    for t in (2.0, 0.5, 1.0):  # added out of order
        w.add_record(214, 1, RecordType.DATA, t, LAYOUT.pack({"count": int(t * 10)}))
    w.write(tmp_path / "f.vrs")
    data = (tmp_path / "f.vrs").read_bytes()
    magic1, magic2, _, header_size, record_header_size, index_offset, desc_offset = struct.unpack_from("<IIQIIqq", data)
    assert struct.pack("<II", magic1, magic2) == b"VisionRe" and data[72:80] == b"cordVRS1"
    assert (header_size, record_header_size, desc_offset) == (80, 32, 80)
    size, prev, type_id = struct.unpack_from("<IIi", data, desc_offset)
    assert (prev, type_id) == (0, 2)  # the description record comes first
    offset, stamps = desc_offset + size, []
    while offset < index_offset:  # walk the user records
        rec_size, rec_prev, rec_type, _, stamp = struct.unpack_from("<IIiId", data, offset)
        assert rec_prev == size and rec_type == 214  # each header names the previous record's size
        stamps.append(stamp)
        offset, size = offset + rec_size, rec_size
    assert stamps == [0.5, 1.0, 2.0] and offset == index_offset  # timestamp order, ending at the index
    _, _, index_type = struct.unpack_from("<IIi", data, index_offset)
    body = index_offset + 32
    (streams,) = struct.unpack_from("<I", data, body)
    (count,) = struct.unpack_from("<I", data, body + 4 + 6 * streams)
    infos = [struct.unpack_from("<dIBiH", data, body + 8 + 6 * streams + 19 * i) for i in range(count)]
    assert index_type == 1 and streams == 1 and [i[0] for i in infos] == stamps
    assert all((i[2], i[3], i[4]) == (int(RecordType.DATA), 214, 1) for i in infos)
    assert body + 8 + 6 * streams + 19 * count == len(data)  # the index ends the file
