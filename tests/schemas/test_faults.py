"""Whose fault, on real errors: a full disk (a 64 KiB tmpfs: plain writes, pyarrow, PyAV), a refused connection,
botocore's and Ray's own classes, and those wrapped in an adapter's or Ray's error are the environment's; a corrupt
video, HDF5 or parquet file, a missing file and a plain ValueError are the data's."""

from __future__ import annotations

import errno
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import av
import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from ray.exceptions import RayTaskError, WorkerCrashedError

from adapters.base import AdapterError
from schemas.faults import ENVIRONMENT_TEXT, environment_fault
from tests.fixtures.tmpfs import fill, small_tmpfs


def _raised(call) -> BaseException:
    try:
        call()
    except BaseException as e:  # the test looks at whatever was raised
        return e
    raise AssertionError("nothing was raised")


def _full_write(disk: Path) -> None:
    with open(disk / "x.bin", "wb", buffering=0) as f:
        f.write(b"x" * 128 * 1024)


def _pyarrow_full(disk: Path) -> None:
    pq.write_table(pa.table({"a": np.random.default_rng(0).random(100_000)}), disk / "x.parquet")


def _pyav_full(disk: Path) -> None:
    rng = np.random.default_rng(0)
    with av.open(str(disk / "x.mp4"), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        for _ in range(200):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), format="rgb24")
            for p in s.encode(frame):
                c.mux(p)


def _refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: a connection to it is refused
        socket.create_connection(("127.0.0.1", port), timeout=5)


def _wrapped_by_an_adapter(disk: Path) -> None:
    try:
        _full_write(disk)
    except OSError as e:  # as adapters do: `raise self.error(f"unreadable ...: {e}")` inside the except
        raise AdapterError(f"unreadable: {e}", adapter="lerobot", file="x.parquet") from None


@pytest.fixture(scope="module")
def disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with small_tmpfs(tmp_path_factory.mktemp("full"), 64) as path:
        fill(path, 0)
        yield path


@pytest.mark.parametrize("call", [_full_write, _pyarrow_full, _pyav_full, _wrapped_by_an_adapter])
def test_a_full_disk_is_the_environment_s(call, disk: Path) -> None:
    e = _raised(lambda: call(disk))
    assert "[Errno 28]" in (environment_fault(e) or ""), repr(e)


def test_a_refused_connection_and_the_clients_classes_are_the_environment_s() -> None:
    assert environment_fault(_raised(_refused)).startswith("ConnectionRefusedError")
    assert environment_fault(EndpointConnectionError(endpoint_url="http://127.0.0.1:9")).startswith(
        "EndpointConnectionError: Could not connect to the endpoint URL"
    )
    assert environment_fault(ReadTimeoutError(endpoint_url="http://x")) is not None
    assert environment_fault(WorkerCrashedError()).startswith("WorkerCrashedError")
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    task_error = RayTaskError("discover_source", "Traceback ...", full)  # what ray.get raises for a task's error
    assert "[Errno 28]" in environment_fault(task_error)


def test_errors_of_the_data_are_not(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(os.urandom(4096))
    assert environment_fault(_raised(lambda: av.open(str(bad)))) is None  # InvalidDataError
    assert environment_fault(_raised(lambda: h5py.File(bad, "r"))) is None  # OSError, errno None
    assert environment_fault(_raised(lambda: pq.read_table(bad))) is None  # ArrowInvalid
    assert environment_fault(_raised((tmp_path / "missing").read_bytes)) is None  # FileNotFoundError
    assert environment_fault(ValueError("timestamps go backwards")) is None
    assert environment_fault(OSError(errno.EINVAL, "Invalid argument")) is None


def test_the_text_of_an_environment_error_names_it_and_a_data_error_s_does_not(disk: Path) -> None:
    """`ENVIRONMENT_TEXT`, for where only an error's text is left (a discovery flag, an older quarantine row): the
    printed forms of the errors above match; the demo corpus's and the real samples' quarantine messages do not."""
    environment = [
        str(_raised(lambda: _wrapped_by_an_adapter(disk))),
        str(_raised(lambda: _pyarrow_full(disk))),
        str(EndpointConnectionError(endpoint_url="http://127.0.0.1:9")),
        "commit failed: [Errno 28] No space left on device",
        "its worker died on each of its attempts (WorkerCrashedError: ...)",
    ]
    data = [  # tests/jobs/test_job.py's corrupt demo episodes and the real samples' quarantine reasons, as written
        "action longer than state (66 > 60 rows): corrupt episode",
        "CRC mismatch in the payload of 174732 bytes (stored 0x17e12f3a, computed 0x6f25dde7) (byte offset 165752)",
        "unreadable mp4 of video 1846d424: [Errno 1094995529] Invalid data found when processing input: '/raw/x.mp4'",
        "missing transform",
        "unreadable parquet (Parquet magic bytes not found in footer. Either the file is corrupted or this is not a"
        " parquet file.)",
        "Unable to synchronously open file (file signature not found)",
        "[Errno 2] No such file or directory: '/raw/ep/proprio_stats.h5'",
    ]
    assert [t for t in environment if not re.search(ENVIRONMENT_TEXT, t)] == []
    assert [t for t in data if re.search(ENVIRONMENT_TEXT, t)] == []


def test_reraise_environment_lets_data_errors_be_handled_and_raises_the_environments() -> None:
    import errno as _errno

    from schemas.faults import reraise_environment

    full = OSError(_errno.ENOSPC, "No space left on device")
    try:
        raise ValueError("cannot write the manifest") from full
    except ValueError as e:
        with pytest.raises(ValueError, match="cannot write the manifest"):
            reraise_environment(e)  # its cause is the disk's: raised again, for the command line's 75
    reraise_environment(FileNotFoundError(_errno.ENOENT, "no such file"))  # the data's: the handler goes on
    reraise_environment(ValueError("bad value"))
