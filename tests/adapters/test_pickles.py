"""The one restricted unpickler (`adapters.pickles`): numpy's pickles read as `pickle.loads` reads them, any other
global refused by name before it runs, torch's tensor globals only when asked for."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from adapters.pickles import SafeUnpickler, UnsafePickle, safe_loads
from adapters.torch_tensors import tensor_loads


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return os.system, (f"touch {self.marker}",)


def test_numpy_arrays_scalars_and_containers_read_as_pickle_reads_them() -> None:
    data = {"a": np.arange(6.0).reshape(2, 3), "s": np.float32(1.5), "l": [np.int64(3), "x"], "t": (1, None)}
    for protocol in (2, 4, 5):
        out = safe_loads(pickle.dumps(data, protocol=protocol))
        assert out.keys() == data.keys() and out["l"][1] == "x" and out["t"] == (1, None)
        np.testing.assert_array_equal(out["a"], data["a"])
        assert out["s"] == data["s"] and out["s"].dtype == np.float32


def test_a_hostile_global_is_refused_by_name_before_it_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    blob = pickle.dumps({"poseCoeff": np.zeros(48), "evil": _Exploit(marker)})
    with pytest.raises(UnsafePickle, match="system"):
        safe_loads(blob)
    with pytest.raises(UnsafePickle, match="system"):
        tensor_loads(blob)
    assert not marker.exists()


def test_torch_globals_only_when_tensors_are_asked_for() -> None:
    blob = pickle.dumps({"rh__tsl": torch.ones(1, 3)})
    with pytest.raises(UnsafePickle, match=r"torch\._utils\._rebuild_tensor_v2"):
        safe_loads(blob)
    np.testing.assert_array_equal(tensor_loads(blob)["rh__tsl"], np.ones((1, 3), np.float32))


def test_persistent_ids_are_refused_without_a_handler() -> None:
    import io

    class WithIds(pickle.Pickler):
        def persistent_id(self, obj: object) -> object:
            return "storage-0" if isinstance(obj, bytes) else None

    f = io.BytesIO()
    WithIds(f).dump([b"raw"])
    with pytest.raises(UnsafePickle, match="persistent id"):
        SafeUnpickler(io.BytesIO(f.getvalue())).load()
