"""CPU torch tensors inside a plain pickle, read into numpy arrays without importing torch (a maker's annotation
pickled with `pickle.dump`, OakInk2's `anno_preview/*.pkl`: its loader `pickle.load`s dicts of `torch.Tensor`,
oakink/OakInk2-PreviewTool@63365c6:README.md:204-237, src/oakink2_toolkit/dataset.py:219-221).

How torch pickles a tensor (pytorch/pytorch v2.x `torch/_tensor.py` `_reduce_ex_internal`, `torch/storage.py`
`TypedStorage.__reduce__`, `torch/serialization.py` `_legacy_save` / `_legacy_load`; checked here against torch's own
`pickle.dumps` in `tests/adapters/test_torch_tensors.py`): the tensor is `torch._utils._rebuild_tensor_v2(storage,
offset, size, stride, requires_grad, OrderedDict())`, its storage `torch.storage._load_from_bytes(blob)`, where
`blob` is torch's legacy serialization of the storage alone: four pickles (magic number, protocol 1001, the writer's
sys info, the storage as a persistent id `('storage', torch.<Type>Storage, key, location, numel[, view])`), the
pickled list of storage keys, then per key its element count as little-endian int64 and its raw bytes.

Each step is resolved here by our own function over bytes already in memory (the outer pickle's); the globals are
those names (and `_rebuild_parameter` for an `nn.Parameter`) and the storage types, through
`adapters.pickles.SafeUnpickler`: nothing of the file is called. A storage's location (`cpu`, `cuda:0`) is not
read: its bytes are the same either way, so tensors saved from a GPU load here.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adapters.pickles import SafeUnpickler, UnsafePickle, safe_loads

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch/serialization.py MAGIC_NUMBER
LEGACY_PROTOCOL = 1001
STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


@dataclass
class _Storage:
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = field(default=None)


def load_storage_bytes(blob: bytes) -> np.ndarray:
    """`torch.storage._load_from_bytes`: the 1-D array one storage's legacy serialization holds."""
    f = io.BytesIO(blob)
    types = {("torch", name): np.dtype(dt) for name, dt in STORAGE_DTYPES.items()}
    storages: dict[str, _Storage] = {}

    def persistent(pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise UnsafePickle(f"persistent id {pid!r} is not a torch storage")
        _, dtype, key, _location, numel, *view = pid
        if view and view[0] is not None:
            raise ValueError("a storage view (torch < 0.4 layout) is not read")
        if not isinstance(dtype, np.dtype) or not isinstance(numel, int) or numel < 0:
            raise ValueError(f"storage {key!r}: type {dtype!r}, {numel!r} elements")
        return storages.setdefault(str(key), _Storage(dtype, numel))

    def plain() -> Any:
        return SafeUnpickler(f, {}).load()

    if plain() != LEGACY_MAGIC or plain() != LEGACY_PROTOCOL:
        raise ValueError("not torch's legacy storage serialization (magic number or protocol)")
    info = plain()
    if isinstance(info, dict) and info.get("little_endian") is False:
        raise ValueError("a big-endian torch storage is not read")
    obj = SafeUnpickler(f, types, persistent=persistent).load()
    keys = plain()
    if not isinstance(obj, _Storage) or not isinstance(keys, list) or [str(k) for k in keys] != list(storages):
        raise ValueError("a torch storage blob that holds no single storage")
    for key in keys:
        s = storages[str(key)]
        count = int.from_bytes(f.read(8), "little", signed=True)
        size = count * s.dtype.itemsize
        raw = f.read(size)
        if count != s.numel or len(raw) != size:
            raise ValueError(f"storage {key!r}: {count} elements declared, {s.numel} expected, {len(raw)} bytes left")
        s.data = np.frombuffer(raw, dtype=s.dtype.newbyteorder("<"), count=count)
    assert obj.data is not None
    return obj.data


def rebuild_tensor(
    storage: np.ndarray, offset: int, size: tuple, stride: tuple, _grad: bool = False, _hooks: Any = None, *_: Any
) -> np.ndarray:
    """`torch._utils._rebuild_tensor_v2`: the strided view of `storage`, copied into its own array."""
    if not isinstance(storage, np.ndarray) or len(size) != len(stride) or offset < 0:
        raise ValueError(f"tensor of size {size}, stride {stride}, offset {offset} over {type(storage).__name__}")
    if any(n < 0 for n in size) or any(s < 0 for s in stride):
        raise ValueError(f"tensor of size {size}, stride {stride}")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) if all(size) else offset - 1
    if last >= len(storage):
        raise ValueError(f"tensor of size {size}, stride {stride}, offset {offset} overruns {len(storage)} elements")
    item = storage.dtype.itemsize
    return np.array(np.lib.stride_tricks.as_strided(storage[offset:], tuple(size), tuple(s * item for s in stride)))


def rebuild_parameter(data: np.ndarray, _grad: bool = False, _hooks: Any = None, *_: Any) -> np.ndarray:
    """`torch._utils._rebuild_parameter`: an `nn.Parameter` is its tensor's values."""
    if not isinstance(data, np.ndarray):
        raise ValueError(f"a parameter of {type(data).__name__}, not a tensor")
    return data


def tensor_globals() -> dict[tuple[str, str], Any]:
    """The globals a plain pickle of torch tensors names, for one load: a storage's bytes are read once however often
    they recur (a file of per-frame views pickles the whole storage again with every frame: TACO's hand poses)."""
    seen: dict[bytes, np.ndarray] = {}

    def storage(blob: bytes) -> np.ndarray:
        if blob not in seen:
            seen[blob] = load_storage_bytes(blob)
        return seen[blob]

    return {
        ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
        ("torch.storage", "_load_from_bytes"): storage,
        ("collections", "OrderedDict"): OrderedDict,  # a tensor's (empty) backward hooks
    }


def tensor_loads(data: bytes) -> Any:
    """The object `data` pickles, numpy's globals and torch's tensor ones allowed (each tensor read as a numpy array
    without importing torch): `adapters.pickles.safe_loads` with `tensor_globals`."""
    return safe_loads(data, extra=tensor_globals())
