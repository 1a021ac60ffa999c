"""open_h5: h5py on a local path as before, and on an object's file object, which closes with the h5py file. Object
reads against a real S3 server: tests/s3/test_sources.py (egodex, agibot, robomind, a real proprio_stats.h5)."""

from __future__ import annotations

from pathlib import Path

import fsspec
import h5py
import numpy as np

from adapters.storage.h5 import open_h5


def test_open_h5_reads_a_path_and_an_object_alike(tmp_path: Path) -> None:
    local = tmp_path / "episode.hdf5"
    data = np.arange(6000, dtype=np.float32).reshape(1000, 6)
    with h5py.File(local, "w") as f:
        f.create_dataset("state/joint/position", data=data)
        f.attrs["task"] = "pick"
    fsspec.filesystem("memory").pipe_file("/h5-test/episode.hdf5", local.read_bytes())
    with open_h5(local) as f:
        assert f.filename == str(local) and np.array_equal(f["state/joint/position"][:], data)
    h = open_h5("memory://h5-test/episode.hdf5")
    with h:
        assert np.array_equal(h["state/joint/position"][:], data) and h.attrs["task"] == "pick"
        assert not h.source.closed
    assert not h and h.source.closed  # the object's file object closed with the h5py file
