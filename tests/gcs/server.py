"""A real GCS JSON-API server for the tests: `gcp-storage-emulator` (PyPI, the test extra) started on loopback on a free
port, in memory, as its own process (its HTTP server is single-threaded: in the test process it would share the GIL
with the readers it serves). It checks no credential, as Google's emulators do not: anonymous requests, as
google-cloud-storage's Client sends to one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from schemas.storage import StorageOptions
from tests.s3.server import free_ports, served, venv_script


def emulator_binary() -> str | None:
    return venv_script("gcp-storage-emulator")


@dataclass(frozen=True)
class GcsServer:
    endpoint: str

    def options(self) -> StorageOptions:
        return StorageOptions(endpoint_url=self.endpoint, anon=True)

    def env(self) -> dict[str, str]:
        """The standard variable a child process reads (gcsfs/core.py `_location`)."""
        return {"STORAGE_EMULATOR_HOST": self.endpoint}


@contextmanager
def gcs_server(workdir: Path, buckets: tuple[str, ...] = (), timeout_s: float = 60.0) -> Iterator[GcsServer]:
    binary = emulator_binary()
    if binary is None:
        raise FileNotFoundError("gcp-storage-emulator (pip install gcp-storage-emulator)")
    workdir.mkdir(parents=True, exist_ok=True)
    (port,) = free_ports(1)
    cmd = [binary, "start", "--host", "127.0.0.1", f"--port={port}", "--in-memory", "--quiet"]
    server = GcsServer(endpoint=f"http://127.0.0.1:{port}")
    url = f"{server.endpoint}/storage/v1/b"
    with served(cmd, workdir / "emulator.log", url, "gcp-storage-emulator", timeout_s):
        from adapters.storage.urls import filesystem

        fs, _ = filesystem("gs://", server.options())
        for b in buckets:
            fs.mkdir(b)
        fs.invalidate_cache()
        yield server
