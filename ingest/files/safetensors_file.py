"""Safetensors files written atomically (`adapters.storage.atomic`: hidden temp name, fsync, rename): a reader, or a
rerun deciding what is done, sees a whole file or none; a killed writer's leftovers are removed by `remove_temp_files`.

The bytes are deterministic: safetensors keeps `__metadata__` in a Rust HashMap whose iteration order is seeded per
process (safetensors `lib.rs` `Metadata`, serialized by serde_json), so two processes writing the same tensors and
metadata give headers in different key orders. We re-serialize the header with the metadata keys sorted; the format
puts the tensor offsets relative to the end of the header, so its length may change freely (the 8-byte alignment
padding with spaces is kept, as the format asks).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch
from safetensors.torch import save

from adapters.storage.atomic import atomic_write


def save_atomic(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    contiguous = {k: v.contiguous() for k, v in tensors.items()}
    data = sorted_header(save(contiguous, metadata=metadata))
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def sorted_header(data: bytes) -> bytes:
    """The same safetensors file with its `__metadata__` keys in sorted order (see the module docstring)."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data[8 + n :]
