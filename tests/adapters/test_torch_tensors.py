"""CPU torch tensors inside a plain pickle read into numpy without torch (`adapters.torch_tensors`), with torch's own
`pickle.dumps` as the oracle: every dtype OakInk2-style annotations use, views with strides and offsets, empty and
0-d tensors; a truncated or inconsistent storage is an error, never a short array."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from adapters.pickles import UnsafePickle
from adapters.torch_tensors import load_storage_bytes, rebuild_tensor, tensor_loads


def _storage_blob(t: torch.Tensor) -> bytes:
    """The legacy-serialized storage bytes torch's pickle of `t` carries (`_load_from_bytes`'s argument)."""
    _, (storage, *_rest) = t.__reduce_ex__(2)
    _, (blob,) = storage.__reduce__()
    return blob


@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float64, torch.float16, torch.int64, torch.int32, torch.uint8, torch.bool]
)
def test_each_dtype_matches_torch(dtype: torch.dtype) -> None:
    t = (torch.arange(30) % 7).reshape(1, 5, 6).to(dtype)
    out = tensor_loads(pickle.dumps({"x": t}))["x"]
    assert out.dtype == t.numpy().dtype and out.shape == (1, 5, 6)
    np.testing.assert_array_equal(out, t.numpy())


def test_views_offsets_empty_and_scalar_tensors_match_torch() -> None:
    base = torch.randn(4, 16, 4, dtype=torch.float64)
    tensors = {
        "transposed": base.transpose(0, 2),
        "sliced": base[2:, 3:9:2, 1],
        "empty": torch.zeros(0, 16, 4),
        "scalar": torch.tensor(2.5),
        "quat": torch.nn.functional.normalize(torch.randn(1, 16, 4), dim=-1),
    }
    out = tensor_loads(pickle.dumps(tensors, protocol=4))
    for k, t in tensors.items():
        np.testing.assert_array_equal(out[k], t.numpy(), err_msg=k)
        assert out[k].flags.owndata or out[k].base is not None


def test_a_truncated_or_inconsistent_storage_is_an_error() -> None:
    blob = _storage_blob(torch.arange(8, dtype=torch.float32))
    np.testing.assert_array_equal(load_storage_bytes(blob), np.arange(8, dtype=np.float32))
    with pytest.raises(ValueError, match="bytes left"):
        load_storage_bytes(blob[:-4])
    with pytest.raises(ValueError, match="magic"):
        load_storage_bytes(pickle.dumps(12345) + blob)
    storage = np.arange(8, dtype=np.float32)
    with pytest.raises(ValueError, match="overruns"):
        rebuild_tensor(storage, 4, (2, 3), (3, 1))
    with pytest.raises(ValueError, match="size"):
        rebuild_tensor(storage, 0, (2,), (1, 1))


def test_a_storage_naming_another_global_is_refused() -> None:
    blob = _storage_blob(torch.arange(4, dtype=torch.float32))
    assert b"ctorch\nFloatStorage\n" in blob
    hostile = blob.replace(b"ctorch\nFloatStorage\n", b"cposix\nsystem\nxxxxxxx")  # same length: offsets unchanged
    with pytest.raises(UnsafePickle, match=r"posix\.system"):
        load_storage_bytes(hostile)


def test_parameters_and_a_storage_recurring_in_every_frame() -> None:
    """An `nn.Parameter` reads as its values; per-frame views of one storage (the whole storage pickled again with each
    frame) read each frame at its offset, the storage's bytes parsed once per load."""
    import adapters.torch_tensors as tensors

    poses = torch.arange(6 * 4, dtype=torch.float32).reshape(6, 4)
    blob = pickle.dumps({"p": torch.nn.Parameter(torch.ones(2)), "frames": {i: poses[i] for i in range(6)}})
    calls: list[int] = []
    real = tensors.load_storage_bytes
    tensors.load_storage_bytes = lambda data: calls.append(len(data)) or real(data)  # type: ignore[assignment]
    try:
        out = tensor_loads(blob)
    finally:
        tensors.load_storage_bytes = real  # type: ignore[assignment]
    assert out["p"].tolist() == [1.0, 1.0] and len(calls) == 2  # the parameter's storage and the poses' one
    np.testing.assert_array_equal(np.stack([out["frames"][i] for i in range(6)]), poses.numpy())
