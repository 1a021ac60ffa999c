"""A real GCS JSON-API server for the tests: `gcp-storage-emulator` (PyPI, the test extra) started on loopback on a free
port, in memory, as its own process (its HTTP server is single-threaded: in the test process it would share the GIL
with the readers it serves). It checks no credential, as Google's emulators do not: anonymous requests, as
google-cloud-storage's Client sends to one."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from schemas.storage import StorageOptions


def emulator_binary() -> str | None:
    """The wheel's console script beside the venv's python; PATH is the fallback."""
    beside = Path(sys.executable).parent / "gcp-storage-emulator"
    return str(beside) if beside.exists() else shutil.which("gcp-storage-emulator")


@dataclass(frozen=True)
class GcsServer:
    endpoint: str

    def options(self) -> StorageOptions:
        return StorageOptions(endpoint_url=self.endpoint, anon=True)

    def env(self) -> dict[str, str]:
        """The standard variable a child process reads (gcsfs/core.py `_location`)."""
        return {"STORAGE_EMULATOR_HOST": self.endpoint}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(endpoint: str) -> bool:
    try:
        urllib.request.urlopen(f"{endpoint}/storage/v1/b", timeout=1)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


@contextmanager
def gcs_server(workdir: Path, buckets: tuple[str, ...] = (), timeout_s: float = 60.0) -> Iterator[GcsServer]:
    binary = emulator_binary()
    if binary is None:
        raise FileNotFoundError("gcp-storage-emulator (pip install gcp-storage-emulator)")
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = open(workdir / "emulator.log", "wb")  # noqa: SIM115 (held by the server process until it stops)
    cmd = [binary, "start", "--host", "127.0.0.1", f"--port={port}", "--in-memory", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = GcsServer(endpoint=f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + timeout_s
        while not _ready(server.endpoint):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (workdir / "emulator.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"gcp-storage-emulator did not serve at {server.endpoint}: {tail}")
            time.sleep(0.2)
        from adapters.storage.urls import filesystem

        fs, _ = filesystem("gs://", server.options())
        for b in buckets:
            fs.mkdir(b)
        fs.invalidate_cache()
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
