"""HDF5 on a path (`adapters/storage/h5.py`): `open_h5` of a local path, a `file://` URL or a Path gives what
`h5py.File(path, "r")` gives (datasets, attributes, values), on a written file and on the real AgiBot
`proprio_stats.h5` where the shared samples are present; bytes that are not HDF5 raise h5py's OSError. Objects in a
store are read through a seekable file object: against a real S3 server, tests/s3/test_sources.py."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.storage.h5 import open_h5


def _tree(f: h5py.File) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def _same_as_h5py(path: Path) -> None:
    with h5py.File(path, "r") as ref:
        want, attrs = _tree(ref), dict(ref.attrs)
    for where in (path, str(path), f"file://{path}"):
        with open_h5(where) as f:
            got = _tree(f)
            assert got.keys() == want.keys() and len(got) > 0 and dict(f.attrs) == attrs
            for k in want:
                np.testing.assert_array_equal(got[k], want[k], err_msg=k)
            assert f.mode == "r"


def test_a_written_file(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f.create_dataset("state/joint/position", data=np.arange(42.0).reshape(3, 14))
        f.create_dataset("timestamp", data=np.array([1, 2, 3], np.int64))
        f.attrs["sim"] = False
    _same_as_h5py(tmp_path / "f.h5")


def test_the_real_proprio_stats(shared_realdata: Path) -> None:
    path = shared_realdata / "agibot_proprio_stats_real" / "proprio_stats.h5"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    _same_as_h5py(path)


def test_bytes_that_are_not_hdf5(tmp_path: Path) -> None:
    (tmp_path / "bad.h5").write_bytes(b"not an hdf5 file" * 100)
    with pytest.raises(OSError):
        open_h5(tmp_path / "bad.h5")
