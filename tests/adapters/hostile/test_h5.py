"""open_h5: h5py on a local path as before, and on an object's file object, which closes with the h5py file. Object
reads against a real S3 server: tests/s3/test_sources.py (egodex, agibot, robomind, a real proprio_stats.h5)."""

from __future__ import annotations

import gc
import io
import threading
from pathlib import Path

import fsspec
import h5py
import numpy as np

from adapters.hostile.h5 import _PausedCollector, open_h5
from adapters.storage.location import locate
from adapters.storage.reads import MeteredFile, ReadMeter


def test_open_h5_reads_a_path_and_an_object_alike(tmp_path: Path) -> None:
    local = tmp_path / "episode.hdf5"
    data = np.arange(6000, dtype=np.float32).reshape(1000, 6)
    with h5py.File(local, "w") as f:
        f.create_dataset("state/joint/position", data=data)
        f.attrs["task"] = "pick"
    fsspec.filesystem("memory").pipe_file("/h5-test/episode.hdf5", local.read_bytes())
    with open_h5(locate(local)) as f:
        assert f.filename == str(local) and np.array_equal(f["state/joint/position"][:], data)
    h = open_h5(locate("memory://h5-test/episode.hdf5"))
    with h:
        assert np.array_equal(h["state/joint/position"][:], data) and h.attrs["task"] == "pick"
        assert not h.source.closed
    assert not h and h.source.closed  # the object's file object closed with the h5py file


class _ServiceThreadReads(MeteredFile):
    """Reads done on a service thread, as s3fs's are on fsspec's event loop, where the cyclic collector runs when it
    is enabled (modelled by collecting there) just after an unclosed h5py file became cyclic garbage."""

    def __init__(self, inner: object, garbage: list[h5py.File]) -> None:
        super().__init__(inner, ReadMeter())
        self.garbage = garbage

    def read(self, size: int = -1) -> bytes:
        if self.garbage:  # an h5py object only the collector can free, as an unclosed file in a reference cycle
            cycle: dict[str, object] = {"file": self.garbage.pop()}
            cycle["self"] = cycle
            del cycle
        out: list[bytes] = []

        def serve() -> None:
            if gc.isenabled():
                gc.collect()
            out.append(self.inner.read(size))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        thread.join(5.0)
        if thread.is_alive():
            raise TimeoutError("the service thread is blocked (h5py issue #2019)")
        return out[0]


def test_object_reads_pause_the_collector_so_h5py_cannot_deadlock(tmp_path: Path) -> None:
    """h5py holds its lock while it reads a file object, and freeing an h5py object needs that lock: a collection on
    the thread that serves the read must not run (adapters.hostile.h5, seen hanging a full test run)."""
    data = np.arange(600, dtype=np.float32).reshape(100, 6)
    for name in ("a.h5", "b.h5"):
        with h5py.File(tmp_path / name, "w") as f:
            f.create_dataset("x", data=data)
    garbage = [h5py.File(tmp_path / "b.h5", "r")]
    src = _ServiceThreadReads(io.BytesIO((tmp_path / "a.h5").read_bytes()), garbage)
    enabled = gc.isenabled()
    with h5py.File(_PausedCollector(src), "r") as f:
        assert np.array_equal(f["x"][:], data)
    assert not garbage and gc.isenabled() == enabled
    gc.collect()  # the unclosed file is freed once h5py is no longer waiting on a read
